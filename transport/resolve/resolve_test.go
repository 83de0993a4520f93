package resolve

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard-sip/switchboard/sip"
)

// A zone with every kind of record, so that a test can see which of them a
// rule uses.
const fullZone = `
@                IN NAPTR 10 10 "s" "SIP+D2T" "" _sip._tcp
@                IN A     192.0.2.1
@                IN AAAA  2001:db8::1
_sip._udp        IN SRV   0 0 5062 udp.example.com.
_sip._tcp        IN SRV   0 0 5063 tcp.example.com.
_sips._tcp       IN SRV   0 0 5064 tls.example.com.
udp              IN A     192.0.2.10
tcp              IN A     192.0.2.11
tls              IN A     192.0.2.12
`

func TestNumericHostNeedsNoDNS(t *testing.T) {
	f := startDNS(t, fullZone, false)
	r := f.resolver()
	for _, tc := range []struct {
		host      string
		port      int
		secure    bool
		transport string
		want      string
	}{
		// RFC 3263 §4.1: UDP for sip, TCP (here TLS) for sips; §4.2:
		// the port, else the transport's default.
		{"192.0.2.1", 0, false, "", "UDP 192.0.2.1:5060"},
		{"192.0.2.1", 5070, false, "", "UDP 192.0.2.1:5070"},
		{"192.0.2.1", 0, true, "", "TLS 192.0.2.1:5061"},
		{"192.0.2.1", 0, false, "TCP", "TCP 192.0.2.1:5060"},
		{"192.0.2.1", 0, true, "tcp", "TLS 192.0.2.1:5061"},
		{"192.0.2.1", 0, false, "tls", "TLS 192.0.2.1:5061"},
		{"192.0.2.1", 0, false, "ws", "WS 192.0.2.1:80"},
		{"192.0.2.1", 0, true, "ws", "WSS 192.0.2.1:443"},
		{"192.0.2.1", 8443, false, "wss", "WSS 192.0.2.1:8443"},
		{"2001:db8::1", 0, false, "", "UDP [2001:db8::1]:5060"},
		{"[2001:db8::1]", 5080, false, "tcp", "TCP [2001:db8::1]:5080"},
		{"[2001:db8::1]", 0, true, "", "TLS [2001:db8::1]:5061"},
		{"::ffff:192.0.2.1", 0, false, "", "UDP [::ffff:192.0.2.1]:5060"},
	} {
		got, err := r.Resolve(testCtx(t), tc.host, tc.port, tc.secure, tc.transport)
		wantTargets(t, got, err, tc.want)
		if err == nil {
			host := strings.Trim(tc.host, "[]")
			if got[0].Host != host || got[0].ServerName != host {
				t.Errorf("%s: Host %q, ServerName %q; want both %q", tc.host, got[0].Host, got[0].ServerName, host)
			}
		}
	}
	if q := f.log(); len(q) != 0 {
		t.Errorf("numeric hosts asked DNS: %q", q)
	}
}

func TestExplicitPortUsesAddressesOnly(t *testing.T) {
	f := startDNS(t, fullZone, false)
	r := f.resolver()
	// RFC 3263 §4.2: a port means A/AAAA lookups of the name, never SRV.
	got, err := r.Resolve(testCtx(t), "example.com", 5070, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.1:5070 (example.com)", "UDP [2001:db8::1]:5070 (example.com)")
	got, err = r.Resolve(testCtx(t), "EXAMPLE.com.", 5071, true, "")
	wantTargets(t, got, err, "TLS 192.0.2.1:5071 (EXAMPLE.com)", "TLS [2001:db8::1]:5071 (EXAMPLE.com)")
	if err == nil && got[0].ServerName != "EXAMPLE.com" {
		t.Errorf("ServerName %q; want the host without its final dot", got[0].ServerName)
	}
	got, err = r.Resolve(testCtx(t), "example.com", 5072, false, "tcp")
	wantTargets(t, got, err, "TCP 192.0.2.1:5072 (example.com)", "TCP [2001:db8::1]:5072 (example.com)")
	want := []string{"A example.com.", "AAAA example.com."}
	if got := f.asked(); !slices.Equal(got, want) {
		t.Errorf("asked %q; want only %q", got, want)
	}
}

func TestExplicitTransportUsesItsSRV(t *testing.T) {
	for _, tc := range []struct {
		secure    bool
		transport string
		want      string
		srv       string
	}{
		{false, "udp", "UDP 192.0.2.10:5062 (udp.example.com)", "SRV _sip._udp.example.com."},
		{false, "tcp", "TCP 192.0.2.11:5063 (tcp.example.com)", "SRV _sip._tcp.example.com."},
		// RFC 3263 §4.2: "_sips" for a sip URI that asks for TLS, and
		// for a sips URI.
		{false, "tls", "TLS 192.0.2.12:5064 (tls.example.com)", "SRV _sips._tcp.example.com."},
		{true, "tcp", "TLS 192.0.2.12:5064 (tls.example.com)", "SRV _sips._tcp.example.com."},
	} {
		f := startDNS(t, fullZone, false)
		got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, tc.secure, tc.transport)
		wantTargets(t, got, err, tc.want)
		if err == nil && got[0].ServerName != "example.com" {
			t.Errorf("ServerName %q; want the URI's host, not the SRV target", got[0].ServerName)
		}
		if asked := f.asked(); !slices.Contains(asked, tc.srv) || slices.ContainsFunc(asked, isNAPTR) {
			t.Errorf("transport %s: asked %q; want %s and no NAPTR", tc.transport, asked, tc.srv)
		}
	}
}

