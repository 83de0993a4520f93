package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
	"github.com/switchboard-sip/switchboard/transaction"
)

// harness is a proxy served over UDP on loopback, for the domain
// example.com, with bindings in memory; phones are UDP sockets the test
// drives message by message.
type harness struct {
	t    testing.TB
	p    *Proxy
	srv  *stack.Server
	addr netip.AddrPort
	loc  *location.Memory
}

func newHarness(t testing.TB, set Settings, setup ...func(*Proxy)) *harness {
	t.Helper()
	h := &harness{t: t, loc: location.NewMemory()}
	h.p = &Proxy{Locations: h.loc, Key: []byte("test key")}
	for _, f := range setup {
		f(h.p) // before the server runs: the proxy's fields do not change afterwards
	}
	// Short timers: T1 20 ms makes Timer B 1.28 s.
	h.srv = &stack.Server{Handler: h.p, Strays: h.p.Strays, Policy: sip.Policy{Role: sip.RoleProxy},
		Timers: transaction.Timers{T1: 20 * time.Millisecond, T2: 160 * time.Millisecond, T4: 200 * time.Millisecond}}
	h.p.Server = h.srv
	addr, err := h.srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = addr
	if set.IsLocal == nil {
		set.IsLocal = func(_ context.Context, host string) bool { return host == "example.com" }
	}
	if set.Self == nil {
		set.Self = func(host string, port int) bool { return host == "127.0.0.1" && port == int(addr.Port()) }
	}
	h.p.Configure(set)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h.srv.Shutdown(ctx)
	})
	return h
}

// bind registers contact for user@example.com with q (thousandths, -1 none).
func (h *harness) bind(user string, ph *phone, q int) {
	h.t.Helper()
	now := time.Now()
	_, err := h.loc.Update(context.Background(), "sip:"+user+"@example.com", now, func(cur []location.Binding) ([]location.Binding, error) {
		return append(cur, location.Binding{Contact: fmt.Sprintf("sip:%s@%s", user, ph.addr()), Q: q,
			Expires: now.Add(time.Hour), CallID: sip.NewCallID(), CSeq: 1, Transport: "UDP"}), nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// phone is a UDP socket playing a user agent.
type phone struct {
	t testing.TB
	c *net.UDPConn
}

func newPhone(t testing.TB) *phone { t.Helper(); return newPhoneAt(t, net.IPv4(127, 0, 0, 1)) }

// newPhoneAt is newPhone on another loopback address.
func newPhoneAt(t testing.TB, ip net.IP) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, c: c}
}

func (ph *phone) addr() string { return ph.c.LocalAddr().String() }

// send sends m to the proxy (or, for a response, to where to is).
func (ph *phone) send(to netip.AddrPort, m *sip.Message) {
	ph.t.Helper()
	if _, err := ph.c.WriteToUDPAddrPort(m.Bytes(), to); err != nil {
		ph.t.Fatal(err)
	}
}

// recv returns the next message that keep accepts within d, or nil;
// others are dropped.
func (ph *phone) recv(d time.Duration, keep func(*sip.Message) bool) (*sip.Message, netip.AddrPort) {
	ph.t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		ph.c.SetReadDeadline(deadline)
		n, from, err := ph.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil, netip.AddrPort{}
		}
		m, err := sip.Parse(append([]byte(nil), buf[:n]...))
		if err == nil && keep(m) {
			return m, from
		}
	}
}

func isRequest(method string) func(*sip.Message) bool {
	return func(m *sip.Message) bool { return m.Method == method }
}

func isFinal(m *sip.Message) bool { return m.IsResponse() && m.StatusCode >= 200 }

// invite builds an INVITE from the phone to target.
func (ph *phone) invite(target, from string) *sip.Message {
	u, err := sip.ParseURI(target)
	if err != nil {
		ph.t.Fatal(err)
	}
	f, _ := sip.ParseAddress("<" + from + ">;tag=" + sip.NewTag())
	to, _ := sip.ParseAddress("<" + target + ">")
	m := sip.NewRequest("INVITE", u, f, to, sip.NewCallID(), 1)
	m.Prepend("Via", "SIP/2.0/UDP "+ph.addr()+";rport;branch="+sip.NewBranch())
	m.Add("Contact", "<sip:caller@"+ph.addr()+">")
	return m
}

