package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard-sip/switchboard/sip"
)

// Transport names in a Target, spelled as transport.Flow.Proto and a Via
// sent-protocol spell them.
const (
	udp = "UDP"
	tcp = "TCP"
	tls = "TLS"
	ws  = "WS"
	wss = "WSS"
)

// Errors that resolution errors wrap; test for them with errors.Is. They are
// never returned bare, always inside an error that begins "resolve: " and
// names the host.
var (
	// ErrNoSuchDomain reports NXDOMAIN: the name does not exist in DNS.
	ErrNoSuchDomain = errors.New("no such domain (NXDOMAIN)")
	// ErrNoRecords reports a name that exists but has none of the records
	// resolution needs (no SIP NAPTR or SRV records and no A or AAAA).
	ErrNoRecords = errors.New("no records")
	// ErrUnavailable reports an SRV record set that is a single "."
	// target: the domain says the service is decidedly not available
	// (RFC 2782, "Usage rules").
	ErrUnavailable = errors.New(`service not available (SRV target ".")`)
)

// DefaultTimeout bounds each DNS query when Resolver.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Target is one place to send a request to: what RFC 3263 §4 resolves a
// URI into.
type Target struct {
	// Transport is "UDP", "TCP", "TLS", "WS" or "WSS", spelled as
	// transport.Flow.Proto spells it.
	Transport string
	// Addr is the IP address and port to send to.
	Addr netip.AddrPort
	// Host is the name whose A or AAAA record gave Addr (an SRV target, a
	// NAPTR replacement, or the URI's host), or the IP literal the URI
	// held. It is for logs and traces.
	Host string
	// ServerName is the name a TLS or WSS connection verifies the
	// server's certificate against and sends as SNI: the TARGET that was
	// resolved (the URI's maddr or host, without a trailing dot), never an
	// SRV target (RFC 3263 §4.1, RFC 5922 §4). An IP literal when the URI
	// held one.
	ServerName string
}

// String returns "TLS 192.0.2.1:5061 (server1.example.com)".
func (t Target) String() string {
	s := t.Transport + " " + t.Addr.String()
	if t.Host != "" && t.Host != t.Addr.Addr().String() {
		s += " (" + t.Host + ")"
	}
	return s
}

// Resolver resolves SIP URIs to targets (RFC 3263 §4). The zero value
// asks the first nameserver of /etc/resolv.conf over UDP.
//
// A Resolver holds no state between calls and is safe for concurrent use
// when its Rand is. It has no cache.
type Resolver struct {
	// Server is the DNS server to ask, "host:port" (an IPv6 host in
	// brackets). Empty means the first nameserver of /etc/resolv.conf on
	// port 53, read again on every call.
	Server string
	// Net is "udp" (or empty) or "tcp": how queries go to Server. An
	// answer that comes back truncated over UDP is asked again over TCP
	// (RFC 2782, "Usage rules", and RFC 2181 §9).
	Net string
	// Timeout bounds each DNS query, dial to answer; zero means
	// DefaultTimeout. A query is sent once, never retried. The context
	// given to Resolve bounds the whole resolution.
	Timeout time.Duration
	// Rand returns a uniform random int in [0, n), n > 0; it orders SRV
	// records of equal priority by weight (RFC 2782). Nil means
	// math/rand/v2's IntN. Resolve calls it from the calling goroutine
	// only, in a fixed order for a given set of DNS answers.
	Rand func(n int) int
	// PreferIPv6 puts the AAAA addresses of a host before its A
	// addresses. By default A comes first: a SIP client finds out that a
	// UDP target is unreachable only when Timer B or F fires (32 s), so
	// the family more likely to work goes first. Within each family the
	// order the DNS server gave is kept.
	PreferIPv6 bool

	// resolvConf replaces /etc/resolv.conf in tests.
	resolvConf string
}

