package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// maxInFlight bounds the DNS queries one Resolve call has in flight at
// once; the rest wait for a free slot.
const maxInFlight = 8

// ednsSize is the UDP payload size advertised with EDNS(0) (RFC 6891
// §6.2.5): large enough for a few SRV records, small enough not to
// fragment (the 2020 DNS flag day value). Larger answers come truncated
// and are asked again over TCP.
const ednsSize = 1232

// querier runs the DNS side of one Resolve call; Resolve fills it from the
// Resolver's fields with the defaults applied.
type querier struct {
	server     string // "host:port"
	net        string // "udp" or "tcp"
	timeout    time.Duration
	randn      func(int) int
	preferIPv6 bool
}

// source is where targets may come from: an SRV record set, or a host name
// whose A and AAAA records are used on a known port.
type source struct {
	transport string
	srv       string // SRV owner name, fully qualified; "" for a direct address lookup
	host      string // srv == "": the name to look up, fully qualified
	port      int    // srv == "": the port to use
}

// server returns the "host:port" of the DNS server to ask.
func (r *Resolver) server() (string, error) {
	if s := r.Server; s != "" {
		if _, _, err := net.SplitHostPort(s); err != nil {
			// A bare address: the DNS port.
			return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "53"), nil
		}
		return s, nil
	}
	path := r.resolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return "", fmt.Errorf("resolve: finding a DNS server: %w; set Resolver.Server", err)
	}
	if len(cfg.Servers) == 0 {
		return "", fmt.Errorf("resolve: %s lists no nameserver; add one or set Resolver.Server", path)
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

// naptr looks up the NAPTR records of name (RFC 3263 §4.1) and returns the
// sources they point to, in Order then Preference (RFC 3403 §4.1). It
// keeps SIP+D2U, SIP+D2T and SIPS+D2T (only SIPS+D2T when secure) with the
// "s" flag (an SRV lookup of the replacement) or the "a" flag (an address
// lookup of the replacement, RFC 3403 §4.1 FLAGS) and an empty regexp, as
// RFC 3263 §4.1 has them; it discards every other record. No records,
// NXDOMAIN, or no record kept: an empty list, and RFC 3263 falls through to
// SRV.
//
// Unlike RFC 3403 §4.1, records of a higher Order are kept after those of
// a lower one: RFC 3263 domains use Order to rank transports (§4.1's
// example: 50 for TLS, 90 for TCP, 100 for UDP), and the list is a
// failover list, so the first target is still the one RFC 3403 would pick.
func (q *querier) naptr(ctx context.Context, name string, secure bool) ([]source, error) {
	rrs, err := q.query(ctx, name, dns.TypeNAPTR)
	if errors.Is(err, ErrNoSuchDomain) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []*dns.NAPTR
	for _, rr := range rrs {
		if n, ok := rr.(*dns.NAPTR); ok {
			recs = append(recs, n)
		}
	}
	sortNAPTR(recs)
	var out []source
	for _, n := range recs {
		tr, ok := naptrTransport(n.Service, secure)
		if !ok || n.Regexp != "" || n.Replacement == "" || n.Replacement == "." {
			continue
		}
		switch strings.ToLower(n.Flags) {
		case "s":
			out = append(out, source{transport: tr, srv: dns.Fqdn(n.Replacement)})
		case "a":
			out = append(out, source{transport: tr, host: dns.Fqdn(n.Replacement), port: defaultPort(tr)})
		}
	}
	return out, nil
}

// naptrTransport maps a NAPTR service field to the transport it stands for
// (RFC 3263 §4.1, §9), and reports whether the client uses it. A sips URI
// keeps only SIPS services; a sip URI keeps SIPS+D2T too, as §4.1 advises
// a client that supports TLS.
func naptrTransport(service string, secure bool) (string, bool) {
	switch strings.ToUpper(service) {
	case "SIPS+D2T":
		return tls, true
	case "SIP+D2T":
		return tcp, !secure
	case "SIP+D2U":
		return udp, !secure
	}
	return "", false
}

// hostPort is one SRV record's target (or one direct source) waiting for
// its addresses.
type hostPort struct {
	transport string
	host      string // fully qualified
	port      int
}

// expand turns sources into targets, keeping their order: each SRV record
// set is ordered as RFC 2782 says and each record's target looked up; a
// direct source's host is looked up as it is. found reports whether any
// SRV record existed ("." included), which ends RFC 3263's fall-through
// even when it gives no target.
//
// When there are targets, err is nil, whatever else failed. When there are
// none, err says why, or is nil when no record existed at all.
func (q *querier) expand(ctx context.Context, sources []source) (targets []Target, found bool, err error) {
	// The SRV queries, together.
	srvRRs := make([][]dns.RR, len(sources))
	srvErrs := make([]error, len(sources))
	q.each(ctx, len(sources), func(i int) {
		if s := sources[i]; s.srv != "" {
			srvRRs[i], srvErrs[i] = q.query(ctx, s.srv, dns.TypeSRV)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, false, ctxError(ctx, srvErrs)
	}

	// Order each SRV record set (RFC 2782, "Usage rules"), in this
	// goroutine, so that Rand sees a fixed sequence of calls.
	var hps []hostPort
	var errs []error
	for i, s := range sources {
		if s.srv == "" {
			hps = append(hps, hostPort{s.transport, s.host, s.port})
			continue
		}
		if err := srvErrs[i]; err != nil {
			if !errors.Is(err, ErrNoSuchDomain) {
				errs = append(errs, err)
			}
			continue
		}
		var recs []*dns.SRV
		for _, rr := range srvRRs[i] {
			if srv, ok := rr.(*dns.SRV); ok {
				recs = append(recs, srv)
			}
		}
		if len(recs) == 0 {
			continue
		}
		found = true
		// RFC 2782: "If there is precisely one SRV RR, and its Target
		// is "." (the root domain), abort."
		if len(recs) == 1 && recs[0].Target == "." {
			errs = append(errs, &notFoundError{
				msg:  fmt.Sprintf(`%s says the service is not available (SRV target ".")`, trimDot(s.srv)),
				kind: ErrUnavailable,
			})
			continue
		}
		for _, rr := range orderSRV(recs, q.randn) {
			if rr.Target == "." {
				continue // meaningless beside other records
			}
			hps = append(hps, hostPort{s.transport, rr.Target, int(rr.Port)})
		}
	}

	// The A and AAAA queries of each distinct host, together.
	hostIndex := make(map[string]int)
	var hosts []string
	for _, hp := range hps {
		key := strings.ToLower(hp.host)
		if _, ok := hostIndex[key]; !ok {
			hostIndex[key] = len(hosts)
			hosts = append(hosts, hp.host)
		}
	}
	qtypes := [2]uint16{dns.TypeA, dns.TypeAAAA}
	if q.preferIPv6 {
		qtypes[0], qtypes[1] = qtypes[1], qtypes[0]
	}
	addrRRs := make([][]dns.RR, 2*len(hosts))
	addrErrs := make([]error, 2*len(hosts))
	q.each(ctx, 2*len(hosts), func(i int) {
		addrRRs[i], addrErrs[i] = q.query(ctx, hosts[i/2], qtypes[i%2])
	})
	if err := ctx.Err(); err != nil {
		return nil, false, ctxError(ctx, addrErrs)
	}
	addrs := make([][]netip.Addr, len(hosts))
	for h, host := range hosts {
		addrs[h] = append(addrsOf(addrRRs[2*h]), addrsOf(addrRRs[2*h+1])...)
		if len(addrs[h]) == 0 {
			errs = append(errs, noAddressError(host, addrErrs[2*h], addrErrs[2*h+1]))
		}
	}

	// The targets, in order, each (transport, address) once.
	type key struct {
		transport string
		addr      netip.AddrPort
	}
	seen := make(map[key]bool)
	for _, hp := range hps {
		for _, a := range addrs[hostIndex[strings.ToLower(hp.host)]] {
			k := key{hp.transport, netip.AddrPortFrom(a, uint16(hp.port))}
			if seen[k] {
				continue
			}
			seen[k] = true
			targets = append(targets, Target{Transport: hp.transport, Addr: k.addr, Host: trimDot(hp.host)})
		}
	}
	if len(targets) > 0 {
		return targets, found, nil
	}
	return nil, found, joinErrors(errs)
}

// noAddressError says why host has no address, given the errors of its
// two address queries.
func noAddressError(host string, e1, e2 error) error {
	var hard []error
	for _, e := range []error{e1, e2} {
		if e != nil && !errors.Is(e, ErrNoSuchDomain) {
			hard = append(hard, e)
		}
	}
	switch {
	case len(hard) > 0:
		return joinErrors(hard)
	case e1 != nil && e2 != nil:
		return &notFoundError{msg: trimDot(host) + " does not exist (NXDOMAIN)", kind: ErrNoSuchDomain}
	}
	return &notFoundError{msg: "no A or AAAA records for " + trimDot(host), kind: ErrNoRecords}
}

// addrsOf returns the addresses of the A and AAAA records among rrs, in
// their order.
func addrsOf(rrs []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A.To4()
		case *dns.AAAA:
			ip = rr.AAAA.To16()
		default:
			continue
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a)
		}
	}
	return out
}