func isNAPTR(q string) bool { return strings.HasPrefix(q, "NAPTR ") }

func TestExplicitTransportWithoutSRVUsesDefaultPort(t *testing.T) {
	f := startDNS(t, `
@ IN A 192.0.2.1
`, false)
	r := f.resolver()
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "tcp")
	wantTargets(t, got, err, "TCP 192.0.2.1:5060 (example.com)")
	got, err = r.Resolve(testCtx(t), "example.com", 0, false, "tls")
	wantTargets(t, got, err, "TLS 192.0.2.1:5061 (example.com)")
}

func TestWebSocketSkipsSRV(t *testing.T) {
	f := startDNS(t, fullZone, false)
	r := f.resolver()
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "ws")
	wantTargets(t, got, err, "WS 192.0.2.1:80 (example.com)", "WS [2001:db8::1]:80 (example.com)")
	got, err = r.Resolve(testCtx(t), "example.com", 0, false, "wss")
	wantTargets(t, got, err, "WSS 192.0.2.1:443 (example.com)", "WSS [2001:db8::1]:443 (example.com)")
	got, err = r.Resolve(testCtx(t), "example.com", 0, true, "ws")
	wantTargets(t, got, err, "WSS 192.0.2.1:443 (example.com)", "WSS [2001:db8::1]:443 (example.com)")
	want := []string{"A example.com.", "AAAA example.com."}
	if got := f.asked(); !slices.Equal(got, want) {
		t.Errorf("asked %q; want only %q", got, want)
	}
}

