package ua_test

import (
	"context"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/dialog"
	"github.com/switchboard-sip/switchboard/media"
	"github.com/switchboard-sip/switchboard/sdp"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
	"github.com/switchboard-sip/switchboard/ua"
)

// newAgent starts an Agent for user on a loopback UDP port, set up by
// setup before it listens, and returns it with the URI that reaches it.
func newAgent(t *testing.T, user string, setup ...func(*ua.Agent)) (*ua.Agent, sip.URI) {
	t.Helper()
	srv := &stack.Server{}
	a := &ua.Agent{Server: srv, AOR: sip.URI{Scheme: "sip", User: user, Host: "127.0.0.1"}}
	for _, f := range setup {
		f(a)
	}
	srv.Handler = a
	addr, err := srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, c := range a.Calls() {
			c.Hangup(ctx)
		}
		srv.Shutdown(ctx)
	})
	return a, sip.URI{Scheme: "sip", User: user, Host: "127.0.0.1", Port: int(addr.Port())}
}

// recorder is a media.Sink keeping every frame.
type recorder struct {
	mu     sync.Mutex
	frames [][]int16
}

func (r *recorder) WriteFrame(f []int16) {
	r.mu.Lock()
	r.frames = append(r.frames, append([]int16(nil), f...))
	r.mu.Unlock()
}

// toneFrames counts the frames whose energy is mostly at freq Hz.
func (r *recorder) toneFrames(freq float64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.frames {
		if share(f, freq) > 0.8 {
			n++
		}
	}
	return n
}

// share is the part of a frame's energy at freq (Goertzel).
func share(f []int16, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/media.SampleRate)
	var s1, s2, e float64
	for _, v := range f {
		x := float64(v)
		e += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if e < 1e5 {
		return 0 // silence
	}
	return 2 * (s1*s1 + s2*s2 - coeff*s1*s2) / float64(len(f)) / e
}

// digits collects DTMF digits.
type digits struct {
	mu sync.Mutex
	s  strings.Builder
}

func (d *digits) add(r rune) { d.mu.Lock(); d.s.WriteRune(r); d.mu.Unlock() }
func (d *digits) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.s.String()
}

// waitFor polls cond every 20 ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tone(freq float64) media.Source {
	return media.NewFileSource(media.Tone(freq, 8000, media.SampleRate, 30*time.Second), false)
}

// call sets up alice calling bob with tones both ways and returns both
// calls.
func call(t *testing.T, srtp bool) (aliceCall, bobCall *ua.Call, aliceRec, bobRec *recorder, aliceDigits, bobDigits *digits, alice, bob *ua.Agent) {
	t.Helper()
	aliceRec, bobRec = &recorder{}, &recorder{}
	aliceDigits, bobDigits = &digits{}, &digits{}
	calls := make(chan *ua.Call, 1)
	alice, _ = newAgent(t, "alice", func(a *ua.Agent) { a.SRTP = srtp })
	bob, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.OnInvite = func(req *sip.Message) (int, ua.CallOptions) {
			return 200, ua.CallOptions{Source: tone(880), Sink: bobRec, OnDTMF: bobDigits.add}
		}
		a.OnCall = func(c *ua.Call) { calls <- c }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := alice.Call(ctx, bobURI, ua.CallOptions{Source: tone(440), Sink: aliceRec, OnDTMF: aliceDigits.add})
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		t.Fatalf("call answered %d %s", res.StatusCode, res.Reason)
	}
	select {
	case bobCall = <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("bob's OnCall was not called")
	}
	return c, bobCall, aliceRec, bobRec, aliceDigits, bobDigits, alice, bob
}