// query asks the server for the records of type qtype at name and returns
// those of the answer section that have that type (following a CNAME is
// the server's job). NXDOMAIN is an error wrapping ErrNoSuchDomain; an
// empty answer is no records and no error.
func (q *querier) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype) // recursion desired
	m.SetEdns0(ednsSize, false)
	in, err := q.exchange(ctx, m, q.net)
	if err == nil && in.Truncated && q.net != "tcp" {
		// RFC 2181 §9: a truncated answer is asked again over TCP.
		in, err = q.exchange(ctx, m, "tcp")
	}
	if err != nil {
		return nil, err
	}
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, &notFoundError{msg: trimDot(name) + " does not exist (NXDOMAIN)", kind: ErrNoSuchDomain}
	default:
		return nil, fmt.Errorf("%s query for %s to %s: server answered %s",
			dns.TypeToString[qtype], trimDot(name), q.server, dns.RcodeToString[in.Rcode])
	}
	var out []dns.RR
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out, nil
}

// exchange sends m to the server over network and waits for the answer,
// at most q.timeout and never past ctx. Cancelling ctx ends the wait at
// once (the connection is closed under the read).
func (q *querier) exchange(ctx context.Context, m *dns.Msg, network string) (*dns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: q.timeout}
	conn, err := c.DialContext(qctx, q.server)
	if err == nil {
		defer conn.Close()
		stop := context.AfterFunc(qctx, func() { conn.Close() })
		defer stop()
		var in *dns.Msg
		in, _, err = c.ExchangeWithConnContext(qctx, m, conn)
		if err == nil {
			return in, nil
		}
	}
	what := fmt.Sprintf("%s query for %s to %s over %s", dns.TypeToString[m.Question[0].Qtype],
		trimDot(m.Question[0].Name), q.server, network)
	switch {
	case ctx.Err() != nil:
		// The caller's context: its error, not the closed connection's.
		return nil, fmt.Errorf("%s: %w", what, ctx.Err())
	case qctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("%s: no answer within %v: %w", what, q.timeout, context.DeadlineExceeded)
	}
	return nil, fmt.Errorf("%s: %w", what, err)
}