func TestNAPTRAbsentUsesSRV(t *testing.T) {
	// RFC 3263 §4.1: no NAPTR, so SRV for each transport; a SIP URI
	// tries UDP, TCP, then TLS, for every transport whose SRV exists.
	f := startDNS(t, `
@          IN A   192.0.2.1
_sip._udp  IN SRV 0 0 5062 udp.example.com.
_sips._tcp IN SRV 0 0 5064 tls.example.com.
udp        IN A   192.0.2.10
tls        IN A   192.0.2.12
`, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.10:5062 (udp.example.com)", "TLS 192.0.2.12:5064 (tls.example.com)")
	want := []string{
		"A tls.example.com.", "A udp.example.com.", "AAAA tls.example.com.", "AAAA udp.example.com.",
		"NAPTR example.com.", "SRV _sip._tcp.example.com.", "SRV _sip._udp.example.com.", "SRV _sips._tcp.example.com.",
	}
	if got := f.asked(); !slices.Equal(got, want) {
		t.Errorf("asked\n %q\nwant\n %q", got, want)
	}
}

func TestSRVAbsentUsesAddresses(t *testing.T) {
	f := startDNS(t, `
@ IN A    192.0.2.1
@ IN AAAA 2001:db8::1
@ IN TXT  "no SIP here"
`, false)
	r := f.resolver()
	// RFC 3263 §4.1, §4.2: no SRV, so UDP (sip) or TLS (sips) on the
	// default port.
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.1:5060 (example.com)", "UDP [2001:db8::1]:5060 (example.com)")
	got, err = r.Resolve(testCtx(t), "example.com", 0, true, "")
	wantTargets(t, got, err, "TLS 192.0.2.1:5061 (example.com)", "TLS [2001:db8::1]:5061 (example.com)")
}

func TestAddressOrder(t *testing.T) {
	zone := `
@ IN AAAA 2001:db8::2
@ IN A    192.0.2.2
@ IN AAAA 2001:db8::1
@ IN A    192.0.2.1
`
	f := startDNS(t, zone, false)
	r := f.resolver()
	got, err := r.Resolve(testCtx(t), "example.com", 5060, false, "")
	wantTargets(t, got, err,
		"UDP 192.0.2.2:5060 (example.com)", "UDP 192.0.2.1:5060 (example.com)",
		"UDP [2001:db8::2]:5060 (example.com)", "UDP [2001:db8::1]:5060 (example.com)")
	r.PreferIPv6 = true
	got, err = r.Resolve(testCtx(t), "example.com", 5060, false, "")
	wantTargets(t, got, err,
		"UDP [2001:db8::2]:5060 (example.com)", "UDP [2001:db8::1]:5060 (example.com)",
		"UDP 192.0.2.2:5060 (example.com)", "UDP 192.0.2.1:5060 (example.com)")
}

func TestSipsKeepsOnlySIPS(t *testing.T) {
	zone := `
@          IN NAPTR 10 10 "s" "SIP+D2U"  "" _sip._udp
@          IN NAPTR 20 10 "s" "SIP+D2T"  "" _sip._tcp
@          IN NAPTR 30 10 "s" "SIPS+D2T" "" _sips._tcp
_sip._udp  IN SRV   0 0 5062 udp.example.com.
_sip._tcp  IN SRV   0 0 5063 tcp.example.com.
_sips._tcp IN SRV   0 0 5064 tls.example.com.
udp        IN A     192.0.2.10
tcp        IN A     192.0.2.11
tls        IN A     192.0.2.12
`
	f := startDNS(t, zone, false)
	r := f.resolver()
	// RFC 3263 §4.1: a SIPS URI discards every service but SIPS.
	got, err := r.Resolve(testCtx(t), "example.com", 0, true, "")
	wantTargets(t, got, err, "TLS 192.0.2.12:5064 (tls.example.com)")
	// A SIP URI keeps all three, SIPS included, in NAPTR order.
	got, err = r.Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err,
		"UDP 192.0.2.10:5062 (udp.example.com)",
		"TCP 192.0.2.11:5063 (tcp.example.com)",
		"TLS 192.0.2.12:5064 (tls.example.com)")

	// Without NAPTR, a sips URI asks only for _sips._tcp.
	f = startDNS(t, strings.ReplaceAll(zone, "NAPTR", "TXT ; "), false)
	got, err = f.resolver().Resolve(testCtx(t), "example.com", 0, true, "")
	wantTargets(t, got, err, "TLS 192.0.2.12:5064 (tls.example.com)")
	for _, q := range f.asked() {
		if strings.HasPrefix(q, "SRV _sip.") {
			t.Errorf("sips URI asked %s", q)
		}
	}
}

func TestNAPTRDiscardsWhatSIPDoesNotUse(t *testing.T) {
	f := startDNS(t, `
@          IN NAPTR 1  10 "u" "E2U+sip"   "!^.*$!sip:info@example.com!" .
@          IN NAPTR 2  10 "s" "SIP+D2S"   "" _sip._sctp
@          IN NAPTR 3  10 "s" "SIPS+D2U"  "" _sips._udp
@          IN NAPTR 4  10 "s" "SIP+D2W"   "" _sip._ws
@          IN NAPTR 5  10 ""  "SIP+D2U"   "" other.example.net.
@          IN NAPTR 6  10 "s" "SIP+D2U"   "!^.*$!_sip._udp.example.com!" .
@          IN NAPTR 7  10 "s" "sip+d2t"   "" _sip._tcp
_sip._sctp IN SRV   0 0 5070 sctp.example.com.
_sips._udp IN SRV   0 0 5071 sctp.example.com.
_sip._ws   IN SRV   0 0 5072 sctp.example.com.
_sip._udp  IN SRV   0 0 5073 sctp.example.com.
_sip._tcp  IN SRV   0 0 5063 tcp.example.com.
sctp       IN A     192.0.2.99
tcp        IN A     192.0.2.11
`, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err, "TCP 192.0.2.11:5063 (tcp.example.com)")
}

