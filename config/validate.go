package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-sip/switchboard/sip/digest"
)

// Validate checks c as Load checks a file and returns an Errors listing
// every problem, or nil. It does not modify c: it accepts domains, log
// level and format in any case, which Load and Parse would lower-case.
// Its errors carry no file or line.
func (c *Config) Validate() error {
	ck := &checker{}
	ck.check(c)
	if len(ck.errs) == 0 {
		return nil
	}
	return ck.errs
}

// A checker validates a decoded Config. lines and bad come from the
// decoder (both nil for Validate): where each field was set, and which
// fields already have a problem reported.
type checker struct {
	file  string
	lines map[string]int
	bad   map[string]bool
	errs  Errors
}

// errorf reports a problem with the field at path, on the line of the field
// or of its nearest ancestor that the file sets, unless the decoder already
// reported a problem there, in a field inside it or in a section holding
// it.
func (ck *checker) errorf(path, format string, args ...any) {
	for p := range ck.bad {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") ||
			strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return
		}
	}
	ck.errs = append(ck.errs, &Error{File: ck.file, Line: ck.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of path or of its nearest ancestor in the file, or 0.
func (ck *checker) line(path string) int {
	for path != "" {
		if l, ok := ck.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// where describes where the value of path came from, for a message about
// another field: ", line 4", ", the default" or nothing when unknown.
func (ck *checker) where(path string) string {
	if ck.lines == nil {
		return ""
	}
	if l, ok := ck.lines[path]; ok {
		return fmt.Sprintf(", line %d", l)
	}
	return ", the default"
}

func (ck *checker) check(c *Config) {
	ck.checkListen(c)
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		set, unset := "tls.cert", "tls.key"
		if c.TLS.Cert == "" {
			set, unset = unset, set
		}
		ck.errorf(set, "set without %s; set both, or neither to use a self-signed development certificate", unset)
	}
	if c.DataDir == "" {
		ck.errorf("data_dir", "empty; name a directory, or remove data_dir for ./%s", DefaultDataDir)
	}
	for i, d := range c.Domains {
		p := fmt.Sprintf("domains[%d]", i)
		switch {
		case d == "":
			ck.errorf(p, "empty entry; fill it in or remove it")
		case normalizeDomain(d) == "":
			ck.errorf(p, "%q is not a host name or IP address; write a bare domain such as example.com", d)
		}
	}
	ck.checkRegistrar(c.Registrar)
	if d := time.Duration(c.Auth.NonceLifetime); d < time.Second {
		ck.errorf("auth.nonce_lifetime", "%s is shorter than 1s; set a duration such as 5m", c.Auth.NonceLifetime)
	}
	for i, a := range c.Auth.Algorithms {
		p := fmt.Sprintf("auth.algorithms[%d]", i)
		if a == "" {
			ck.errorf(p, "empty entry; fill it in or remove it")
		} else if _, ok := digest.ParseAlgorithm(string(a)); !ok {
			ck.errorf(p, "%q is not a digest algorithm this server implements; use MD5 or SHA-256", a)
		}
	}
	ck.checkProxy(c.Proxy)
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		ck.errorf("log.level", "%q is not a log level; use debug, info, warn or error", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		ck.errorf("log.format", "%q is not a log format; use text or json", c.Log.Format)
	}
}

func (ck *checker) checkProxy(p Proxy) {
	for i, t := range p.Trusted {
		path := fmt.Sprintf("proxy.trusted[%d]", i)
		if _, err := ParsePrefix(t); err != nil {
			ck.errorf(path, "%q is not an IP address or CIDR prefix; write one such as 192.0.2.10 or 198.51.100.0/24", t)
		}
	}
	for i, d := range p.Redirect {
		path := fmt.Sprintf("proxy.redirect[%d]", i)
		if normalizeDomain(d) == "" {
			ck.errorf(path, "%q is not a host name or IP address; write a bare domain such as example.com", d)
		}
	}
	if d := time.Duration(p.TimerC); d < time.Second {
		ck.errorf("proxy.timer_c", "%s is shorter than 1s; set a duration such as 3m1s", p.TimerC)
	}
}

// ParsePrefix reads a proxy.trusted entry: a CIDR prefix, or an IP address
// standing for itself alone.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (ck *checker) checkRegistrar(r Registrar) {
	const (
		minP = "registrar.min_expires"
		defP = "registrar.default_expires"
		maxP = "registrar.max_expires"
	)
	if r.MinExpires < 1 {
		ck.errorf(minP, "%d is below 1; set a number of seconds ≥ 1", r.MinExpires)
	}
	if r.MaxExpires > math.MaxInt32 {
		ck.errorf(maxP, "%d is above %d; set a number of seconds ≤ %d", r.MaxExpires, math.MaxInt32, math.MaxInt32)
	}
	ck.order(minP, r.MinExpires, defP, r.DefaultExpires)
	ck.order(defP, r.DefaultExpires, maxP, r.MaxExpires)
}

// order reports lo > hi on the field the file set, hi when it set both or
// neither.
func (ck *checker) order(loP string, lo int, hiP string, hi int) {
	if lo <= hi {
		return
	}
	loKey, hiKey := loP[strings.LastIndex(loP, ".")+1:], hiP[strings.LastIndex(hiP, ".")+1:]
	_, loSet := ck.lines[loP]
	_, hiSet := ck.lines[hiP]
	if hiSet || !loSet {
		ck.errorf(hiP, "%d is below %s (%d%s); set %s ≥ %d or lower %s", hi, loP, lo, ck.where(loP), hiKey, lo, loKey)
		return
	}
	ck.errorf(loP, "%d is above %s (%d%s); set %s ≤ %d or raise %s", lo, hiP, hi, ck.where(hiP), loKey, hi, hiKey)
}

// A listenAddr is a valid listen address.
type listenAddr struct {
	path string     // listen.udp[0]
	text string     // as written
	tcp  bool       // a TCP socket (tcp, tls, ws, wss)
	ip   netip.Addr // the address bound; invalid for an empty host
	port int
}

// covers reports whether binding a would take the address b needs: both
// are the same kind of socket on the same port (not 0) and a's address is
// b's or a wildcard that includes b's. An empty host and [::] take IPv4
// too, as Go's net.Listen("tcp") and ListenUDP("udp") make them dual-stack.
func (a listenAddr) covers(b listenAddr) bool {
	if a.tcp != b.tcp || a.port != b.port || a.port == 0 {
		return false
	}
	switch a.reach() {
	case 2:
		return true
	case 1:
		return b.reach() > 0 || b.ip.Unmap().Is4()
	}
	return a.ip == b.ip
}

// reach is 2 for an address that takes every address (an empty host or
// [::]), 1 for 0.0.0.0 and 0 for one address.
func (a listenAddr) reach() int {
	switch {
	case !a.ip.IsValid() || a.ip == netip.IPv6Unspecified():
		return 2
	case a.ip == netip.IPv4Unspecified():
		return 1
	}
	return 0
}

func (ck *checker) checkListen(c *Config) {
	var taken []listenAddr
	total := 0
	for _, l := range c.listeners() {
		total += len(l.addrs)
		example := "0.0.0.0:5060"
		if l.name == "tls" || l.name == "wss" {
			example = "0.0.0.0:5061"
		}
		for i, text := range l.addrs {
			p := fmt.Sprintf("listen.%s[%d]", l.name, i)
			a, msg := parseListen(text, example)
			if msg != "" {
				ck.errorf(p, "%s", msg)
				continue
			}
			a.path, a.tcp = p, l.name != "udp"
			for _, t := range taken {
				if !t.covers(a) && !a.covers(t) {
					continue
				}
				kind := "UDP"
				if a.tcp {
					kind = "TCP"
				}
				line := ""
				if l := ck.line(t.path); l > 0 {
					line = fmt.Sprintf(", line %d", l)
				}
				ck.errorf(p, "%s clashes with %s (%s%s): %s; change a port or remove one",
					text, t.path, t.text, line, clash(a, t, kind))
				break
			}
			taken = append(taken, a)
		}
	}
	if total == 0 {
		ck.errorf("listen", "no addresses to listen on; list at least one under udp, tcp, tls, ws or wss, or remove listen for the defaults")
	}
}

// clash says why binding a and b would fail.
func clash(a, b listenAddr, kind string) string {
	if a.ip == b.ip {
		return fmt.Sprintf("both take %s port %d on the same address", kind, a.port)
	}
	wide := a
	if b.reach() > a.reach() {
		wide = b
	}
	every := "every address, IPv4 and IPv6"
	if wide.reach() == 1 {
		every = "every IPv4 address"
	}
	return fmt.Sprintf("%s takes %s port %d on %s", wide.text, kind, a.port, every)
}

// parseListen parses a listen address, or says what is wrong with it and how
// to write it, with example as a model.
func parseListen(s, example string) (listenAddr, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		switch {
		case s == "":
			return listenAddr{}, "empty entry; write host:port such as " + example
		case strings.Contains(err.Error(), "missing port"):
			return listenAddr{}, fmt.Sprintf("%q has no port; write host:port such as %s", s, example)
		case strings.Count(s, ":") > 1 && !strings.Contains(s, "["):
			return listenAddr{}, fmt.Sprintf("%q is ambiguous; write IPv6 addresses in brackets such as [::1]:5060", s)
		}
		return listenAddr{}, fmt.Sprintf("%q is not host:port; write one such as %s", s, example)
	}
	a := listenAddr{text: s}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return listenAddr{}, fmt.Sprintf("%q: port %q is not a number from 0 to 65535; write host:port such as %s", s, port, example)
	}
	a.port = int(n)
	switch {
	case host == "":
	case strings.EqualFold(host, "localhost"):
		// net.Listen binds localhost's IPv4 address when it has one.
		a.ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return listenAddr{}, fmt.Sprintf("%q: %s is not an IP address; listen on an IP address, localhost or an empty host (every address), such as %s", s, host, example)
		}
		a.ip = ip
	}
	return a, ""
}