// each calls f(0), …, f(n-1), at most maxInFlight at a time, and returns
// when all have returned. Once ctx is done it starts no more calls.
func (q *querier) each(ctx context.Context, n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, maxInFlight) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// notFoundError is an error for records that do not exist; it matches its
// kind (ErrNoSuchDomain, ErrNoRecords, ErrUnavailable) with errors.Is.
type notFoundError struct {
	msg  string
	kind error
}

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return e.kind }

// joinErrors is errors.Join on one line: messages joined by "; ",
// duplicates dropped. Nil for no errors; the error itself for one.
func joinErrors(errs []error) error {
	var kept []error
	seen := make(map[string]bool)
	for _, e := range errs {
		if e != nil && !seen[e.Error()] {
			seen[e.Error()] = true
			kept = append(kept, e)
		}
	}
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	return multiError(kept)
}

// multiError is several errors that happened together.
type multiError []error

func (m multiError) Error() string {
	var b strings.Builder
	for i, e := range m {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (m multiError) Unwrap() []error { return m }

// ctxError returns the first of errs that wraps ctx's error (it names the
// query that was cut short), or ctx's error itself. ctx must be done.
func ctxError(ctx context.Context, errs []error) error {
	for _, e := range errs {
		if errors.Is(e, ctx.Err()) {
			return e
		}
	}
	return ctx.Err()
}

// trimDot drops a fully qualified name's final dot.
func trimDot(name string) string { return strings.TrimSuffix(name, ".") }