func TestNAPTROrderThenPreferenceAndAFlag(t *testing.T) {
	// RFC 3403 §4.1: Order first, then Preference. The "a" flag means
	// the replacement's addresses, on the transport's default port.
	f := startDNS(t, `
@          IN NAPTR 20 5  "s" "SIP+D2U"  "" _sip._udp
@          IN NAPTR 10 50 "a" "SIP+D2T"  "" proxy.example.com.
@          IN NAPTR 10 40 "S" "SIPS+D2T" "" _sips._tcp
_sip._udp  IN SRV   0 0 5062 udp.example.com.
_sips._tcp IN SRV   0 0 5064 tls.example.com.
proxy      IN A     192.0.2.20
udp        IN A     192.0.2.10
tls        IN A     192.0.2.12
`, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err,
		"TLS 192.0.2.12:5064 (tls.example.com)",
		"TCP 192.0.2.20:5060 (proxy.example.com)",
		"UDP 192.0.2.10:5062 (udp.example.com)")
}

func TestNAPTRWithoutSRVFallsThrough(t *testing.T) {
	// The NAPTR replacement has no SRV records: RFC 3263 §4.2 goes on to
	// SRV of the domain, then to its addresses.
	f := startDNS(t, `
@ IN NAPTR 10 10 "s" "SIP+D2T" "" _sip._tcp.elsewhere.example.
@ IN A     192.0.2.1
`, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.1:5060 (example.com)")
}

func TestSRVPriorityThenWeight(t *testing.T) {
	f := startDNS(t, `
_sip._tcp IN SRV 20 0  5060 d.example.com.
_sip._tcp IN SRV 10 10 5060 b.example.com.
_sip._tcp IN SRV 20 0  5060 e.example.com.
_sip._tcp IN SRV 10 90 5060 c.example.com.
_sip._tcp IN SRV 5  1  5060 a.example.com.
_sip._tcp IN SRV 10 0  5060 z.example.com.
a IN A 192.0.2.1
b IN A 192.0.2.2
c IN A 192.0.2.3
d IN A 192.0.2.4
e IN A 192.0.2.5
z IN A 192.0.2.26
`, false)
	r := f.resolver()
	// Priority 5: a alone, no draw. Priority 10: weights 10, 90, 0 sum
	// to 100; a draw of 10 passes b (10) and lands on c; then b (10)
	// is drawn with 5 < 10; z (weight 0) comes last, no draw needed.
	// Priority 20: all weight 0, so a uniform draw among d and e: 1
	// picks e.
	randn, calls := scriptedRand(t, 10, 5, 1)
	r.Rand = randn
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "tcp")
	wantTargets(t, got, err,
		"TCP 192.0.2.1:5060 (a.example.com)",
		"TCP 192.0.2.3:5060 (c.example.com)",
		"TCP 192.0.2.2:5060 (b.example.com)",
		"TCP 192.0.2.26:5060 (z.example.com)",
		"TCP 192.0.2.5:5060 (e.example.com)",
		"TCP 192.0.2.4:5060 (d.example.com)")
	if want := []int{100, 10, 2}; !slices.Equal(*calls, want) {
		t.Errorf("Rand called with %v; want %v", *calls, want)
	}
}

func TestOrderSRVWeightDistribution(t *testing.T) {
	recs := []*dns.SRV{
		{Priority: 0, Weight: 10, Target: "a."},
		{Priority: 0, Weight: 20, Target: "b."},
		{Priority: 0, Weight: 70, Target: "c."},
		{Priority: 0, Weight: 0, Target: "zero."},
		{Priority: 1, Weight: 50, Target: "backup."},
	}
	randn := rand.New(rand.NewPCG(1, 2)).IntN // fixed seed: the same numbers every run
	const runs = 100_000
	first := map[string]int{}
	second := map[string]int{}
	for range runs {
		out := orderSRV(recs, randn)
		if len(out) != len(recs) || out[3].Target != "zero." || out[4].Target != "backup." {
			t.Fatalf("order %v: want the zero weight fourth and priority 1 last", targetsOf(out))
		}
		first[out[0].Target]++
		second[out[1].Target]++
	}
	// First place goes by weight / 100; second, given c first (70%),
	// goes to a with 10/30 and b with 20/30, and so on.
	for name, want := range map[string]float64{"a.": 0.10, "b.": 0.20, "c.": 0.70} {
		if got := float64(first[name]) / runs; got < want-0.01 || got > want+0.01 {
			t.Errorf("%s first in %.3f of orders; want %.2f", name, got, want)
		}
	}
	wantSecond := map[string]float64{
		"a.": 0.2*10/80 + 0.7*10/30,
		"b.": 0.1*20/90 + 0.7*20/30,
		"c.": 0.1*70/90 + 0.2*70/80,
	}
	for name, want := range wantSecond {
		if got := float64(second[name]) / runs; got < want-0.01 || got > want+0.01 {
			t.Errorf("%s second in %.3f of orders; want %.3f", name, got, want)
		}
	}
	if recs[0].Target != "a." || recs[4].Target != "backup." {
		t.Error("orderSRV modified its input")
	}
}

