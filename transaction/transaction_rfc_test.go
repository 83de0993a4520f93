package transaction

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// fakeTransport records what the transaction layer sends, with the fake
// time of the synctest bubble.
type fakeTransport struct {
	start time.Time
	fail  error

	mu   sync.Mutex
	sent []sent
}

type sent struct {
	at   time.Duration
	what string // "INVITE", "ACK", "200" …
	msg  *sip.Message
}

func newFake() *fakeTransport { return &fakeTransport{start: time.Now()} }

func (f *fakeTransport) record(m *sip.Message) {
	what := m.Method
	if what == "" {
		what = fmt.Sprint(m.StatusCode)
	}
	f.mu.Lock()
	f.sent = append(f.sent, sent{at: time.Since(f.start), what: what, msg: m})
	f.mu.Unlock()
}

func (f *fakeTransport) SendRequest(req *sip.Message, dst transport.Flow) (transport.Flow, error) {
	if f.fail != nil {
		return dst, f.fail
	}
	f.record(req)
	return dst, nil
}

func (f *fakeTransport) SendResponseWire(res *sip.Message, src transport.Flow) (transport.Wire, error) {
	if f.fail != nil {
		return transport.Wire{}, f.fail
	}
	f.record(res)
	return transport.Wire{Bytes: res.Bytes(), To: src}, nil
}

// Resend records the response that the bytes hold.
func (f *fakeTransport) Resend(w transport.Wire) error {
	if f.fail != nil {
		return f.fail
	}
	m, err := sip.Parse(append([]byte(nil), w.Bytes...))
	if err != nil {
		return err
	}
	f.record(m)
	return nil
}

// log returns what was sent as "what@seconds" entries.
func (f *fakeTransport) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.sent {
		out = append(out, fmt.Sprintf("%s@%g", s.what, s.at.Seconds()))
	}
	return out
}

func (f *fakeTransport) last() *sip.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[len(f.sent)-1].msg
}

var (
	udpFlow = transport.Flow{Proto: transport.UDP, Remote: netip.MustParseAddrPort("192.0.2.1:5060")}
	tcpFlow = transport.Flow{Proto: transport.TCP, Remote: netip.MustParseAddrPort("192.0.2.1:5060"), Conn: 7}
)

func request(method, branch string) *sip.Message {
	s := method + " sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=" + branch + "\r\n" +
		"Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\n" +
		"From: <sip:alice@atlanta.example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\n" +
		"CSeq: 314159 " + method + "\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.Parse([]byte(s))
	if err != nil {
		panic(err)
	}
	return m
}

// reply builds the response a peer sends to req.
func reply(req *sip.Message, code int) *sip.Message {
	res := sip.NewResponse(req, code, "")
	back, err := sip.Parse(res.Bytes())
	if err != nil {
		panic(err)
	}
	return back
}

// ackFor builds the ACK a UAC sends for res: for a 2xx a new branch (§13.2.2.4),
// otherwise the INVITE's branch (§17.1.1.3).
func ackFor(inv, res *sip.Message, branch string) *sip.Message {
	ack := request("ACK", branch)
	ack.Set("To", res.Get("To"))
	ack.Set("CSeq", "314159 ACK")
	return ack
}

// want builds expected log entries: want("INVITE", 0, 0.5) → ["INVITE@0" "INVITE@0.5"].
func want(what string, at ...float64) []string {
	var out []string
	for _, a := range at {
		out = append(out, fmt.Sprintf("%s@%g", what, a))
	}
	return out
}

func check(t *testing.T, got []string, want ...[]string) {
	t.Helper()
	w := slices.Concat(want...)
	if !slices.Equal(got, w) {
		t.Errorf("sent:\n got  %v\n want %v", got, w)
	}
}

// TestClientNonInviteTimeout: Figure 6 over UDP with no answer. Timer E
// doubles up to T2 (§17.1.2.2) and Timer F ends it at 64*T1.
func TestClientNonInviteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l := &Layer{Transport: f}
		tx, err := l.Request(request("OPTIONS", "z9hG4bKnoanswer"), udpFlow, nil)
		if err != nil {
			t.Fatal(err)
		}
		<-tx.Done()
		if !errors.Is(tx.Err(), ErrTimeout) || time.Since(f.start) != 32*time.Second {
			t.Errorf("ended after %v with %v; want Timer F at 32s", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("OPTIONS", 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5))
		if s, c := l.Len(); s+c != 0 {
			t.Errorf("table not empty: %d server, %d client", s, c)
		}
	})
}