// ResolveURI resolves a sip or sips URI (RFC 3263 §4): TARGET is its maddr
// parameter when present, else its host; the port, the transport parameter
// and the scheme are taken from it. See Resolve.
func (r *Resolver) ResolveURI(ctx context.Context, u *sip.URI) ([]Target, error) {
	if !u.IsSIP() {
		return nil, fmt.Errorf("resolve: %s URI is not sip or sips", u.Scheme)
	}
	host := u.Host
	if maddr := u.Params.Value("maddr"); maddr != "" {
		host = maddr // RFC 3263 §4: TARGET
	}
	return r.Resolve(ctx, host, u.Port, u.IsSecure(), u.Params.Value("transport"))
}

// Resolve returns the targets to try, in order, for a request to a SIP URI
// whose TARGET (maddr, else host) is host: an IP address (IPv6 with or
// without brackets) or a domain name. port is the URI's port, 0 when it has
// none; secure is true for a sips URI; transport is the URI's transport
// parameter, "" when it has none. Transport names are matched without
// regard to case: "udp", "tcp", "tls" (a sip URI asking for TLS, as
// RFC 3261 once allowed), "ws" and "wss" (RFC 7118; "ws" in a sips URI is
// WSS). A sips URI may not ask for udp.
//
// The returned list is never empty when err is nil. The package comment
// gives the rules, the order and the errors.
func (r *Resolver) Resolve(ctx context.Context, host string, port int, secure bool, transport string) ([]Target, error) {
	tr, err := pickTransport(transport, secure)
	if err != nil {
		return nil, err
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("resolve: port %d out of range", port)
	}
	switch r.Net {
	case "", "udp", "tcp":
	default:
		return nil, fmt.Errorf("resolve: Resolver.Net is %q; use udp or tcp", r.Net)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return nil, errors.New("resolve: empty host")
	}

	// RFC 3263 §4.1, §4.2: a numeric TARGET needs no DNS.
	if ip, err := netip.ParseAddr(host); err == nil {
		if tr == "" {
			tr = defaultTransport(secure)
		}
		if port == 0 {
			port = defaultPort(tr)
		}
		return []Target{{Transport: tr, Addr: netip.AddrPortFrom(ip, uint16(port)), Host: host, ServerName: host}}, nil
	}

	domain := strings.TrimSuffix(host, ".")
	if !isHostname(domain) {
		return nil, fmt.Errorf("resolve: %q is neither an IP address nor a domain name", host)
	}
	server, err := r.server()
	if err != nil {
		return nil, err
	}
	q := &querier{
		server:     server,
		net:        r.Net,
		timeout:    r.Timeout,
		randn:      r.Rand,
		preferIPv6: r.PreferIPv6,
	}
	if q.net == "" {
		q.net = "udp"
	}
	if q.timeout <= 0 {
		q.timeout = DefaultTimeout
	}
	if q.randn == nil {
		q.randn = rand.IntN
	}

	targets, err := q.resolveName(ctx, dns.Fqdn(domain), port, secure, tr)
	if err == nil && len(targets) == 0 {
		err = ErrNoRecords // cannot happen; the contract forbids an empty list
	}
	if err != nil {
		return nil, fmt.Errorf("resolve: no SIP service for %s: %w", domain, err)
	}
	for i := range targets {
		targets[i].ServerName = domain
	}
	return targets, nil
}