func targetsOf(recs []*dns.SRV) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Target)
	}
	return out
}

// FuzzOrderSRV checks that orderSRV returns a permutation of its input in
// which priorities never decrease and, within a priority, zero weights
// come after the others, whatever the records and random numbers.
func FuzzOrderSRV(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 5, 1, 0, 0, 3}, uint64(1))
	f.Add([]byte{9, 9, 9, 0, 0, 0}, uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		var recs []*dns.SRV
		for i := 0; i+1 < len(data) && len(recs) < 50; i += 2 {
			recs = append(recs, &dns.SRV{Priority: uint16(data[i] % 4), Weight: uint16(data[i+1]) * 257, Port: uint16(i)})
		}
		out := orderSRV(recs, rand.New(rand.NewPCG(seed, 0)).IntN)
		if len(out) != len(recs) {
			t.Fatalf("%d records in, %d out", len(recs), len(out))
		}
		seen := map[*dns.SRV]bool{}
		for i, rr := range out {
			if seen[rr] || !slices.Contains(recs, rr) {
				t.Fatalf("output %d is a duplicate or not an input", i)
			}
			seen[rr] = true
			if i == 0 {
				continue
			}
			prev := out[i-1]
			if rr.Priority < prev.Priority {
				t.Fatalf("priority %d after %d", rr.Priority, prev.Priority)
			}
			if rr.Priority == prev.Priority && prev.Weight == 0 && rr.Weight != 0 {
				t.Fatalf("weight %d after weight 0 at priority %d", rr.Weight, rr.Priority)
			}
		}
	})
}

func TestSRVDotMeansUnavailable(t *testing.T) {
	f := startDNS(t, `
@          IN A   192.0.2.1
_sip._tcp  IN SRV 0 0 0 .
_sip._udp  IN SRV 0 0 0 .
_sips._tcp IN SRV 0 0 5064 tls.example.com.
tls        IN A   192.0.2.12
`, false)
	r := f.resolver()
	// RFC 2782: a single "." target means the service is not there; the
	// A record of the domain must not be used instead.
	_, err := r.Resolve(testCtx(t), "example.com", 0, false, "tcp")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v; want ErrUnavailable", err)
	}
	const want = `resolve: no SIP service for example.com: _sip._tcp.example.com says the service is not available (SRV target ".")`
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	// Other transports still serve.
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err, "TLS 192.0.2.12:5064 (tls.example.com)")
}

func TestNXDOMAIN(t *testing.T) {
	f := startDNS(t, fullZone, false)
	_, err := f.resolver().Resolve(testCtx(t), "nosuch.example.com", 0, false, "")
	if !errors.Is(err, ErrNoSuchDomain) {
		t.Fatalf("err = %v; want ErrNoSuchDomain", err)
	}
	const want = "resolve: no SIP service for nosuch.example.com: nosuch.example.com does not exist (NXDOMAIN)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	// With a port, the same.
	_, err = f.resolver().Resolve(testCtx(t), "nosuch.example.com", 5060, false, "")
	if !errors.Is(err, ErrNoSuchDomain) {
		t.Errorf("with a port: err = %v; want ErrNoSuchDomain", err)
	}
}

func TestNoRecords(t *testing.T) {
	f := startDNS(t, `
@ IN TXT "nothing for SIP"
`, false)
	_, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	if !errors.Is(err, ErrNoRecords) || errors.Is(err, ErrNoSuchDomain) {
		t.Fatalf("err = %v; want ErrNoRecords only", err)
	}
	const want = "resolve: no SIP service for example.com: no SIP NAPTR or SRV records, and no A or AAAA records for example.com"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
}