// TestClientNonInviteReliable: over TCP nothing is retransmitted.
func TestClientNonInviteReliable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l := &Layer{Transport: f}
		req := request("OPTIONS", "z9hG4bKtcp")
		var got []int
		tx, _ := l.Request(req, tcpFlow, func(r *sip.Message) { got = append(got, r.StatusCode) })
		time.Sleep(2 * time.Second)
		l.Receive(reply(req, 200), tcpFlow)
		synctest.Wait()
		if tx.State() != Terminated || tx.Err() != nil {
			t.Errorf("state %v err %v; want Terminated at once (Timer K = 0)", tx.State(), tx.Err())
		}
		check(t, f.log(), want("OPTIONS", 0))
		if !slices.Equal(got, []int{200}) {
			t.Errorf("TU saw %v", got)
		}
	})
}

// TestClientNonInviteProceeding: after a 1xx Timer E fires every T2; the
// final response moves to Completed, which Timer K (T4) ends; a retransmitted
// final is absorbed.
func TestClientNonInviteProceeding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l := &Layer{Transport: f}
		req := request("REGISTER", "z9hG4bKreg")
		var got []int
		tx, _ := l.Request(req, udpFlow, func(r *sip.Message) { got = append(got, r.StatusCode) })
		time.Sleep(600 * time.Millisecond) // one retransmission at 0.5
		l.Receive(reply(req, 100), udpFlow)
		time.Sleep(9 * time.Second) // E at 1.5 was armed before the 1xx; then every T2
		final := reply(req, 200)
		l.Receive(final, udpFlow)
		if tx.State() != Completed {
			t.Fatalf("state %v, want Completed", tx.State())
		}
		l.Receive(final, udpFlow) // retransmission: absorbed
		<-tx.Done()
		if d := time.Since(f.start); d != 9600*time.Millisecond+5*time.Second {
			t.Errorf("terminated at %v, want T4 after the final response", d)
		}
		check(t, f.log(), want("REGISTER", 0, 0.5, 1.5, 5.5, 9.5))
		if !slices.Equal(got, []int{100, 200}) {
			t.Errorf("TU saw %v, want [100 200]", got)
		}
	})
}

// TestClientInviteTimeout: Figure 5 over UDP with no answer. Timer A doubles
// without bound, Timer B ends it at 64*T1.
func TestClientInviteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l := &Layer{Transport: f}
		tx, _ := l.Request(request("INVITE", "z9hG4bKinv"), udpFlow, nil)
		<-tx.Done()
		if !errors.Is(tx.Err(), ErrTimeout) || time.Since(f.start) != 32*time.Second {
			t.Errorf("ended after %v with %v; want Timer B at 32s", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("INVITE", 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5))
	})
}

// TestClientInviteFailure: 180 then 486. The transaction ACKs the 486 with
// the INVITE's branch, answers a retransmitted 486 with the ACK again, and
// Timer D ends it; the TU sees each response once.
func TestClientInviteFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l := &Layer{Transport: f}
		req := request("INVITE", "z9hG4bKbusy")
		req.Add("Route", "<sip:p1.example.com;lr>")
		var got []int
		tx, _ := l.Request(req, udpFlow, func(r *sip.Message) { got = append(got, r.StatusCode) })
		time.Sleep(time.Second)
		l.Receive(reply(req, 180), udpFlow)
		time.Sleep(10 * time.Second) // no retransmissions in Proceeding, no Timer B
		busy := reply(req, 486)
		l.Receive(busy, udpFlow)
		ack := f.last()
		time.Sleep(time.Second)
		l.Receive(busy, udpFlow)
		<-tx.Done()
		if tx.Err() != nil || time.Since(f.start) != 43*time.Second {
			t.Errorf("ended at %v with %v; want Timer D 32s after the 486", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("INVITE", 0, 0.5), want("ACK", 11, 12))
		if !slices.Equal(got, []int{180, 486}) {
			t.Errorf("TU saw %v", got)
		}
		v, _ := ack.Via()
		if v.Branch() != "z9hG4bKbusy" || ack.Get("To") != busy.Get("To") || ack.Get("CSeq") != "314159 ACK" ||
			ack.Get("Route") != "<sip:p1.example.com;lr>" || ack.RequestURI != req.RequestURI {
			t.Errorf("ACK is not per §17.1.1.3:\n%s", ack)
		}
	})
}