// TestCallAudio: alice calls bob directly; each hears the other's tone in
// at least 95 % of the frames the other sent; alice hangs up and both
// calls end with the right reason.
func TestCallAudio(t *testing.T) {
	for _, srtp := range []bool{false, true} {
		name := "rtp"
		if srtp {
			name = "srtp"
		}
		t.Run(name, func(t *testing.T) {
			ac, bc, arec, brec, _, _, _, _ := call(t, srtp)
			if neg := ac.Negotiated(); neg.Codec.Name != "PCMU" || (len(neg.SendKey) > 0) != srtp {
				t.Errorf("negotiated %+v; want PCMU, SRTP %v", neg.Codec, srtp)
			}
			time.Sleep(3 * time.Second)
			if err := ac.Hangup(context.Background()); err != nil {
				t.Fatal(err)
			}
			select {
			case <-bc.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("bob's call did not end after alice's BYE")
			}
			if _, why := ac.Ended(); why != "BYE sent" {
				t.Errorf("alice's call ended %q, want BYE sent", why)
			}
			if _, why := bc.Ended(); why != "BYE received" {
				t.Errorf("bob's call ended %q, want BYE received", why)
			}
			as, bs := ac.Stats(), bc.Stats()
			if as.SRTP != srtp || bs.SRTP != srtp {
				t.Errorf("stats say SRTP %v/%v, want %v", as.SRTP, bs.SRTP, srtp)
			}
			got, sent := brec.toneFrames(440), int(as.PacketsSent)
			t.Logf("bob got %d frames of 440 Hz of %d alice sent; alice got %d of 880 Hz of %d", got, sent, arec.toneFrames(880), bs.PacketsSent)
			if sent < 140 || float64(got) < 0.95*float64(sent) {
				t.Errorf("bob heard 440 Hz in %d frames; alice sent %d", got, sent)
			}
			if got, sent := arec.toneFrames(880), int(bs.PacketsSent); sent < 140 || float64(got) < 0.95*float64(sent) {
				t.Errorf("alice heard 880 Hz in %d frames; bob sent %d", got, sent)
			}
		})
	}
}

// TestDTMF: digits sent by each side are reported by the other.
func TestDTMF(t *testing.T) {
	ac, bc, _, _, ad, bd, _, _ := call(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ac.SendDTMF(ctx, "1234#"); err != nil {
		t.Fatal(err)
	}
	if err := bc.SendDTMF(ctx, "*0A"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the digits", func() bool { return bd.String() == "1234#" && ad.String() == "*0A" })
	if err := bc.SendDTMF(ctx, "x"); err == nil {
		t.Error("SendDTMF(\"x\") succeeded")
	}
}

// TestHoldResume: alice holds, bob sees it and stops sending; alice
// resumes; then bob hangs up and both calls end.
func TestHoldResume(t *testing.T) {
	ac, bc, _, _, _, _, _, _ := call(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	time.Sleep(300 * time.Millisecond)
	if err := ac.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if l, r := ac.OnHold(); !l || r {
		t.Errorf("alice after Hold: local %v remote %v; want true false", l, r)
	}
	waitFor(t, 2*time.Second, "bob to see the hold", func() bool { l, r := bc.OnHold(); return !l && r })
	if d := bc.Negotiated().Direction; d != sdp.RecvOnly {
		t.Errorf("bob's direction on hold %s, want recvonly", d)
	}
	time.Sleep(100 * time.Millisecond)
	before := bc.Stats().PacketsSent
	time.Sleep(300 * time.Millisecond)
	if after := bc.Stats().PacketsSent; after != before {
		t.Errorf("bob sent %d packets while held", after-before)
	}
	if err := ac.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "bob to see the resume", func() bool { l, r := bc.OnHold(); return !l && !r })
	if l, r := ac.OnHold(); l || r {
		t.Errorf("alice after Resume: local %v remote %v", l, r)
	}
	before = bc.Stats().PacketsSent
	time.Sleep(300 * time.Millisecond)
	if after := bc.Stats().PacketsSent; after-before < 5 {
		t.Errorf("bob sent %d packets in 300 ms after resume", after-before)
	}
	if err := bc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ac.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("alice's call did not end after bob's BYE")
	}
	if _, why := ac.Ended(); why != "BYE received" {
		t.Errorf("alice's call ended %q", why)
	}
}

// TestGlare: both sides re-INVITE at once; one gets 491 (RFC 3261 §14)
// and retries, and both end up holding.
func TestGlare(t *testing.T) {
	ac, bc, _, _, _, _, _, _ := call(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- ac.Hold(ctx) }()
	go func() { errs <- bc.Hold(ctx) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Each side applies the answer it sent just after sending it: wait
	// for both to settle.
	for _, c := range []*ua.Call{ac, bc} {
		waitFor(t, 2*time.Second, "both sides holding", func() bool {
			l, r := c.OnHold()
			return l && r && c.Negotiated().Direction == sdp.Inactive
		})
	}
}

// TestBusy: a refused call returns the response and no call.
func TestBusy(t *testing.T) {
	alice, _ := newAgent(t, "alice")
	_, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.OnInvite = func(*sip.Message) (int, ua.CallOptions) { return 486, ua.CallOptions{} }
	})
	c, res, err := alice.Call(context.Background(), bobURI, ua.CallOptions{})
	if err != nil || c != nil || res == nil || res.StatusCode != 486 {
		t.Fatalf("Call = %v, %v, %v; want no call, 486", c, res, err)
	}
}