func TestSRVTargetWithoutAddress(t *testing.T) {
	f := startDNS(t, `
@         IN A   192.0.2.1
_sip._tcp IN SRV 0 0 5060 gone.example.com.
`, false)
	// SRV records exist, so no fall-through to the domain's A record.
	_, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "tcp")
	if !errors.Is(err, ErrNoSuchDomain) || !strings.Contains(err.Error(), "gone.example.com does not exist") {
		t.Errorf("err = %v; want gone.example.com's NXDOMAIN", err)
	}
}

func TestQueryTimeout(t *testing.T) {
	// A server that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := &Resolver{Server: pc.LocalAddr().String(), Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err = r.Resolve(testCtx(t), "example.com", 0, false, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want one matching context.DeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v; want a net.Error with Timeout()", err)
	}
	if !strings.HasPrefix(err.Error(), "resolve: no SIP service for example.com: NAPTR query for example.com to ") ||
		!strings.Contains(err.Error(), "no answer within 100ms") {
		t.Errorf("err = %q", err)
	}
	// The NAPTR query timed out: resolution stops there, it does not
	// spend further timeouts on SRV and A.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; want about one 100ms timeout", d)
	}
}

func TestContextEndsResolution(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// The query timeout is long; the context must cut it short.
	r := &Resolver{Server: pc.LocalAddr().String(), Timeout: 8 * time.Second}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = r.Resolve(ctx, "example.com", 0, false, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: err = %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("deadline: took %v", d)
	}

	ctx, cancel = context.WithCancel(t.Context())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	start = time.Now()
	_, err = r.Resolve(ctx, "example.com", 5060, false, "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: err = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel: took %v", d)
	}

	// Already cancelled: no answer, whatever the server.
	f := startDNS(t, fullZone, false)
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := f.resolver().Resolve(ctx, "example.com", 0, false, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: err = %v; want context.Canceled", err)
	}
}

func TestServerDown(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("relies on Linux reporting ICMP port unreachable to a connected UDP socket")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	r := &Resolver{Server: addr, Timeout: 2 * time.Second}
	_, err = r.Resolve(testCtx(t), "example.com", 0, false, "")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v; want ECONNREFUSED", err)
	}
}

func TestServerFailureIsNotNoRecords(t *testing.T) {
	f := newFakeDNS(t, fullZone)
	f.rcode["NAPTR example.com."] = dns.RcodeServerFailure
	f.start(t, false)
	_, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	if err == nil || !strings.Contains(err.Error(), "NAPTR query for example.com to "+f.addr+": server answered SERVFAIL") {
		t.Errorf("err = %v; want the SERVFAIL", err)
	}
	if errors.Is(err, ErrNoRecords) || errors.Is(err, ErrNoSuchDomain) {
		t.Errorf("err = %v matches a not-found error", err)
	}
}

func TestPartialFailureKeepsWhatWorked(t *testing.T) {
	f := newFakeDNS(t, `
@          IN A   192.0.2.1
_sip._tcp  IN SRV 0 0 5063 tcp.example.com.
tcp        IN A   192.0.2.11
`)
	f.rcode["AAAA tcp.example.com."] = dns.RcodeServerFailure
	f.drop["SRV _sip._udp.example.com."] = true
	f.start(t, false)
	r := f.resolver()
	r.Timeout = 200 * time.Millisecond
	got, err := r.Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err, "TCP 192.0.2.11:5063 (tcp.example.com)")
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	f := newFakeDNS(t, `
_sip._tcp  IN SRV 0 0 5063 tcp.example.com.
_sip._tcp  IN SRV 1 0 5063 tcp2.example.com.
tcp        IN A   192.0.2.11
tcp2       IN A   192.0.2.12
`)
	f.truncateUDP = true
	f.start(t, true)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "tcp")
	wantTargets(t, got, err, "TCP 192.0.2.11:5063 (tcp.example.com)", "TCP 192.0.2.12:5063 (tcp2.example.com)")
	log := f.log()
	if !slices.Contains(log, "udp SRV _sip._tcp.example.com.") || !slices.Contains(log, "tcp SRV _sip._tcp.example.com.") {
		t.Errorf("queries %q; want the SRV over UDP, then over TCP", log)
	}
}