// TestClientInviteAccepted: RFC 6026 — a 2xx moves to Accepted, every 2xx
// (retransmissions, forks) reaches the TU, and Timer M ends it. The
// transaction sends no ACK for a 2xx.
func TestClientInviteAccepted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l := &Layer{Transport: f}
		req := request("INVITE", "z9hG4bKok")
		var got []int
		tx, _ := l.Request(req, udpFlow, func(r *sip.Message) { got = append(got, r.StatusCode) })
		ok := reply(req, 200)
		l.Receive(ok, udpFlow)
		if tx.State() != Accepted {
			t.Fatalf("state %v, want Accepted", tx.State())
		}
		time.Sleep(4 * time.Second)
		l.Receive(ok, udpFlow)
		l.Receive(reply(req, 486), udpFlow) // not a 2xx: absorbed
		<-tx.Done()
		if time.Since(f.start) != 32*time.Second || tx.Err() != nil {
			t.Errorf("ended at %v with %v; want Timer M at 32s", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("INVITE", 0))
		if !slices.Equal(got, []int{200, 200}) {
			t.Errorf("TU saw %v, want both 2xx", got)
		}
	})
}

// serverLayer returns a layer whose TU records new transactions and ACKs.
func serverLayer(f *fakeTransport) (*Layer, *[]*ServerTx, *[]*sip.Message) {
	var txs []*ServerTx
	var acks []*sip.Message
	l := &Layer{Transport: f,
		OnRequest: func(tx *ServerTx) { txs = append(txs, tx) },
		OnAck:     func(ack *sip.Message, _ transport.Flow) { acks = append(acks, ack) },
	}
	return l, &txs, &acks
}

// TestServerNonInvite: Figure 8 over UDP. Retransmissions in Trying are
// absorbed, in Completed answered with the final response; Timer J ends it.
func TestServerNonInvite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		req := request("OPTIONS", "z9hG4bKopt")
		l.Receive(req, udpFlow)
		time.Sleep(time.Second)
		l.Receive(req, udpFlow) // Trying: absorbed
		if len(*txs) != 1 {
			t.Fatalf("TU saw %d requests, want 1", len(*txs))
		}
		tx := (*txs)[0]
		if tx.Request() != req {
			t.Fatal("Request is not the request while Trying")
		}
		if err := tx.Respond(sip.NewResponse(req, 200, "")); err != nil {
			t.Fatal(err)
		}
		if tx.Request() != nil {
			t.Error("Completed keeps the request; it needs only the response's bytes")
		}
		time.Sleep(time.Second)
		l.Receive(req, udpFlow)
		if a, b := f.sent[len(f.sent)-2].msg.Bytes(), f.last().Bytes(); string(a) != string(b) {
			t.Errorf("retransmitted response differs:\n%s\nfirst sent:\n%s", b, a)
		}
		<-tx.Done()
		if time.Since(f.start) != 33*time.Second {
			t.Errorf("ended at %v, want Timer J 32s after the 200", time.Since(f.start))
		}
		check(t, f.log(), want("200", 1, 2))
		if err := tx.Respond(sip.NewResponse(req, 200, "")); !errors.Is(err, ErrTerminated) {
			t.Errorf("Respond after the end: %v", err)
		}
	})
}

// TestServerInviteRejected: Figure 7 over UDP. 100 Trying goes out after
// 200 ms without a TU answer; the 486 is retransmitted by Timer G until the
// ACK, then Timer I ends the Confirmed state.
func TestServerInviteRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, acks := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv1")
		l.Receive(inv, udpFlow)
		time.Sleep(time.Second)
		l.Receive(inv, udpFlow) // answered with the 100
		tx := (*txs)[0]
		busy := sip.NewResponse(inv, 486, "")
		tx.Respond(busy)
		time.Sleep(2 * time.Second) // G at 1.5 and 2.5 (since the 486 at 1)
		l.Receive(ackFor(inv, busy, "z9hG4bKinv1"), udpFlow)
		if tx.State() != Confirmed {
			t.Fatalf("state %v, want Confirmed", tx.State())
		}
		<-tx.Done()
		if time.Since(f.start) != 8*time.Second || tx.Err() != nil {
			t.Errorf("ended at %v with %v; want Timer I (T4) after the ACK", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("100", 0.2, 1), want("486", 1, 1.5, 2.5))
		if len(*acks) != 0 {
			t.Errorf("an absorbed ACK reached the TU")
		}
	})
}

