package resolve

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// rfc3263Zone is the example of RFC 3263 §4.1 — its three NAPTR records and
// the SRV answer for _sip._tcp — with the SRV records for the other two
// services and the servers' addresses, which the RFC leaves out, filled in
// the same way.
const rfc3263Zone = `
$ORIGIN example.com.
; The RFC leaves the owner out; it is the domain queried, example.com.
;            order pref flags service      regexp  replacement
@    IN NAPTR 50   50  "s"  "SIPS+D2T"     ""  _sips._tcp.example.com.
@    IN NAPTR 90   50  "s"  "SIP+D2T"      ""  _sip._tcp.example.com.
@    IN NAPTR 100  50  "s"  "SIP+D2U"      ""  _sip._udp.example.com.

;;                   Priority Weight Port   Target
_sip._tcp    IN SRV  0        1      5060   server1.example.com.
_sip._tcp    IN SRV  0        2      5060   server2.example.com.

_sips._tcp   IN SRV  0        1      5061   server1.example.com.
_sips._tcp   IN SRV  0        2      5061   server2.example.com.
_sip._udp    IN SRV  0        1      5060   server1.example.com.
_sip._udp    IN SRV  0        2      5060   server2.example.com.
server1      IN A    192.0.2.1
server2      IN A    192.0.2.2
server2      IN AAAA 2001:db8::2
`

// RFC 3263 §4.1: "This indicates that the server supports TLS over TCP, TCP,
// and UDP, in that order of preference." A client that supports all three
// tries TLS first, then TCP, then UDP, each through its SRV records.
func TestRFC3263_4_1_NAPTRExample(t *testing.T) {
	f := startDNS(t, rfc3263Zone, false)
	r := f.resolver()
	// Each SRV set has weights 1 and 2 (sum 3): a draw of 0 picks
	// server1, a draw of 2 picks server2.
	randn, _ := scriptedRand(t, 0, 2, 2)
	r.Rand = randn
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err,
		"TLS 192.0.2.1:5061 (server1.example.com)",
		"TLS 192.0.2.2:5061 (server2.example.com)",
		"TLS [2001:db8::2]:5061 (server2.example.com)",
		"TCP 192.0.2.2:5060 (server2.example.com)",
		"TCP [2001:db8::2]:5060 (server2.example.com)",
		"TCP 192.0.2.1:5060 (server1.example.com)",
		"UDP 192.0.2.2:5060 (server2.example.com)",
		"UDP [2001:db8::2]:5060 (server2.example.com)",
		"UDP 192.0.2.1:5060 (server1.example.com)",
	)
	for _, tg := range got {
		if tg.ServerName != "example.com" {
			t.Errorf("%s: ServerName %q; want example.com (RFC 3263 §4.1: the certificate must be valid for the queried domain)", tg, tg.ServerName)
		}
	}

	// "Since the client supports TCP and UDP, TCP will be used, targeted
	// to a host determined by an SRV lookup of _sip._tcp.example.com."
	// A client without TLS drops the TLS targets; TCP is first.
	noTLS := slices.DeleteFunc(got, func(tg Target) bool { return tg.Transport == "TLS" })
	if len(noTLS) == 0 || noTLS[0].Transport != "TCP" || noTLS[0].Addr.Port() != 5060 {
		t.Errorf("without TLS the first target is %v; want TCP from _sip._tcp", noTLS)
	}
}

// RFC 3263 §4.1's SRV answer gives server1 weight 1 and server2 weight 2:
// server2 comes first in two orders of three (RFC 2782).
func TestRFC3263_4_1_SRVWeights(t *testing.T) {
	recs := []*dns.SRV{
		{Priority: 0, Weight: 1, Port: 5060, Target: "server1.example.com."},
		{Priority: 0, Weight: 2, Port: 5060, Target: "server2.example.com."},
	}
	randn := rand.New(rand.NewPCG(3263, 2782)).IntN
	const runs = 30_000
	n := 0
	for range runs {
		if orderSRV(recs, randn)[0].Target == "server2.example.com." {
			n++
		}
	}
	if got := float64(n) / runs; got < 0.65 || got > 0.683 {
		t.Errorf("server2 first in %.3f of orders; want 2/3", got)
	}
}