func TestNetTCP(t *testing.T) {
	f := startDNS(t, fullZone, true)
	r := f.resolver()
	r.Net = "tcp"
	got, err := r.Resolve(testCtx(t), "example.com", 5060, false, "")
	wantTargets(t, got, err, "UDP 192.0.2.1:5060 (example.com)", "UDP [2001:db8::1]:5060 (example.com)")
	for _, q := range f.log() {
		if !strings.HasPrefix(q, "tcp ") {
			t.Errorf("query %q not over TCP", q)
		}
	}
}

func TestDuplicateTargetsOnce(t *testing.T) {
	f := startDNS(t, `
_sip._udp  IN SRV 0 0 5060 a.example.com.
_sip._udp  IN SRV 1 0 5060 b.example.com.
_sip._tcp  IN SRV 0 0 5060 a.example.com.
a          IN A   192.0.2.1
b          IN A   192.0.2.1
b          IN A   192.0.2.2
`, false)
	got, err := f.resolver().Resolve(testCtx(t), "example.com", 0, false, "")
	wantTargets(t, got, err,
		"UDP 192.0.2.1:5060 (a.example.com)",
		"UDP 192.0.2.2:5060 (b.example.com)",
		"TCP 192.0.2.1:5060 (a.example.com)")
	// a.example.com is asked about once, though two SRV records name it.
	n := 0
	for _, q := range f.log() {
		if q == "udp A a.example.com." {
			n++
		}
	}
	if n != 1 {
		t.Errorf("A a.example.com asked %d times; want 1", n)
	}
}

func TestResolveURI(t *testing.T) {
	f := startDNS(t, fullZone+`
proxy IN A 192.0.2.30
`, false)
	r := f.resolver()
	for _, tc := range []struct {
		uri  string
		want []string
	}{
		{"sip:alice@192.0.2.5", []string{"UDP 192.0.2.5:5060"}},
		{"sips:alice@[2001:db8::5]:5071", []string{"TLS [2001:db8::5]:5071"}},
		{"sip:alice@example.com;transport=TCP", []string{"TCP 192.0.2.11:5063 (tcp.example.com)"}},
		{"sips:alice@example.com;transport=tcp", []string{"TLS 192.0.2.12:5064 (tls.example.com)"}},
		// RFC 3263 §4: maddr, when present, is TARGET.
		{"sip:alice@example.com:5090;maddr=proxy.example.com", []string{"UDP 192.0.2.30:5090 (proxy.example.com)"}},
		{"sip:alice@example.com;maddr=192.0.2.40;transport=tcp", []string{"TCP 192.0.2.40:5060"}},
	} {
		u, err := sip.ParseURI(tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		got, err := r.ResolveURI(testCtx(t), &u)
		if err != nil {
			t.Errorf("%s: %v", tc.uri, err)
			continue
		}
		if g := targetStrings(got); !slices.Equal(g, tc.want) {
			t.Errorf("%s: got %q; want %q", tc.uri, g, tc.want)
		}
	}
	u, _ := sip.ParseURI("tel:+15551234567")
	if _, err := r.ResolveURI(testCtx(t), &u); err == nil {
		t.Error("tel URI resolved")
	}
}

func TestBadInput(t *testing.T) {
	r := &Resolver{Server: "127.0.0.1:1"} // never asked
	for _, tc := range []struct {
		host      string
		port      int
		secure    bool
		transport string
		net       string
		want      string
	}{
		{"192.0.2.1", 0, true, "udp", "", "resolve: a sips URI cannot use transport=udp"},
		{"example.com", 0, false, "sctp", "", `resolve: unsupported transport "sctp"; use udp, tcp, tls, ws or wss`},
		{"example.com", 70000, false, "", "", "resolve: port 70000 out of range"},
		{"", 0, false, "", "", "resolve: empty host"},
		{"exa mple.com", 0, false, "", "", `resolve: "exa mple.com" is neither an IP address nor a domain name`},
		{"example.com", 0, false, "", "tcp-tls", `resolve: Resolver.Net is "tcp-tls"; use udp or tcp`},
	} {
		r.Net = tc.net
		_, err := r.Resolve(testCtx(t), tc.host, tc.port, tc.secure, tc.transport)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Resolve(%q, %d, %v, %q): err = %v; want %q", tc.host, tc.port, tc.secure, tc.transport, err, tc.want)
		}
	}
}

func TestServerFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		r    Resolver
		want string
	}{
		{Resolver{resolvConf: write("v4", "search example.com\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n")}, "192.0.2.53:53"},
		{Resolver{resolvConf: write("v6", "nameserver 2001:db8::53\n")}, "[2001:db8::53]:53"},
		{Resolver{Server: "192.0.2.1:5353", resolvConf: write("ignored", "nameserver 192.0.2.53\n")}, "192.0.2.1:5353"},
		{Resolver{Server: "192.0.2.1"}, "192.0.2.1:53"},
		{Resolver{Server: "[2001:db8::1]"}, "[2001:db8::1]:53"},
	} {
		got, err := tc.r.server()
		if err != nil || got != tc.want {
			t.Errorf("server() = %q, %v; want %q", got, err, tc.want)
		}
	}
	r := Resolver{resolvConf: write("empty", "search example.com\n")}
	if _, err := r.server(); err == nil || !strings.Contains(err.Error(), "lists no nameserver") {
		t.Errorf("no nameserver: err = %v", err)
	}
	r = Resolver{resolvConf: filepath.Join(dir, "missing")}
	if _, err := r.Resolve(testCtx(t), "example.com", 0, false, ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v; want os.ErrNotExist", err)
	}
}

func TestFailover(t *testing.T) {
	targets := []Target{
		{Transport: "UDP", Addr: netip.MustParseAddrPort("192.0.2.1:5060")},
		{Transport: "UDP", Addr: netip.MustParseAddrPort("192.0.2.2:5060")},
		{Transport: "TCP", Addr: netip.MustParseAddrPort("192.0.2.3:5060")},
	}
	errRefused := errors.New("connection refused")
	// failed follows RFC 3263 §4.3: an error or a 503.
	failed := func(status int, err error) bool { return err != nil || status == 503 }
	run := func(ctx context.Context, results map[string]int) (int, []string, error) {
		var tried []string
		status, err := Failover(ctx, targets, func(_ context.Context, tg Target) (int, error) {
			tried = append(tried, tg.Addr.String())
			s := results[tg.Addr.String()]
			if s == 0 {
				return 0, errRefused
			}
			return s, nil
		}, failed)
		return status, tried, err
	}

	status, tried, err := run(t.Context(), map[string]int{"192.0.2.2:5060": 503, "192.0.2.3:5060": 486})
	if status != 486 || err != nil || len(tried) != 3 {
		t.Errorf("got %d, %v after %q; want the 486 from the third", status, err, tried)
	}
	status, tried, err = run(t.Context(), map[string]int{"192.0.2.1:5060": 200, "192.0.2.2:5060": 200})
	if status != 200 || err != nil || len(tried) != 1 {
		t.Errorf("got %d, %v after %q; want the first 200 and no more tries", status, err, tried)
	}
	// All fail, the last with an error: that error, wrapped.
	status, _, err = run(t.Context(), map[string]int{"192.0.2.1:5060": 503})
	if !errors.Is(err, errRefused) || status != 0 ||
		err.Error() != "resolve: all 3 targets failed; the last, TCP 192.0.2.3:5060: connection refused" {
		t.Errorf("got %d, %v; want the last error wrapped", status, err)
	}
	// All fail, the last with a 503: the response, no error.
	status, _, err = run(t.Context(), map[string]int{"192.0.2.1:5060": 503, "192.0.2.2:5060": 503, "192.0.2.3:5060": 503})
	if status != 503 || err != nil {
		t.Errorf("got %d, %v; want the last 503 as a value", status, err)
	}
	// A context ended between attempts stops the loop.
	ctx, cancel := context.WithCancel(t.Context())
	var tried2 []string
	_, err = Failover(ctx, targets, func(_ context.Context, tg Target) (int, error) {
		tried2 = append(tried2, tg.Addr.String())
		cancel()
		return 0, errRefused
	}, nil)
	if !errors.Is(err, context.Canceled) || len(tried2) != 1 {
		t.Errorf("got %v after %q; want context.Canceled after one try", err, tried2)
	}
	if _, err := Failover(t.Context(), nil, func(context.Context, Target) (int, error) { return 200, nil }, nil); err == nil {
		t.Error("Failover of no targets succeeded")
	}
}