// normalizeDomain returns a host name lower-cased without a trailing dot,
// or an IP address (in brackets or not) in canonical form without
// brackets; "" when d is neither.
func normalizeDomain(d string) string {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(d, "["), "]")); err == nil && ip.Zone() == "" {
		if strings.HasPrefix(d, "[") != strings.HasSuffix(d, "]") || strings.HasPrefix(d, "[") && !ip.Is6() {
			return ""
		}
		return ip.String()
	}
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if !isHostname(d) {
		return ""
	}
	return d
}

// isHostname reports whether s (lower-case, no trailing dot) is a host name
// in the sense of RFC 3261 §25.1: labels of letters, digits and inner
// hyphens, the last starting with a letter, at most 253 bytes.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for i, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
		if i == len(labels)-1 && !('a' <= l[0] && l[0] <= 'z') {
			return false
		}
	}
	return true
}

// reloadable reports whether a running server applies changes under the
// top-level key on SIGHUP. Every other key needs a restart, so that a key
// added later is safe until someone decides otherwise.
func reloadable(key string) bool {
	switch key {
	case "domains", "registrar", "auth", "proxy", "log":
		return true
	}
	return false
}

// RestartNeeded returns the paths of the fields that differ between c (the
// running configuration) and next (a reloaded one) and that a running
// server cannot change: listen.udp, listen.tcp, listen.tls, listen.ws,
// listen.wss, tls.cert, tls.key and data_dir, in that order. The server
// applies the other differences (domains, registrar.*, auth.*, proxy.*, log.*) on
// SIGHUP, and keeps the old values of the fields listed until it restarts.
// A nil or empty result means next can be applied whole. Lists compare
// entry by entry, in order; File is not compared.
func (c *Config) RestartNeeded(next *Config) []string {
	var out []string
	diff("", reflect.ValueOf(c).Elem(), reflect.ValueOf(next).Elem(), func(path string) {
		top, _, _ := strings.Cut(path, ".")
		if !reloadable(top) {
			out = append(out, path)
		}
	})
	return out
}

// diff calls report with the path of every leaf field that differs between
// structs a and b.
func diff(path string, a, b reflect.Value, report func(string)) {
	for _, f := range fieldsOf(a.Type()) {
		p := join(path, f.key)
		fa, fb := a.Field(f.index), b.Field(f.index)
		switch fa.Kind() {
		case reflect.Struct:
			diff(p, fa, fb, report)
		case reflect.Slice:
			// Entry by entry; nil and empty are equal.
			same := fa.Len() == fb.Len()
			for i := 0; same && i < fa.Len(); i++ {
				same = fa.Index(i).Equal(fb.Index(i))
			}
			if !same {
				report(p)
			}
		default:
			if !fa.Equal(fb) {
				report(p)
			}
		}
	}
}