// answer answers req from the phone, to the address it came from.
func (ph *phone) answer(req *sip.Message, from netip.AddrPort, code int, hdrs ...sip.Header) {
	ph.t.Helper()
	res := sip.NewResponse(req, code, "")
	res.Headers = append(res.Headers, hdrs...)
	ph.send(from, res)
}

func TestBetter(t *testing.T) {
	for _, c := range []struct {
		a, b int
		want bool
	}{
		{603, 486, true}, {486, 603, false}, {302, 486, true}, {486, 302, false},
		{407, 486, true}, {486, 407, false}, {486, 408, false}, {500, 404, false},
		{404, 500, true}, {600, 200, true},
	} {
		if got := better(c.a, c.b); got != c.want {
			t.Errorf("better(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestLoopAndSpiral: a request that comes back unchanged is a loop (482),
// one whose Request-URI changed is a spiral and goes on (RFC 5393 §4.2).
func TestLoopAndSpiral(t *testing.T) {
	p := &Proxy{}
	p.init()
	req := sip.NewRequest("INVITE", sip.URI{Scheme: "sip", User: "bob", Host: "example.com"},
		sip.Address{URI: sip.URI{Scheme: "sip", User: "alice", Host: "example.com"}, Params: "tag=1"},
		sip.Address{URI: sip.URI{Scheme: "sip", User: "bob", Host: "example.com"}}, "c1", 1)
	req.Prepend("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKcaller")
	if p.looped(req, p.loopHash(req)) {
		t.Fatal("a request that never passed the proxy is a loop")
	}
	// The proxy forwards it: its Via carries the loop hash.
	req.Prepend("Via", "SIP/2.0/UDP 192.0.2.2;branch="+p.newBranch(p.loopHash(req), "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKcaller"))
	if !p.looped(req, p.loopHash(req)) {
		t.Error("the request back unchanged is not detected as a loop")
	}
	spiral := req.Clone()
	spiral.RequestURI.User = "bob-desk"
	if p.looped(spiral, p.loopHash(spiral)) {
		t.Error("a spiral (new Request-URI) is taken for a loop")
	}
	other := &Proxy{}
	other.init()
	if other.looped(req, other.loopHash(req)) {
		t.Error("another proxy (node) takes this proxy's Via for its own loop")
	}
}

// TestPreprocess is §16.4: this proxy's Route values are removed (twice
// when it record-routed twice), and a Request-URI that names it (a strict
// router before) is replaced by the last Route.
func TestPreprocess(t *testing.T) {
	p := &Proxy{Key: []byte("k")}
	p.init()
	set := &Settings{Self: func(host string, port int) bool { return host == "192.0.2.9" && port == 5060 }}
	parse := func(s string) *sip.Message {
		m, err := sip.Parse([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	rr := func(proto string, port uint16, host string) string {
		return p.recordRoute(proto, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.9"), port), "call-1", host, false)
	}
	base := "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\nFrom: <sip:a@example.com>;tag=1\nTo: <sip:b@example.com>;tag=2\n" +
		"Call-ID: call-1\nCSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n"

	m := parse("BYE sip:b@192.0.2.7 SIP/2.0\nRoute: " + rr("TCP", 5060, "next.example.net") + ", " + rr("UDP", 5060, "next.example.net") +
		", <sip:next.example.net;lr>\n" + base)
	if !p.preprocess(m, set) {
		t.Error("the proxy's own Route, signed for the next hop, was not recognised")
	}
	if r := m.Get("Route"); r != "<sip:next.example.net;lr>" {
		t.Errorf("after pre-processing Route is %q, want only the next hop's", r)
	}

	m = parse("BYE " + strings.Trim(rr("UDP", 5060, "192.0.2.7"), "<>") + " SIP/2.0\nRoute: <sip:b@192.0.2.7>\n" + base)
	if !p.preprocess(m, set) {
		t.Error("a signed Request-URI from a strict router was not recognised")
	}
	if m.RequestURI.String() != "sip:b@192.0.2.7" || m.Has("Route") {
		t.Errorf("strict router: Request-URI %s, Route %q; want sip:b@192.0.2.7 and none", m.RequestURI.String(), m.Get("Route"))
	}

	// Signed for one host, sent on to another: by the Request-URI, by maddr,
	// or by a strict-routing Route after the proxy's.
	for name, msg := range map[string]string{
		"Request-URI": "BYE sip:+15551234@carrier.example SIP/2.0\nRoute: " + rr("UDP", 5060, "192.0.2.7") + "\n",
		"maddr":       "BYE sip:b@192.0.2.7;maddr=carrier.example SIP/2.0\nRoute: " + rr("UDP", 5060, "192.0.2.7") + "\n",
		"strict":      "BYE sip:b@192.0.2.7 SIP/2.0\nRoute: " + rr("UDP", 5060, "192.0.2.7") + ", <sip:+15551234@carrier.example>\n",
	} {
		if p.preprocess(parse(msg+base), set) {
			t.Errorf("%s: a request sent on to another host than its Route was signed for passed", name)
		}
	}

	// An outbound-proxy Route naming the proxy's address is removed but
	// proves no dialog; a forged sb does not verify; an initial request is
	// never let through on a Route.
	m = parse("INVITE sip:b@example.com SIP/2.0\nRoute: <sip:192.0.2.9;lr>\n" + strings.Replace(base, ";tag=2", "", 1))
	if p.preprocess(m, set) || m.Has("Route") {
		t.Errorf("outbound-proxy Route: routed or left in place (%q)", m.Get("Route"))
	}
	m = parse("BYE sip:b@192.0.2.7 SIP/2.0\nRoute: <sip:192.0.2.9;lr;sb=00000000000000000000>\n" + base)
	if p.preprocess(m, set) {
		t.Error("a forged sb was taken for the proxy's Record-Route")
	}
	m = parse("INVITE sip:b@192.0.2.7 SIP/2.0\nRoute: " + rr("UDP", 5060, "192.0.2.7") + "\n" + strings.Replace(base, ";tag=2", "", 1))
	if p.preprocess(m, set) {
		t.Error("an initial request was let through on a signed Route")
	}
}

// TestSequentialForking: the contacts of the highest q are tried first, all
// at once; the next group only when every one of them failed.
func TestSequentialForking(t *testing.T) {
	h := newHarness(t, Settings{})
	high1, high2, low := newPhone(t), newPhone(t), newPhone(t)
	h.bind("bob", high1, 1000)
	h.bind("bob", high2, 1000)
	h.bind("bob", low, 500)
	caller := newPhone(t)
	inv := caller.invite("sip:bob@example.com", "sip:carol@elsewhere.example")
	caller.send(h.addr, inv)

	r1, f1 := high1.recv(2*time.Second, isRequest("INVITE"))
	r2, f2 := high2.recv(2*time.Second, isRequest("INVITE"))
	if r1 == nil || r2 == nil {
		t.Fatal("the q=1 contacts did not both get the INVITE")
	}
	if m, _ := low.recv(200*time.Millisecond, isRequest("INVITE")); m != nil {
		t.Fatal("the q=0.5 contact got the INVITE before the q=1 group ended")
	}
	high1.answer(r1, f1, 486)
	high2.answer(r2, f2, 480)
	r3, f3 := low.recv(2*time.Second, isRequest("INVITE"))
	if r3 == nil {
		t.Fatal("the q=0.5 contact was not tried after the q=1 group failed")
	}
	low.answer(r3, f3, 603)
	res, _ := caller.recv(2*time.Second, isFinal)
	if res == nil || res.StatusCode != 603 {
		t.Fatalf("caller got %v, want the 603 (a 6xx beats 486 and 480)", res)
	}
}

// forked is a call from an unauthenticated caller elsewhere to bob, whose
// two contacts a and b both got the INVITE (ra from fa, rb from fb).
type forked struct {
	caller, a, b *phone
	ra, rb       *sip.Message
	fa, fb       netip.AddrPort
}

func forkToTwo(t *testing.T) *forked {
	t.Helper()
	h := newHarness(t, Settings{})
	f := &forked{caller: newPhone(t), a: newPhone(t), b: newPhone(t)}
	h.bind("bob", f.a, -1)
	h.bind("bob", f.b, -1)
	f.caller.send(h.addr, f.caller.invite("sip:bob@example.com", "sip:carol@elsewhere.example"))
	f.ra, f.fa = f.a.recv(2*time.Second, isRequest("INVITE"))
	f.rb, f.fb = f.b.recv(2*time.Second, isRequest("INVITE"))
	if f.ra == nil || f.rb == nil {
		t.Fatal("both contacts should ring")
	}
	return f
}

// TestSixxCancels: a 6xx ends the search and cancels the other branches.
func TestSixxCancels(t *testing.T) {
	f := forkToTwo(t)
	f.b.answer(f.rb, f.fb, 180)
	f.a.answer(f.ra, f.fa, 603)
	c, cf := f.b.recv(2*time.Second, isRequest("CANCEL"))
	if c == nil {
		t.Fatal("the ringing branch got no CANCEL after the 603")
	}
	f.b.answer(c, cf, 200)
	f.b.answer(f.rb, f.fb, 487)
	res, _ := f.caller.recv(2*time.Second, isFinal)
	if res == nil || res.StatusCode != 603 {
		t.Fatalf("caller got %v, want 603", res)
	}
}

// TestChallengesAggregated: when every branch asks for credentials, the
// caller gets one 407 carrying all the challenges (§16.7 step 7).
func TestChallengesAggregated(t *testing.T) {
	f := forkToTwo(t)
	f.a.answer(f.ra, f.fa, 407, sip.NewHeader("Proxy-Authenticate", `Digest realm="a.example", nonce="1"`))
	f.b.answer(f.rb, f.fb, 401, sip.NewHeader("WWW-Authenticate", `Digest realm="b.example", nonce="2"`))
	res, _ := f.caller.recv(2*time.Second, isFinal)
	if res == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		t.Fatalf("caller got %v, want 401 or 407", res)
	}
	s := res.String()
	if !strings.Contains(s, `realm="a.example"`) || !strings.Contains(s, `realm="b.example"`) {
		t.Errorf("the challenge does not carry both branches' challenges:\n%s", s)
	}
}

// callBob starts a call from an unauthenticated caller elsewhere to bob,
// whose one contact is the returned phone.
func callBob(t *testing.T, set Settings) (bob, caller *phone) {
	t.Helper()
	h := newHarness(t, set)
	bob, caller = newPhone(t), newPhone(t)
	h.bind("bob", bob, -1)
	caller.send(h.addr, caller.invite("sip:bob@example.com", "sip:carol@elsewhere.example"))
	return bob, caller
}

// TestNoAnswer408: a contact that never answers gives 408 (Timer B with
// T1 20 ms: 1.28 s).
func TestNoAnswer408(t *testing.T) {
	_, caller := callBob(t, Settings{})
	res, _ := caller.recv(5*time.Second, isFinal)
	if res == nil || res.StatusCode != 408 {
		t.Fatalf("caller got %v, want 408", res)
	}
}

// TestTimerC: a branch that rings longer than Timer C is cancelled and the
// caller gets the 487 it answers.
func TestTimerC(t *testing.T) {
	ringing, caller := callBob(t, Settings{TimerC: 300 * time.Millisecond})
	r, f := ringing.recv(2*time.Second, isRequest("INVITE"))
	if r == nil {
		t.Fatal("no INVITE")
	}
	ringing.answer(r, f, 180)
	start := time.Now()
	c, cf := ringing.recv(3*time.Second, isRequest("CANCEL"))
	if c == nil {
		t.Fatal("Timer C did not cancel the ringing branch")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("CANCEL after %v, before Timer C (300 ms)", d)
	}
	ringing.answer(c, cf, 200)
	ringing.answer(r, f, 487)
	res, _ := caller.recv(2*time.Second, isFinal)
	if res == nil || res.StatusCode != 487 {
		t.Fatalf("caller got %v, want 487", res)
	}
}

// TestUnknownAndUnreachable: a local user with no binding gets 480 (or 404
// without an account); a foreign target from a trusted source that does
// not resolve gets 500 (a 503 for the unreachable next hop, §16.9, turned
// into 500 by §16.7 step 6).
func TestUnknownAndUnreachable(t *testing.T) {
	h := newHarness(t, Settings{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, func(p *Proxy) {
		p.Exists = func(_ context.Context, user, _ string) (bool, error) { return user == "known", nil }
	})
	caller := newPhone(t)
	for target, want := range map[string]int{
		"sip:known@example.com":           480,
		"sip:nobody@example.com":          404,
		"sip:x@unresolvable.invalid":      500,
		"sip:x@127.0.0.1:1;transport=tcp": 500,
	} {
		caller.send(h.addr, caller.invite(target, "sip:carol@elsewhere.example"))
		res, _ := caller.recv(5*time.Second, isFinal)
		if res == nil || res.StatusCode != want {
			t.Errorf("INVITE %s: %v, want %d", target, res, want)
		}
	}
}

// TestStrayTwoHundredForwarded: a 2xx retransmitted after the proxy's
// transactions ended goes on to the caller statelessly (RFC 6026 §8.4).
func TestStrayTwoHundredForwarded(t *testing.T) {
	h := newHarness(t, Settings{})
	caller := newPhone(t)
	res := sip.NewResponse(caller.invite("sip:bob@example.com", "sip:carol@elsewhere.example"), 200, "")
	up, _ := res.Via()
	// The proxy's Via on top, made for a request from the caller's Via.
	res.Prepend("Via", "SIP/2.0/UDP "+h.addr.String()+";branch="+h.p.newBranch("0011223344556677", up.String()))
	callee := newPhone(t)
	callee.send(h.addr, res)
	got, _ := caller.recv(2*time.Second, isFinal)
	if got == nil || got.StatusCode != 200 || count(got) != 1 {
		t.Fatalf("the caller got %v, want the 200 with its own Via only", got)
	}
	// A branch that looks like the proxy's but was not made for this next
	// Via (a forged one, or one sent elsewhere), or not the proxy's at all:
	// dropped.
	for _, b := range []string{"z9hG4bKSb0011223344556677.AAAAAAAAAAAAAAAA0123456789abcdef", "z9hG4bKother",
		h.p.newBranch("0011223344556677", "SIP/2.0/UDP 192.0.2.1:5060")} {
		res.Headers[0] = sip.NewHeader("Via", "SIP/2.0/UDP "+h.addr.String()+";branch="+b)
		callee.send(h.addr, res)
		if got, _ := caller.recv(300*time.Millisecond, isFinal); got != nil {
			t.Errorf("a response with top branch %s was forwarded", b)
		}
	}
}

// TestResponseWithoutNextVia: a final response that carries no Via but the
// proxy's cannot be relayed; the caller still gets an answer (502).
func TestResponseWithoutNextVia(t *testing.T) {
	bob, caller := callBob(t, Settings{})
	r, from := bob.recv(2*time.Second, isRequest("INVITE"))
	if r == nil {
		t.Fatal("no INVITE at bob")
	}
	res := sip.NewResponse(r, 486, "")
	top, _ := res.RemoveFirst("Via")
	res.Del("Via")
	res.Prepend("Via", top)
	bob.send(from, res)
	if got, _ := caller.recv(3*time.Second, isFinal); got == nil || got.StatusCode != 502 {
		t.Errorf("caller got %v, want 502", got)
	}
}

func count(m *sip.Message) int {
	n := 0
	for range m.Vias() {
		n++
	}
	return n
}

// TestPathAndStrictRouter: a contact registered with Path is reached
// through the Path (RFC 3327 §5.3): the copy's Route starts with it and it
// goes to the Path's first hop. When that hop is a strict router (no lr),
// the copy's Request-URI is the Route URI and the contact moves to the
// last Route (§16.6 step 7).
func TestPathAndStrictRouter(t *testing.T) {
	for _, lr := range []bool{true, false} {
		t.Run(fmt.Sprintf("lr=%v", lr), func(t *testing.T) {
			h := newHarness(t, Settings{})
			edge := newPhone(t)
			path := "<sip:edge@" + edge.addr() + ";lr>"
			if !lr {
				path = "<sip:edge@" + edge.addr() + ">"
			}
			now := time.Now()
			_, err := h.loc.Update(context.Background(), "sip:bob@example.com", now, func([]location.Binding) ([]location.Binding, error) {
				return []location.Binding{{Contact: "sip:bob@192.0.2.77:5060", Q: -1, Expires: now.Add(time.Hour),
					CallID: "c", CSeq: 1, Transport: "UDP", Path: []string{path}}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			caller := newPhone(t)
			caller.send(h.addr, caller.invite("sip:bob@example.com", "sip:carol@elsewhere.example"))
			r, from := edge.recv(2*time.Second, isRequest("INVITE"))
			if r == nil {
				t.Fatal("the INVITE did not go to the Path's hop")
			}
			var routes []string
			for a, err := range r.Routes() {
				if err == nil {
					routes = append(routes, a.URI.String())
				}
			}
			if lr {
				if r.RequestURI.String() != "sip:bob@192.0.2.77:5060" || len(routes) != 1 || routes[0] != "sip:edge@"+edge.addr()+";lr" {
					t.Errorf("loose Path: Request-URI %s, Route %v", r.RequestURI.String(), routes)
				}
			} else if r.RequestURI.String() != "sip:edge@"+edge.addr() || len(routes) != 1 || routes[0] != "sip:bob@192.0.2.77:5060" {
				t.Errorf("strict router: Request-URI %s, Route %v; want the hop as Request-URI and the contact as last Route", r.RequestURI.String(), routes)
			}
			edge.answer(r, from, 486)
			if res, _ := caller.recv(2*time.Second, isFinal); res == nil || res.StatusCode != 486 {
				t.Errorf("caller got %v, want 486", res)
			}
		})
	}
}

// TestLocalOnlyAndTrusted: with LocalOnly an unauthenticated caller from
// elsewhere cannot reach a local user, a trusted source can; without it
// anyone can. Nobody unauthenticated reaches another domain.
func TestLocalOnlyAndTrusted(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     Settings
		target  string
		want    int
		reaches bool
	}{
		{"open to local users", Settings{}, "sip:bob@example.com", 486, true},
		{"local only", Settings{LocalOnly: true}, "sip:bob@example.com", 403, false},
		{"local only, trusted", Settings{LocalOnly: true, Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, "sip:bob@example.com", 486, true},
		{"relay", Settings{}, "sip:bob@elsewhere.example", 403, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.set)
			bob := newPhone(t)
			h.bind("bob", bob, -1)
			caller := newPhone(t)
			caller.send(h.addr, caller.invite(c.target, "sip:carol@elsewhere.example"))
			if r, from := bob.recv(time.Second, isRequest("INVITE")); r != nil {
				if !c.reaches {
					t.Fatal("the INVITE reached bob")
				}
				bob.answer(r, from, 486)
			} else if c.reaches {
				t.Fatal("the INVITE did not reach bob")
			}
			if res, _ := caller.recv(2*time.Second, isFinal); res == nil || res.StatusCode != c.want {
				t.Errorf("caller got %v, want %d", res, c.want)
			}
		})
	}
}

// TestDialogScope: a caller from elsewhere, unauthenticated, may call a
// local user; the Record-Route of that dialog lets its later requests reach
// that user's host only. A BYE (or re-INVITE) whose Request-URI was
// changed to another host is refused as relaying, whatever Route it
// carries; one to the callee goes through.
func TestDialogScope(t *testing.T) {
	h := newHarness(t, Settings{})
	bob := newPhoneAt(t, net.IPv4(127, 0, 0, 2)) // another host than the caller's
	h.bind("bob", bob, -1)
	caller := newPhone(t)
	inv := caller.invite("sip:bob@example.com", "sip:mallory@elsewhere.example")
	caller.send(h.addr, inv)
	r, from := bob.recv(2*time.Second, isRequest("INVITE"))
	if r == nil {
		t.Fatal("no INVITE at bob")
	}
	routes := func(m *sip.Message, reverse bool) string {
		var rr []string
		for a, err := range m.RecordRoutes() {
			if err == nil {
				rr = append(rr, "<"+a.URI.String()+">")
			}
		}
		if reverse {
			slices.Reverse(rr)
		}
		return strings.Join(rr, ", ")
	}
	bobsRoute := routes(r, false)     // the callee's copy: toward the caller's host
	ok := sip.NewResponse(r, 200, "") // Record-Route copied (§12.1.1)
	ok.Add("Contact", "<sip:bob@"+bob.addr()+">")
	bob.send(from, ok)
	res, _ := caller.recv(2*time.Second, isFinal)
	if res == nil || res.StatusCode != 200 {
		t.Fatalf("caller got %v, want 200", res)
	}
	callersRoute := routes(res, true) // the caller's copy, rewritten by the proxy: toward bob's host
	if callersRoute == bobsRoute || strings.Count(callersRoute, "<") != 1 {
		t.Errorf("the proxy did not rewrite its Record-Route for the caller: %s (callee's: %s)", callersRoute, bobsRoute)
	}
	request := func(method, target, route, fromHdr, toHdr string) *sip.Message {
		u, _ := sip.ParseURI(target)
		m := sip.NewRequest(method, u, sip.Address{}, sip.Address{}, inv.CallID(), 2)
		m.Headers = m.Headers[:0]
		m.Add("Via", "SIP/2.0/UDP "+caller.addr()+";rport;branch="+sip.NewBranch())
		m.Add("From", fromHdr)
		m.Add("To", toHdr)
		m.Add("Call-ID", inv.CallID())
		m.Add("CSeq", "2 "+method)
		m.Add("Max-Forwards", "70")
		m.Add("Route", route)
		return m
	}
	// The caller's requests sent on to another host, by the Request-URI, by
	// maddr, or with the callee's copy of the route set: refused.
	for name, m := range map[string]*sip.Message{
		"Request-URI":             request("BYE", "sip:+15551234@192.0.2.99", callersRoute, inv.Get("From"), res.Get("To")),
		"maddr":                   request("BYE", "sip:bob@"+bob.addr()+";maddr=192.0.2.99", callersRoute, inv.Get("From"), res.Get("To")),
		"callee's routes":         request("INVITE", "sip:+15551234@192.0.2.99", bobsRoute, inv.Get("From"), res.Get("To")),
		"callee's routes, to bob": request("BYE", "sip:bob@"+bob.addr(), bobsRoute, inv.Get("From"), res.Get("To")),
	} {
		caller.send(h.addr, m)
		if got, _ := caller.recv(2*time.Second, isFinal); got == nil || got.StatusCode != 403 {
			t.Errorf("%s: %v, want 403", name, got)
		}
	}
	caller.send(h.addr, request("BYE", "sip:bob@"+bob.addr(), callersRoute, inv.Get("From"), res.Get("To")))
	b, bf := bob.recv(2*time.Second, isRequest("BYE"))
	if b == nil {
		t.Fatal("the BYE to bob did not reach him")
	}
	bob.answer(b, bf, 200)
	if got, _ := caller.recv(2*time.Second, isFinal); got == nil || got.StatusCode != 200 {
		t.Errorf("BYE to bob: %v, want 200", got)
	}
}

// TestGRUUTarget: a public GRUU reaches the contacts of its instance only
// (RFC 5627 §5.4), also as the remote target of a request within a dialog.
func TestGRUUTarget(t *testing.T) {
	h := newHarness(t, Settings{})
	a, b := newPhone(t), newPhone(t)
	now := time.Now()
	_, err := h.loc.Update(context.Background(), "sip:bob@example.com", now, func([]location.Binding) ([]location.Binding, error) {
		return []location.Binding{
			{Contact: "sip:bob@" + a.addr(), Q: -1, Expires: now.Add(time.Hour), CallID: "c", CSeq: 1, Transport: "UDP",
				Instance: "<urn:uuid:00000000-0000-0000-0000-00000000000a>", RegID: 0},
			{Contact: "sip:bob@" + b.addr(), Q: -1, Expires: now.Add(time.Hour), CallID: "c", CSeq: 1, Transport: "UDP",
				Instance: "<urn:uuid:00000000-0000-0000-0000-00000000000b>", RegID: 0},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	caller := newPhone(t)
	gruu := "sip:bob@example.com;gr=urn:uuid:00000000-0000-0000-0000-00000000000b"
	for _, inDialog := range []bool{false, true} {
		inv := caller.invite(gruu, "sip:carol@elsewhere.example")
		if inDialog {
			to := inv.Get("To")
			inv.Set("To", to+";tag=x")
			inv.Add("Route", h.p.recordRoute("UDP", h.addr, inv.CallID(), "example.com", false))
		}
		caller.send(h.addr, inv)
		r, from := b.recv(2*time.Second, isRequest("INVITE"))
		if r == nil {
			t.Fatalf("in dialog %v: the GRUU's instance got no INVITE", inDialog)
		}
		if m, _ := a.recv(200*time.Millisecond, isRequest("INVITE")); m != nil {
			t.Errorf("in dialog %v: the other instance got the INVITE", inDialog)
		}
		b.answer(r, from, 486)
		if res, _ := caller.recv(2*time.Second, isFinal); res == nil || res.StatusCode != 486 {
			t.Errorf("in dialog %v: caller got %v, want 486", inDialog, res)
		}
	}
}