// TestCancel: a call cancelled while ringing sends CANCEL and the callee
// answers 487.
func TestCancel(t *testing.T) {
	alice, _ := newAgent(t, "alice")
	bob, bobURI := newAgent(t, "bob", func(a *ua.Agent) { a.Ring = 10 * time.Second })
	ringing := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-ringing; cancel() }()
	start := time.Now()
	c, _, err := alice.Call(ctx, bobURI, ua.CallOptions{OnProgress: func(res *sip.Message) {
		if res.StatusCode == 180 {
			ringing <- struct{}{}
		}
	}})
	if c != nil || err != context.Canceled {
		t.Fatalf("Call = %v, %v; want no call, context.Canceled", c, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the cancelled call took %s", d)
	}
	if n := len(bob.Calls()); n != 0 {
		t.Errorf("bob has %d calls", n)
	}
}

// rawUAC is a bare stack.Server for sending hand-made requests and seeing
// what comes back.
func rawUAC(t *testing.T, h stack.HandlerFunc) (*stack.Server, netip.AddrPort) {
	t.Helper()
	srv := &stack.Server{Handler: h}
	addr, err := srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv, addr
}

func invite(target sip.URI, contact netip.AddrPort, body string) *sip.Message {
	from := sip.Address{URI: sip.URI{Scheme: "sip", User: "raw", Host: "127.0.0.1"}}
	req := stack.NewRequest("INVITE", target, from)
	req.Add("Contact", "<sip:raw@"+contact.String()+">")
	if body != "" {
		req.Add("Content-Type", "application/sdp")
		req.Body = []byte(body)
	}
	return req
}

func send(t *testing.T, srv *stack.Server, req *sip.Message, to sip.URI) *sip.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := srv.Client().Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestNotAcceptable: an offer with no codec we have gets 488 with a
// Warning (RFC 3261 §13.3.1.3).
func TestNotAcceptable(t *testing.T) {
	_, bobURI := newAgent(t, "bob")
	srv, addr := rawUAC(t, nil)
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
	res := send(t, srv, invite(bobURI, addr, offer), bobURI)
	if res.StatusCode != 488 || !strings.HasPrefix(res.Get("Warning"), "304 ") {
		t.Fatalf("answer %d, Warning %q; want 488 with a 304 warning", res.StatusCode, res.Get("Warning"))
	}
}