// TestServerInviteAckLost: without an ACK Timer G retransmits the final
// response (doubling up to T2) until Timer H, which reports ErrTimeout.
func TestServerInviteAckLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv2")
		l.Receive(inv, udpFlow)
		tx := (*txs)[0]
		tx.Respond(sip.NewResponse(inv, 603, ""))
		<-tx.Done()
		if !errors.Is(tx.Err(), ErrTimeout) || time.Since(f.start) != 32*time.Second {
			t.Errorf("ended at %v with %v; want Timer H at 32s", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("603", 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5))
	})
}

// TestServerInviteAccepted: RFC 6026 — the 2xx is retransmitted (T1
// doubling up to T2) until the ACK, which has a branch of its own and goes
// to the TU; retransmitted INVITEs are absorbed; Timer L ends it.
func TestServerInviteAccepted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, acks := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv3")
		l.Receive(inv, udpFlow)
		tx := (*txs)[0]
		ok := sip.NewResponse(inv, 200, "")
		tx.Respond(ok)
		time.Sleep(2 * time.Second)
		l.Receive(inv, udpFlow) // absorbed
		l.Receive(ackFor(inv, ok, "z9hG4bKack3"), udpFlow)
		<-tx.Done()
		if tx.Err() != nil || !tx.Acked() || time.Since(f.start) != 32*time.Second {
			t.Errorf("ended at %v with %v (acked %v); want Timer L at 32s", time.Since(f.start), tx.Err(), tx.Acked())
		}
		check(t, f.log(), want("200", 0, 0.5, 1.5))
		if len(*acks) != 1 {
			t.Errorf("TU got %d ACKs, want 1", len(*acks))
		}
	})
}

// TestServerInviteAcceptedNoAck: a 2xx whose ACK never comes is
// retransmitted until Timer L, which reports ErrTimeout.
func TestServerInviteAcceptedNoAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv4")
		l.Receive(inv, udpFlow)
		tx := (*txs)[0]
		tx.Respond(sip.NewResponse(inv, 200, ""))
		<-tx.Done()
		if !errors.Is(tx.Err(), ErrTimeout) {
			t.Errorf("err %v, want ErrTimeout from Timer L", tx.Err())
		}
		check(t, f.log(), want("200", 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5))
	})
}

// TestServerInviteReliable: over TCP neither the 100 Trying answer to a
// retransmission nor Timer G applies; the ACK ends the transaction at once.
func TestServerInviteReliable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv5")
		l.Receive(inv, tcpFlow)
		tx := (*txs)[0]
		busy := sip.NewResponse(inv, 486, "")
		tx.Respond(busy)
		time.Sleep(10 * time.Second)
		l.Receive(ackFor(inv, busy, "z9hG4bKinv5"), tcpFlow)
		synctest.Wait()
		if tx.State() != Terminated {
			t.Errorf("state %v, want Terminated (Timer I = 0)", tx.State())
		}
		check(t, f.log(), want("486", 0))
	})
}

// TestServerCancel: a CANCEL is its own transaction, matched to the INVITE
// it cancels (§9.2).
func TestServerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv6")
		l.Receive(inv, udpFlow)
		l.Receive(request("CANCEL", "z9hG4bKinv6"), udpFlow)
		if len(*txs) != 2 {
			t.Fatalf("TU saw %d transactions, want INVITE and CANCEL", len(*txs))
		}
		invTx, cancelTx := (*txs)[0], (*txs)[1]
		if cancelTx.Cancels != invTx {
			t.Fatal("CANCEL not matched to its INVITE")
		}
		select {
		case <-invTx.Cancelled():
		default:
			t.Fatal("INVITE transaction not told of the CANCEL")
		}
		l.Receive(request("CANCEL", "z9hG4bKother"), udpFlow)
		if (*txs)[2].Cancels != nil {
			t.Error("CANCEL for an unknown INVITE matched something")
		}
	})
}