// RFC 3263 §4.1: "a client resolving a SIPS URI MUST discard any services
// that do not contain "SIPS" as the protocol in the service field."
func TestRFC3263_4_1_SIPSDiscardsSIP(t *testing.T) {
	f := startDNS(t, rfc3263Zone, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, true, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range got {
		if tg.Transport != "TLS" || tg.Addr.Port() != 5061 {
			t.Errorf("sips target %s; want only TLS from _sips._tcp", tg)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d targets; want server1 and both addresses of server2", len(got))
	}
}

// RFC 3263 §4.1: a numeric TARGET without transport uses UDP for a SIP URI
// and TCP for a SIPS URI (TLS over TCP, RFC 3261 §26.2.2); §4.2: with the
// transport's default port.
func TestRFC3263_4_1_NumericTarget(t *testing.T) {
	r := &Resolver{Server: "127.0.0.1:1"} // must not be asked
	got, err := r.Resolve(testCtx(t), "192.0.2.9", 0, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.9:5060")
	got, err = r.Resolve(testCtx(t), "192.0.2.9", 0, true, "")
	wantTargets(t, got, err, "TLS 192.0.2.9:5061")
}

// RFC 3263 §4.2: "Previously, if the port was explicit, but with a value of
// 5060, SRV records were used. Now, A or AAAA records will be used."
func TestRFC3263_4_2_ExplicitPort5060UsesA(t *testing.T) {
	f := startDNS(t, rfc3263Zone+`
@ IN A 192.0.2.80
`, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 5060, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.80:5060 (example.com)")
}

// rfc2782Zone is the "Fictional example" of RFC 2782, its foobar service
// named _sip._tcp here.
const rfc2782Zone = `
$ORIGIN example.com.
; use old-slow-box or new-fast-box if either is available, make three
; quarters of the logins go to new-fast-box.
_sip._tcp       SRV 0 1 9 old-slow-box.example.com.
                SRV 0 3 9 new-fast-box.example.com.
; if neither old-slow-box or new-fast-box is up, switch to
; using the sysdmin's box and the server
                SRV 1 0 9 sysadmins-box.example.com.
                SRV 1 0 9 server.example.com.
server           A   172.30.79.10
old-slow-box     A   172.30.79.11
sysadmins-box    A   172.30.79.12
new-fast-box     A   172.30.79.13
; NO other services are supported
*._tcp          SRV  0 0 0 .
*._udp          SRV  0 0 0 .
`

// RFC 2782, "Fictional example": priority 0 before priority 1, and
// "three quarters of the logins go to new-fast-box".
func TestRFC2782_Example(t *testing.T) {
	f := startDNS(t, rfc2782Zone, false)
	r := f.resolver()
	// Priority 0: weights 1 and 3; a draw of 3 lands on new-fast-box.
	// Priority 1: both weight 0; a draw of 0 takes the first.
	randn, _ := scriptedRand(t, 3, 0)
	r.Rand = randn
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "tcp")
	wantTargets(t, got, err,
		"TCP 172.30.79.13:9 (new-fast-box.example.com)",
		"TCP 172.30.79.11:9 (old-slow-box.example.com)",
		"TCP 172.30.79.12:9 (sysadmins-box.example.com)",
		"TCP 172.30.79.10:9 (server.example.com)",
	)

	var recs []*dns.SRV
	for _, rr := range newFakeDNS(t, rfc2782Zone).rrs {
		if srv, ok := rr.(*dns.SRV); ok && srv.Hdr.Name == "_sip._tcp.example.com." {
			recs = append(recs, srv)
		}
	}
	rnd := rand.New(rand.NewPCG(2782, 0)).IntN
	const runs = 40_000
	n := 0
	for range runs {
		out := orderSRV(recs, rnd)
		if out[0].Target == "new-fast-box.example.com." {
			n++
		}
		if out[2].Priority != 1 || out[3].Priority != 1 {
			t.Fatalf("order %v: priority 1 must come last", targetsOf(out))
		}
	}
	if got := float64(n) / runs; got < 0.74 || got > 0.76 {
		t.Errorf("new-fast-box first in %.3f of orders; want 3/4", got)
	}
}

// RFC 2782: "*._udp SRV 0 0 0 ." — "NO other services are supported".
func TestRFC2782_ExampleNoOtherService(t *testing.T) {
	f := startDNS(t, rfc2782Zone, false)
	for _, tr := range []string{"udp", "tls"} {
		_, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, tr)
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("transport %s: err = %v; want ErrUnavailable", tr, err)
		}
	}
}

// RFC 7118 §5.5: "the default port for a SIP URI using the "sip" scheme and
// the "ws" transport parameter is 80, and the default port for a SIP URI
// using the "sips" scheme and the "ws" transport parameter is 443."
func TestRFC7118_5_5_DefaultPorts(t *testing.T) {
	f := startDNS(t, `
@ IN A 192.0.2.1
`, false)
	r := f.resolver()
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "ws")
	wantTargets(t, got, err, "WS 192.0.2.1:80 (example.com)")
	got, err = r.Resolve(testCtx(t), "example.com", 0, true, "ws")
	wantTargets(t, got, err, "WSS 192.0.2.1:443 (example.com)")
}
