package proxy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// BenchmarkProxyCall runs whole calls through the proxy over loopback UDP,
// one after the other: INVITE (100 from the proxy), 200, ACK, BYE, 200, with
// Record-Route, a location lookup and a relayed 2xx, as the SIPp benchmark
// (bench/sipp/run.sh, SCENARIO=call) does at load. The caller and callee
// are the benchmark's own sockets, so ns/op and allocs/op include them;
// the proxy's share is most of it.
func BenchmarkProxyCall(b *testing.B) {
	h := newHarness(b, Settings{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	caller, callee := newPhone(b), newPhone(b)
	h.bind("bob", callee, -1)
	d := 2 * time.Second
	b.ReportAllocs()
	for b.Loop() {
		inv := caller.invite("sip:bob@example.com", "sip:carol@elsewhere.example")
		caller.send(h.addr, inv)
		r, from := callee.recv(d, isRequest("INVITE"))
		if r == nil {
			b.Fatal("no INVITE at the callee")
		}
		ok := sip.NewResponse(r, 200, "")
		for rr, err := range r.RecordRoutes() {
			if err == nil {
				ok.Add("Record-Route", rr.String())
			}
		}
		ok.Add("Contact", "<sip:bob@"+callee.addr()+">")
		callee.send(from, ok)
		res, _ := caller.recv(d, isFinal)
		if res == nil || res.StatusCode != 200 {
			b.Fatalf("caller got %v", res)
		}
		to := res.Get("To")
		route := h.p.recordRoute("UDP", h.addr, inv.CallID(), "127.0.0.1", false)
		for _, method := range []string{"ACK", "BYE"} {
			u, _ := sip.ParseURI("sip:bob@" + callee.addr())
			m := sip.NewRequest(method, u, sip.Address{}, sip.Address{}, inv.CallID(), 2)
			m.Headers = m.Headers[:0]
			m.Add("Via", "SIP/2.0/UDP "+caller.addr()+";rport;branch="+sip.NewBranch())
			m.Add("From", inv.Get("From"))
			m.Add("To", to)
			m.Add("Call-ID", inv.CallID())
			if method == "ACK" {
				m.Add("CSeq", "1 ACK")
			} else {
				m.Add("CSeq", "2 BYE")
			}
			m.Add("Route", route)
			m.Add("Max-Forwards", "70")
			caller.send(h.addr, m)
			got, from := callee.recv(d, isRequest(method))
			if got == nil {
				b.Fatalf("no %s at the callee", method)
			}
			if method == "BYE" {
				callee.send(from, sip.NewResponse(got, 200, ""))
				if res, _ := caller.recv(d, isFinal); res == nil {
					b.Fatal("no 200 for BYE")
				}
			}
		}
	}
}