// TestServerRFC2543Matching: a branch without the magic cookie matches by
// the RFC 2543 identifiers, and the ACK for the final response too.
func TestServerRFC2543Matching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, acks := serverLayer(f)
		inv := request("INVITE", "old2543")
		l.Receive(inv, udpFlow)
		l.Receive(inv, udpFlow)
		if len(*txs) != 1 {
			t.Fatalf("retransmission became a new transaction")
		}
		tx := (*txs)[0]
		busy := sip.NewResponse(inv, 486, "")
		tx.Respond(busy)
		l.Receive(ackFor(inv, busy, "old2543"), udpFlow)
		if tx.State() != Confirmed || len(*acks) != 0 {
			t.Errorf("state %v, %d ACKs to the TU; want the ACK absorbed", tx.State(), len(*acks))
		}
	})
}

// TestStrayResponseAndTransportError: a response for no transaction goes to
// OnStrayResponse; a transport error ends a client transaction at once.
func TestStrayResponseAndTransportError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		var stray []*sip.Message
		l := &Layer{Transport: f, OnStrayResponse: func(r *sip.Message, _ transport.Flow) { stray = append(stray, r) }}
		req := request("OPTIONS", "z9hG4bKa")
		l.Request(req, udpFlow, nil)
		l.Receive(reply(request("OPTIONS", "z9hG4bKb"), 200), udpFlow)
		l.Receive(reply(request("INVITE", "z9hG4bKa"), 200), udpFlow) // same branch, other method
		if len(stray) != 2 {
			t.Errorf("%d stray responses, want 2", len(stray))
		}
		f.fail = errors.New("connection refused")
		_, err := l.Request(request("OPTIONS", "z9hG4bKc"), udpFlow, nil)
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("transport error not reported: %v", err)
		}
	})
}

// TestServerInviteRelayed: a 2xx a proxy relays (Relay) is sent once and
// not retransmitted by the transaction (§13.3.1.4 leaves that to the UAS
// core; the UAS's own retransmissions are relayed as they come), while
// the transaction still lets further 2xx through and ends with Timer L.
func TestServerInviteRelayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		inv := request("INVITE", "z9hG4bKinv9")
		l.Receive(inv, udpFlow)
		tx := (*txs)[0]
		if err := tx.Relay(sip.NewResponse(inv, 200, "")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		if err := tx.Relay(sip.NewResponse(inv, 200, "")); err != nil {
			t.Errorf("a further 2xx: %v", err)
		}
		if err := tx.Relay(sip.NewResponse(inv, 486, "")); err == nil {
			t.Error("a 486 after the 2xx was accepted")
		}
		<-tx.Done()
		if !errors.Is(tx.Err(), ErrTimeout) || time.Since(f.start) != 32*time.Second {
			t.Errorf("ended at %v with %v; want Timer L at 32s", time.Since(f.start), tx.Err())
		}
		check(t, f.log(), want("200", 0, 4))
	})
}

// TestClientInviteAbandoned: an INVITE that got a provisional response and
// nothing more has no timer left (§17.1.1.2); Abandon ends it with
// ErrTimeout, and a response after that reaches nobody.
func TestClientInviteAbandoned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		var l Layer
		l.Transport = f
		var got []int
		inv := request("INVITE", "z9hG4bKabandon")
		tx, err := l.Request(inv, udpFlow, func(res *sip.Message) { got = append(got, res.StatusCode) })
		if err != nil {
			t.Fatal(err)
		}
		l.Receive(reply(inv, 180), udpFlow)
		time.Sleep(5 * time.Minute)
		if tx.State() != Proceeding {
			t.Fatalf("state %v after 5 minutes, want Proceeding", tx.State())
		}
		tx.Abandon()
		<-tx.Done()
		if !errors.Is(tx.Err(), ErrTimeout) {
			t.Errorf("err %v, want ErrTimeout", tx.Err())
		}
		l.Receive(reply(inv, 487), udpFlow)
		if !slices.Equal(got, []int{180}) {
			t.Errorf("TU saw %v, want only the 180", got)
		}
		tx.Abandon() // a second call does nothing
	})
}