// TestOfferlessInvite: an INVITE without SDP gets our offer in the 200;
// the answer comes in the ACK (RFC 3261 §13.2.1) and media flows.
func TestOfferlessInvite(t *testing.T) {
	_, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.OnInvite = func(*sip.Message) (int, ua.CallOptions) { return 200, ua.CallOptions{Source: tone(880)} }
	})
	srv, addr := rawUAC(t, nil)
	inv := invite(bobURI, addr, "")
	res := send(t, srv, inv, bobURI)
	if res.StatusCode != 200 || res.ContentType() != "application/sdp" {
		t.Fatalf("answer %d %q; want 200 with SDP", res.StatusCode, res.ContentType())
	}
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtp.Close()
	ep := &sdp.Endpoint{Addr: netip.MustParseAddrPort(rtp.LocalAddr().String())}
	answer, _, err := ep.Answer(res.Body, sdp.SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dialog.NewUAC(inv, res)
	if err != nil {
		t.Fatal(err)
	}
	ack := d.ACK(1)
	ack.Add("Content-Type", "application/sdp")
	ack.Body = answer
	ack.Prepend("Via", "SIP/2.0/UDP invalid;branch="+sip.NewBranch()+";rport")
	if err := srv.SendStateless(ack, stack.Flow{Proto: "UDP", Remote: netip.MustParseAddrPort(bobURI.Host + ":" + itoa(bobURI.Port))}); err != nil {
		t.Fatal(err)
	}
	rtp.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := rtp.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no RTP after the ACK's answer: %v", err)
	}
	if n != 12+160 || buf[0]>>6 != 2 {
		t.Errorf("got %d bytes, version %d; want a 172-byte RTP packet", n, buf[0]>>6)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestSessionExpires: a UAC that asks for a session timer with itself as
// refresher and then never refreshes gets a BYE once the interval, less a
// third, has passed (RFC 4028 §10).
func TestSessionExpires(t *testing.T) {
	calls := make(chan *ua.Call, 1)
	_, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.MinSE = time.Second
		a.OnCall = func(c *ua.Call) { calls <- c }
	})
	byes := make(chan *sip.Message, 1)
	srv, addr := rawUAC(t, func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
		if tx == nil {
			return
		}
		if req.Method == "BYE" {
			byes <- req
		}
		tx.Reply(200, "")
	})
	rtp, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer rtp.Close()
	ep := &sdp.Endpoint{Addr: netip.MustParseAddrPort(rtp.LocalAddr().String())}
	offer, _ := ep.Offer(sdp.SendRecv)
	inv := invite(bobURI, addr, string(offer))
	inv.Add("Supported", "timer")
	inv.Add("Session-Expires", "3;refresher=uac")
	res := send(t, srv, inv, bobURI)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Get("Session-Expires"), "3;refresher=uac") || res.Get("Require") != "timer" {
		t.Fatalf("answer %d Session-Expires %q Require %q", res.StatusCode, res.Get("Session-Expires"), res.Get("Require"))
	}
	d, _ := dialog.NewUAC(inv, res)
	ack := d.ACK(1)
	ack.Prepend("Via", "SIP/2.0/UDP invalid;branch="+sip.NewBranch()+";rport")
	srv.SendStateless(ack, stack.Flow{Proto: "UDP", Remote: netip.MustParseAddrPort("127.0.0.1:" + itoa(bobURI.Port))})
	c := <-calls
	start := time.Now()
	select {
	case <-byes:
	case <-time.After(5 * time.Second):
		t.Fatal("no BYE after the session interval")
	}
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("BYE after %s; the interval less a third is 2 s", d)
	}
	if _, why := c.Ended(); why != "session expired" {
		t.Errorf("bob's call ended %q", why)
	}
	// Too short an interval: 422 with Min-SE.
	_, carolURI := newAgent(t, "carol") // the default MinSE, 90 s
	inv3 := invite(carolURI, addr, string(offer))
	inv3.Add("Session-Expires", "30")
	if res := send(t, srv, inv3, carolURI); res.StatusCode != 422 || res.Get("Min-SE") != "90" {
		t.Errorf("Session-Expires 30 answered %d Min-SE %q; want 422, 90", res.StatusCode, res.Get("Min-SE"))
	}
}

// TestSessionRefresh: when we are the refresher, re-INVITEs keep the call
// up past the interval.
func TestSessionRefresh(t *testing.T) {
	calls := make(chan *ua.Call, 1)
	alice, _ := newAgent(t, "alice", func(a *ua.Agent) { a.SessionExpires = 2 * time.Second })
	_, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.MinSE = time.Second
		a.OnCall = func(c *ua.Call) { calls <- c }
	})
	c, res, err := alice.Call(context.Background(), bobURI, ua.CallOptions{})
	if err != nil || c == nil {
		t.Fatalf("call: %v %v", res, err)
	}
	bc := <-calls
	time.Sleep(4 * time.Second)
	if ended, why := bc.Ended(); ended {
		t.Fatalf("bob's call ended (%s) though alice refreshes", why)
	}
	if ended, why := c.Ended(); ended {
		t.Fatalf("alice's call ended (%s)", why)
	}
}

// TestMessage: MESSAGE reaches OnMessage.
func TestMessage(t *testing.T) {
	alice, _ := newAgent(t, "alice")
	got := make(chan string, 1)
	_, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.OnMessage = func(from sip.Address, ct string, body []byte) { got <- from.URI.User + ":" + ct + ":" + string(body) }
	})
	res, err := alice.Message(context.Background(), bobURI, "text/plain", []byte("hello"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("MESSAGE: %v %v", res, err)
	}
	if s := <-got; s != "alice:text/plain:hello" {
		t.Errorf("got %q", s)
	}
}

// rawLeg is the far end of a call made by hand: its RTP sockets and
// session, for tests that need a peer doing what ours does not.
type rawLeg struct {
	t    *testing.T
	addr netip.AddrPort
	sess *media.Session
}

func (r *rawLeg) start(neg sdp.Negotiated) {
	r.t.Helper()
	if r.sess != nil {
		r.sess.Close()
	}
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(r.addr))
	if err != nil {
		r.t.Fatal(err)
	}
	rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.addr.Addr(), r.addr.Port()+1)))
	if err != nil {
		r.t.Fatal(err)
	}
	codec, _ := media.CodecByName(neg.Codec.Name)
	s, err := media.Start(media.Config{Conn: rtp, RTCPConn: rtcp, Remote: neg.Remote, RemoteRTCP: neg.RemoteRTCP,
		Codec: codec, SendKey: neg.SendKey, RecvKey: neg.RecvKey, Source: tone(440)})
	if err != nil {
		r.t.Fatal(err)
	}
	r.sess = s
	r.t.Cleanup(func() { s.Close() })
}