// resolveName runs the steps of RFC 3263 §4.1 and §4.2 for a domain name
// (fully qualified). tr is the transport the URI asked for, or "".
func (q *querier) resolveName(ctx context.Context, name string, port int, secure bool, tr string) ([]Target, error) {
	// RFC 3263 §4.2: an explicit port means A/AAAA, never SRV.
	if port != 0 {
		if tr == "" {
			tr = defaultTransport(secure) // RFC 3263 §4.1
		}
		t, _, err := q.expand(ctx, []source{{transport: tr, host: name, port: port}})
		return t, err
	}

	// The steps of RFC 3263, each tried when the one before found no
	// records.
	type step struct {
		what    string // the records it looks for, for the error
		sources []source
	}
	var steps []step
	switch tr {
	case ws, wss:
		// RFC 7118 §5.5 defines no SRV name for WebSocket; its default
		// ports apply.
	case "":
		// RFC 3263 §4.1: NAPTR first.
		naptr, err := q.naptr(ctx, name, secure)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step{"SIP NAPTR", naptr})
		// RFC 3263 §4.1: no NAPTR records, so SRV for each transport
		// the client supports, with "_sips" for TLS.
		if secure {
			steps = append(steps, step{"SRV", []source{{transport: tls, srv: "_sips._tcp." + name}}})
		} else {
			steps = append(steps, step{"SRV", []source{
				{transport: udp, srv: "_sip._udp." + name},
				{transport: tcp, srv: "_sip._tcp." + name},
				{transport: tls, srv: "_sips._tcp." + name},
			}})
		}
		// RFC 3263 §4.1: no SRV records: UDP for sip, TCP (TLS) for
		// sips.
		tr = defaultTransport(secure)
	default:
		// RFC 3263 §4.2: SRV for the transport the URI names.
		steps = append(steps, step{"SRV", []source{{transport: tr, srv: srvName(tr) + name}}})
	}
	// RFC 3263 §4.2: no SRV records: A/AAAA at the default port.
	steps = append(steps, step{"A or AAAA", []source{{transport: tr, host: name, port: defaultPort(tr)}}})

	// Each step falls through only when its records do not exist. The
	// last is an address lookup, which reports ErrNoRecords or
	// ErrNoSuchDomain itself when it finds nothing.
	var tried []string
	for i, s := range steps {
		targets, found, err := q.expand(ctx, s.sources)
		if len(targets) > 0 || found || err != nil || i == len(steps)-1 {
			if errors.Is(err, ErrNoRecords) && len(tried) > 0 {
				err = fmt.Errorf("no %s records, and %w", strings.Join(tried, " or "), err)
			}
			return targets, err
		}
		tried = append(tried, s.what)
	}
	return nil, ErrNoRecords // not reached: steps is never empty
}

// pickTransport maps a URI's transport parameter to a Target transport, ""
// when the URI has none.
func pickTransport(transport string, secure bool) (string, error) {
	switch strings.ToLower(transport) {
	case "":
		return "", nil
	case "udp":
		if secure {
			// RFC 3261 §26.2.2: sips means TLS, which UDP cannot carry.
			return "", errors.New("resolve: a sips URI cannot use transport=udp")
		}
		return udp, nil
	case "tcp":
		if secure {
			return tls, nil
		}
		return tcp, nil
	case "tls":
		return tls, nil
	case "ws":
		if secure {
			return wss, nil // RFC 7118 §5.5
		}
		return ws, nil
	case "wss":
		return wss, nil
	}
	return "", fmt.Errorf("resolve: unsupported transport %q; use udp, tcp, tls, ws or wss", transport)
}

// defaultTransport is RFC 3263 §4.1's transport when nothing says
// otherwise: UDP for sip, TCP — here TLS — for sips.
func defaultTransport(secure bool) string {
	if secure {
		return tls
	}
	return udp
}

// defaultPort is a transport's port when neither the URI nor SRV gives one
// (RFC 3261 §19.1.2, RFC 7118 §5.5).
func defaultPort(transport string) int {
	switch transport {
	case tls:
		return 5061
	case ws:
		return 80
	case wss:
		return 443
	}
	return 5060
}

// srvName is the SRV owner prefix for a transport (RFC 3263 §4.2): "_sips"
// for TLS, whether the URI is sip or sips.
func srvName(transport string) string {
	switch transport {
	case tls:
		return "_sips._tcp."
	case tcp:
		return "_sip._tcp."
	}
	return "_sip._udp."
}

// isHostname reports whether s is a domain name a SIP URI may hold (RFC 3261
// §25.1 hostname, with "_" allowed as DNS allows it): dot-separated labels
// of letters, digits, "-" and "_", each 1 to 63 bytes, 253 bytes in all.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