// TestRekey: a peer that changes its SRTP key in a re-INVITE (as
// FreeSWITCH does) keeps being heard: our side starts a new session with
// the new key on the same ports.
func TestRekey(t *testing.T) {
	rec := &recorder{}
	calls := make(chan *ua.Call, 1)
	_, bobURI := newAgent(t, "bob", func(a *ua.Agent) {
		a.OnInvite = func(*sip.Message) (int, ua.CallOptions) { return 200, ua.CallOptions{Sink: rec} }
		a.OnCall = func(c *ua.Call) { calls <- c }
	})
	srv, addr := rawUAC(t, func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
		if tx != nil {
			tx.Reply(200, "")
		}
	})
	probe, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	port := probe.LocalAddr().(*net.UDPAddr).Port &^ 1
	probe.Close()
	leg := &rawLeg{t: t, addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}
	ep := &sdp.Endpoint{Addr: leg.addr, SRTP: true}
	offer, _ := ep.Offer(sdp.SendRecv)
	inv := invite(bobURI, addr, string(offer))
	res := send(t, srv, inv, bobURI)
	if res.StatusCode != 200 {
		t.Fatalf("INVITE answered %d", res.StatusCode)
	}
	neg, err := ep.Accept(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := dialog.NewUAC(inv, res)
	bobAddr := stack.Flow{Proto: "UDP", Remote: netip.MustParseAddrPort("127.0.0.1:" + itoa(bobURI.Port))}
	ack := d.ACK(1)
	ack.Prepend("Via", "SIP/2.0/UDP invalid;branch="+sip.NewBranch()+";rport")
	srv.SendStateless(ack, bobAddr)
	leg.start(neg)
	bc := <-calls
	waitFor(t, 3*time.Second, "bob hearing the tone", func() bool { return rec.toneFrames(440) > 25 })
	firstKey := bc.Negotiated().RecvKey

	// A new endpoint: the same address, a new key.
	ep2 := &sdp.Endpoint{Addr: leg.addr, SRTP: true}
	offer2, _ := ep2.Offer(sdp.SendRecv)
	re := d.Request("INVITE")
	re.Add("Contact", "<sip:raw@"+addr.String()+">")
	re.Add("Content-Type", "application/sdp")
	re.Body = offer2
	res2 := send(t, srv, re, bobURI)
	if res2.StatusCode != 200 {
		t.Fatalf("re-INVITE answered %d", res2.StatusCode)
	}
	neg2, err := ep2.Accept(res2.Body)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := re.CSeq()
	ack2 := d.ACK(cs.Seq)
	ack2.Prepend("Via", "SIP/2.0/UDP invalid;branch="+sip.NewBranch()+";rport")
	srv.SendStateless(ack2, bobAddr)
	leg.start(neg2)
	if k := bc.Negotiated().RecvKey; string(k) == string(firstKey) || string(k) != string(ep2.Key()) {
		t.Fatal("bob did not take the new key")
	}
	before := rec.toneFrames(440)
	waitFor(t, 3*time.Second, "bob hearing the tone under the new key", func() bool { return rec.toneFrames(440) > before+25 })
}

// TestChallengedReinvite: a peer that challenges a re-INVITE gets it again
// with credentials under a new CSeq (RFC 3261 §22.2), and the BYE after it
// numbers on from there (a repeated CSeq would be refused 500).
func TestChallengedReinvite(t *testing.T) {
	var mu sync.Mutex
	var seqs []string // method and CSeq of each in-dialog request
	rtp, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer rtp.Close()
	ep := &sdp.Endpoint{Addr: netip.MustParseAddrPort(rtp.LocalAddr().String())}
	var peer netip.AddrPort
	_, addr := rawUAC(t, func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
		if tx == nil {
			return
		}
		to, _ := req.To()
		if to.Tag() != "" {
			mu.Lock()
			seqs = append(seqs, req.Get("CSeq"))
			mu.Unlock()
		}
		switch {
		case req.Method == "INVITE" && to.Tag() != "" && req.Get("Authorization") == "":
			tx.Reply(401, "", sip.NewHeader("WWW-Authenticate", `Digest realm="test", nonce="n1", qop="auth"`))
		case req.Method == "INVITE":
			answer, _, err := ep.Answer(req.Body, sdp.SendRecv)
			if err != nil {
				tx.Reply(488, "")
				return
			}
			res := sip.NewResponse(req, 200, "")
			mu.Lock()
			res.Add("Contact", "<sip:raw@"+peer.String()+">")
			mu.Unlock()
			res.Add("Content-Type", "application/sdp")
			res.Body = answer
			tx.Respond(res)
		default:
			tx.Reply(200, "")
		}
	})
	mu.Lock()
	peer = addr
	mu.Unlock()
	alice, _ := newAgent(t, "alice", func(a *ua.Agent) { a.Username, a.Password = "alice", "pw" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := sip.URI{Scheme: "sip", User: "raw", Host: "127.0.0.1", Port: int(addr.Port())}
	c, res, err := alice.Call(ctx, target, ua.CallOptions{})
	if err != nil || c == nil {
		t.Fatalf("call: %v %v", res, err)
	}
	if err := c.Hold(ctx); err != nil {
		t.Fatalf("hold through a challenge: %v", err)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 3 {
		t.Fatalf("in-dialog requests %q; want re-INVITE, re-INVITE with credentials, BYE", seqs)
	}
	var nums [3]int
	for i, s := range seqs {
		cs, err := sip.ParseCSeq(s)
		if err != nil {
			t.Fatal(err)
		}
		nums[i] = int(cs.Seq)
	}
	if !(nums[0] < nums[1] && nums[1] < nums[2]) || !strings.HasSuffix(seqs[2], "BYE") {
		t.Errorf("CSeqs %q; want each above the last, ending with BYE", seqs)
	}
}

// TestEarlyMedia: audio a callee sends after a 183 with an SDP answer is
// heard before the answer (RFC 3261 §13.2.1): an announcement followed by
// a refusal, and ringback followed by the 200 (whose SDP repeats the
// 183's), after which the call goes on with the same session.
func TestEarlyMedia(t *testing.T) {
	for _, final := range []int{486, 200} {
		t.Run(itoa(final), func(t *testing.T) {
			rtpAddr := func() netip.AddrPort {
				probe, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				defer probe.Close()
				return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(probe.LocalAddr().(*net.UDPAddr).Port&^1))
			}()
			leg := &rawLeg{t: t, addr: rtpAddr}
			var peer netip.AddrPort
			var mu sync.Mutex
			_, addr := rawUAC(t, func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
				if tx == nil || req.Method != "INVITE" {
					if tx != nil {
						tx.Reply(200, "")
					}
					return
				}
				ep := &sdp.Endpoint{Addr: rtpAddr}
				answer, neg, err := ep.Answer(req.Body, sdp.SendRecv)
				if err != nil {
					tx.Reply(488, "")
					return
				}
				mu.Lock()
				contact := "<sip:raw@" + peer.String() + ">"
				mu.Unlock()
				progress := sip.NewResponse(req, 183, "")
				progress.Add("Contact", contact)
				progress.Add("Content-Type", "application/sdp")
				progress.Body = answer
				tx.Respond(progress)
				leg.start(neg) // the announcement or ringback
				time.Sleep(1500 * time.Millisecond)
				res := sip.NewResponse(req, final, "")
				if final == 200 {
					res.Add("Contact", contact)
					res.Add("Content-Type", "application/sdp")
					res.Body = answer
				}
				tx.Respond(res)
			})
			mu.Lock()
			peer = addr
			mu.Unlock()
			alice, _ := newAgent(t, "alice")
			rec := &recorder{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			target := sip.URI{Scheme: "sip", User: "raw", Host: "127.0.0.1", Port: int(addr.Port())}
			c, res, err := alice.Call(ctx, target, ua.CallOptions{Sink: rec})
			if err != nil || res.StatusCode != final {
				t.Fatalf("call: %v, %v; want %d", res, err, final)
			}
			early := rec.toneFrames(440)
			if early < 40 {
				t.Errorf("heard 440 Hz in %d frames before the %d; want the 1.5 s of early media", early, final)
			}
			if final != 200 {
				if c != nil {
					t.Fatal("a call for a 486")
				}
				return
			}
			waitFor(t, 2*time.Second, "audio after the answer", func() bool { return rec.toneFrames(440) > early+40 })
			if l, r := c.OnHold(); l || r {
				t.Errorf("hold state after early media: %v %v", l, r)
			}
			if err := c.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
