package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/dialog"
	"github.com/switchboard-sip/switchboard/media"
	"github.com/switchboard-sip/switchboard/sdp"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// CallOptions are one call's media.
type CallOptions struct {
	// Source is the audio sent; nil sends silence.
	Source media.Source
	// Sink receives the audio played out; nil discards it.
	Sink media.Sink
	// OnDTMF receives each digit the peer sends (RFC 4733 or SIP INFO).
	OnDTMF func(digit rune)
	// OnProgress receives each provisional response to an outgoing
	// INVITE (180 Ringing, 183 …).
	OnProgress func(res *sip.Message)
	// OnHoldChange receives the hold state (as Call.OnHold reports it)
	// each time an offer/answer exchange changes it.
	OnHoldChange func(local, remote bool)
	// OnEnd is called once the call has ended and its media stopped.
	OnEnd func()
	// Label is the caller's name for the call (for its logs); the Agent
	// does not use it.
	Label string
}

// Call is one established call (a confirmed INVITE dialog, RFC 3261 §12)
// with its RTP session.
type Call struct {
	agent    *Agent
	dlg      *dialog.Dialog
	outgoing bool // we sent the INVITE: the Call-ID's owner for §14.1's back-off
	opts     CallOptions
	ep       *sdp.Endpoint
	started  time.Time
	done     chan struct{}
	// inviteMu makes our own re-INVITEs one at a time.
	inviteMu sync.Mutex
	// epMu serialises offer/answer on ep, which is not safe for
	// concurrent use.
	epMu sync.Mutex

	mu         sync.Mutex
	rtp, rtcp  *net.UDPConn   // until the session owns them; guarded by mu
	sess       *media.Session // guarded by mu
	neg        sdp.Negotiated // guarded by mu
	localHold  bool           // guarded by mu
	remoteHold bool           // guarded by mu
	offering   bool           // our re-INVITE is outstanding (glare); guarded by mu
	answering  bool           // a peer's re-INVITE is being answered; guarded by mu
	// ack is the pending ACK for a 2xx we sent (UAS side); guarded by mu.
	ack *pendingACK
	// lastACK is the ACK we sent for the last 2xx we received and where it
	// went, resent for each retransmission of that 2xx; guarded by mu.
	lastACK     *sip.Message
	lastACKFlow stack.Flow
	reported    [2]bool       // hold state last given to OnHoldChange; guarded by mu
	mediaOn     bool          // a session has been started; guarded by mu
	ended       bool          // guarded by mu
	endedAt     time.Time     // guarded by mu
	reason      string        // guarded by mu
	stats       media.Stats   // final stats once ended; guarded by mu
	timer       *time.Timer   // session timer (RFC 4028); guarded by mu
	interval    time.Duration // session interval; guarded by mu
	refresher   bool          // we refresh the session; guarded by mu
}

// pendingACK is a 2xx to an INVITE awaiting its ACK (§13.3.1.4).
type pendingACK struct {
	seq       uint32
	offerless bool // the 2xx carried our offer: the ACK brings the answer
	acked     chan struct{}
}

// Options returns the options the call was made or answered with.
func (c *Call) Options() CallOptions { return c.opts }

// ID returns the call's dialog identifiers.
func (c *Call) ID() dialog.ID { return c.dlg.ID() }

// Remote returns the peer's address (From of an incoming call, To of an
// outgoing one).
func (c *Call) Remote() sip.Address { return c.dlg.Remote() }

// Outgoing reports whether we placed the call.
func (c *Call) Outgoing() bool { return c.outgoing }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Ended reports whether the call has ended, and how ("BYE received",
// "BYE sent", "no ACK", "session expired" …).
func (c *Call) Ended() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended, c.reason
}

// OnHold reports the hold state: local is set while we hold the call,
// remote while the peer does not take our audio (it holds us).
func (c *Call) OnHold() (local, remote bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localHold, c.remoteHold
}

// Negotiated returns what the last offer/answer exchange decided.
func (c *Call) Negotiated() sdp.Negotiated {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg
}

// Duration returns how long the call has been (or was) established.
func (c *Call) Duration() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return c.endedAt.Sub(c.started)
	}
	return time.Since(c.started)
}

// Stats returns the RTP statistics: live during the call, final after.
func (c *Call) Stats() media.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.sess == nil {
		return c.stats
	}
	return c.sess.Stats()
}

// SendDTMF sends digits as RFC 4733 telephone events and returns when
// they are sent. It fails when the peer did not accept telephone-event.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	c.mu.Lock()
	s, dtmf := c.sess, c.neg.DTMF
	c.mu.Unlock()
	if s == nil {
		return errors.New("ua: the call has no media session")
	}
	if dtmf == 0 {
		return errors.New("ua: the peer did not accept telephone-event (RFC 4733); no DTMF sent")
	}
	if err := s.SendDTMF(digits); err != nil {
		return err
	}
	return s.WaitDTMF(ctx)
}

// Hangup ends the call with a BYE (§15.1.1) and waits for its answer.
// It is a no-op on a call that has ended.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	p := c.ack
	c.mu.Unlock()
	if p != nil {
		// §15: the callee sends no BYE before the ACK of its 2xx (or
		// the end of waiting for it).
		t := time.NewTimer(64 * c.agent.t1())
		select {
		case <-p.acked:
		case <-c.done:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	if !c.end("BYE sent") {
		return nil
	}
	if ctx.Err() != nil {
		// The wait above (or the caller) used ctx up: the BYE still
		// goes, with a transaction's time of its own.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 64*c.agent.t1())
		defer cancel()
	}
	res, err := c.bye(ctx)
	if err != nil {
		return fmt.Errorf("ua: BYE: %w", err)
	}
	if res.StatusCode/100 != 2 && res.StatusCode != 481 {
		return fmt.Errorf("ua: BYE answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// end stops the call's media and forgets the dialog; the first reason
// given is kept. It reports whether this call ended the call (false when
// it had ended already).
func (c *Call) end(reason string) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return false
	}
	c.ended, c.reason, c.endedAt = true, reason, time.Now()
	if c.timer != nil {
		c.timer.Stop()
	}
	s := c.sess
	rtp, rtcp := c.rtp, c.rtcp
	c.mu.Unlock()
	if s != nil {
		s.Close()
		st := s.Stats()
		c.mu.Lock()
		c.stats = st
		c.mu.Unlock()
	} else {
		closeConns(rtp, rtcp)
	}
	c.agent.remove(c)
	close(c.done)
	if c.opts.OnEnd != nil {
		c.opts.OnEnd()
	}
	return true
}

// bye sends the BYE of a call that has ended (§15.1.1) with the extra
// headers, and returns its answer.
func (c *Call) bye(ctx context.Context, hdrs ...sip.Header) (*sip.Message, error) {
	bye := c.dlg.Request("BYE")
	bye.Add("User-Agent", userAgent)
	bye.Headers = append(bye.Headers, hdrs...)
	return c.do(ctx, bye)
}

// do sends a request within the dialog (answering one challenge) and
// keeps the dialog's CSeq past the one the request went out with: a
// challenged request is sent again with the next number (§22.2).
func (c *Call) do(ctx context.Context, req *sip.Message) (*sip.Message, error) {
	cli := c.agent.client()
	cli.Username = "" // the challenge is answered here, numbered by the dialog
	res, err := cli.Do(ctx, req)
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) || c.agent.Username == "" {
		return res, err
	}
	retry, aerr := c.agent.client().Authorize(req, res)
	if aerr != nil {
		return res, nil
	}
	c.renumber(retry)
	return cli.Do(ctx, retry)
}

// renumber gives a request of this dialog sent again with credentials
// the dialog's next CSeq number (§22.2: a new CSeq), so that no other
// request of the dialog takes it meanwhile.
func (c *Call) renumber(req *sip.Message) {
	if c.dlg == nil {
		return // an initial INVITE: the Client's number (CSeq+1) is the dialog's start
	}
	if cs, err := req.CSeq(); err == nil {
		cs.Seq = c.dlg.Next()
		req.Set("CSeq", cs.String())
	}
}

func closeConns(cs ...*net.UDPConn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// RTP ports are taken from this range (RFC 3550 §11: RTP on an even
// port, RTCP on the next).
const rtpPortMin, rtpPortMax = 16384, 32767

// sameMedia reports whether the running session can carry b as it
// carries a: same codec, telephone-event type and SRTP keys.
func sameMedia(a, b sdp.Negotiated) bool {
	return a.Codec.Name == b.Codec.Name && a.DTMF == b.DTMF &&
		bytes.Equal(a.SendKey, b.SendKey) && bytes.Equal(a.RecvKey, b.RecvKey)
}

// mediaAddr is where RTP is bound: MediaAddr, or the local address of
// the signalling.
func (a *Agent) mediaAddr(local netip.Addr) netip.Addr {
	if a.MediaAddr.IsValid() {
		return a.MediaAddr
	}
	return local.Unmap()
}

// apply puts an offer/answer outcome into effect: the RTP session starts
// on the first, later ones move or hold it.
func (c *Call) apply(neg sdp.Negotiated) error {
	c.mu.Lock()
	if old := c.sess; old != nil && !sameMedia(c.neg, neg) {
		// A new codec, telephone-event type or SRTP key (a peer that
		// re-keys in a re-INVITE): a new session on the same ports.
		// The old one is closed without the lock, since its goroutines
		// run the caller's Source, Sink and OnDTMF.
		c.sess = nil
		c.mu.Unlock()
		old.Close()
		port := int(c.ep.Addr.Port())
		rtp, rtcp, err := media.ListenPair(c.ep.Addr.Addr(), port, port+1)
		c.mu.Lock()
		if err != nil || c.ended {
			c.mu.Unlock()
			if err != nil {
				if c.dlg != nil {
					c.agent.log().Warn("ua: restarting media; hanging up", "err", err)
					go c.Hangup(context.Background())
				}
				return err
			}
			closeConns(rtp, rtcp)
			return nil
		}
		c.rtp, c.rtcp = rtp, rtcp
	}
	first := !c.mediaOn
	err := c.applyLocked(neg)
	c.mediaOn = c.mediaOn || c.sess != nil
	now := [2]bool{c.localHold, c.remoteHold}
	changed := !first && now != c.reported
	c.reported = now
	c.mu.Unlock()
	if changed && c.opts.OnHoldChange != nil {
		c.opts.OnHoldChange(now[0], now[1])
	}
	return err
}

func (c *Call) applyLocked(neg sdp.Negotiated) error {
	if c.ended {
		return nil
	}
	c.neg = neg
	// RFC 3264 §8.4: the peer holds us when it does not take our media.
	c.remoteHold = !neg.Direction.Sends()
	if c.sess != nil { // the same media (apply restarted it otherwise)
		c.sess.SetRemote(neg.Remote, neg.RemoteRTCP)
		c.sess.SetDirection(neg.Direction.Sends(), neg.Direction.Receives())
		return nil
	}
	codec, ok := media.CodecByName(neg.Codec.Name)
	if !ok {
		return fmt.Errorf("ua: negotiated codec %s is not one we can play", neg.Codec.Name)
	}
	s, err := media.Start(media.Config{
		Conn: c.rtp, RTCPConn: c.rtcp,
		Remote: neg.Remote, RemoteRTCP: neg.RemoteRTCP,
		Codec: codec, DTMFType: neg.DTMF,
		SendKey: neg.SendKey, RecvKey: neg.RecvKey,
		Source: c.opts.Source, Sink: c.opts.Sink,
		OnDTMF: c.opts.OnDTMF,
		Logger: c.agent.Logger,
	})
	if err != nil {
		return err
	}
	c.sess, c.rtp, c.rtcp = s, nil, nil
	s.SetDirection(neg.Direction.Sends(), neg.Direction.Receives())
	return nil
}

// t1 is the Server's T1 (RFC 3261 §17.1.1.1), 500 ms by default.
func (a *Agent) t1() time.Duration {
	if a.Server.Timers.T1 > 0 {
		return a.Server.Timers.T1
	}
	return 500 * time.Millisecond
}

// Call places a call to target (RFC 3261 §13.2): an INVITE with an SDP
// offer, through the outbound proxy when set, answering one digest
// challenge. It returns when a final response arrives: the established
// Call and the 2xx, or a nil Call and the refusal (486, 404 …), with
// err nil either way; err is for timeouts, transport failures and bad
// input. When ctx ends before the answer the INVITE is cancelled (§9.1)
// and ctx's error returned.
func (a *Agent) Call(ctx context.Context, target sip.URI, opts CallOptions) (*Call, *sip.Message, error) {
	if !target.IsSIP() {
		return nil, nil, fmt.Errorf("ua: cannot call %s: not a sip: or sips: URI", target.String())
	}
	req := a.newRequest("INVITE", target)
	flows, err := a.nextHop(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	secure := target.IsSecure()
	contact, err := a.contact(flows[0], secure)
	if err != nil {
		return nil, nil, err
	}
	local, _ := a.Server.LocalAddr(flows[0])
	rtp, rtcp, err := media.ListenPair(a.mediaAddr(local.Addr()), rtpPortMin, rtpPortMax)
	if err != nil {
		return nil, nil, err
	}
	ep := &sdp.Endpoint{Addr: rtp.LocalAddr().(*net.UDPAddr).AddrPort(), DTMF: 101,
		SRTP: a.SRTP || secure, Username: a.AOR.User}
	offer, err := ep.Offer(sdp.SendRecv)
	if err != nil {
		closeConns(rtp, rtcp)
		return nil, nil, err
	}
	req.Add("Contact", "<"+contact.String()+">")
	req.Add("Allow", allow)
	req.Add("Supported", "timer")
	if a.SessionExpires > 0 {
		req.Add("Session-Expires", strconv.Itoa(int(a.SessionExpires/time.Second)))
	}
	req.Add("Content-Type", "application/sdp")
	req.Body = offer
	c := &Call{agent: a, outgoing: true, opts: opts, ep: ep, done: make(chan struct{}), rtp: rtp, rtcp: rtcp}
	res, sent, err := a.invite(ctx, req, flows, c)
	if err != nil || res.StatusCode/100 != 2 {
		c.discard()
		return nil, res, err
	}
	if err := c.established(ctx, sent, res); err != nil {
		return nil, res, err
	}
	return c, res, nil
}

// established makes the dialog of our INVITE's 2xx, ACKs it and starts
// the media.
func (c *Call) established(ctx context.Context, inv, res *sip.Message) error {
	a := c.agent
	d, err := dialog.NewUAC(inv, res)
	if err != nil {
		c.discard()
		c.badAnswer(ctx, inv, res, "ua: the 2xx cannot form a dialog: "+err.Error())
		return err
	}
	c.dlg = d
	c.started = time.Now()
	c.mu.Lock()
	early := c.mediaOn
	c.mediaOn = false // hold changes are reported from the answer on
	earlyNeg := c.neg
	c.mu.Unlock()
	var neg sdp.Negotiated
	var nerr error
	if len(res.Body) == 0 && early {
		neg = earlyNeg // the answer came in the 18x (§13.2.1) and the 2xx left it out
	} else {
		neg, nerr = c.sdpAccept(res.Body)
	}
	c.sendACK(ctx, inv, res)
	a.add(c)
	if nerr == nil {
		nerr = c.apply(neg)
	}
	if nerr != nil {
		// §13.2.2.4: an unacceptable answer is ACKed, then the call is
		// ended with a BYE.
		c.Hangup(ctx)
		return fmt.Errorf("ua: the answer cannot be used: %w", nerr)
	}
	c.sessionTimer(res, true)
	if a.OnCall != nil {
		a.OnCall(c)
	}
	return nil
}

// early plays early media (RFC 3261 §13.2.1, RFC 3960): a provisional
// response to our INVITE with an SDP answer starts the RTP session before
// the call is answered, so that ringback tones and announcements ("the
// number you have dialled …") are heard and recorded. A later 18x or the
// 2xx with another answer moves or restarts the session.
func (c *Call) early(res *sip.Message) {
	if len(res.Body) == 0 || !strings.EqualFold(res.ContentType(), "application/sdp") {
		return
	}
	neg, err := c.sdpAccept(res.Body)
	if err == nil {
		err = c.apply(neg)
	}
	if err != nil {
		c.agent.log().Debug("ua: early media not played", "status", res.StatusCode, "err", err)
	}
}

// discard stops what a call that never got established holds: an early
// media session or its sockets.
func (c *Call) discard() {
	c.mu.Lock()
	s, rtp, rtcp := c.sess, c.rtp, c.rtcp
	c.sess, c.rtp, c.rtcp = nil, nil, nil
	c.ended, c.reason = true, "not answered"
	c.mu.Unlock()
	if s != nil {
		s.Close()
	}
	closeConns(rtp, rtcp)
}

// badAnswer ACKs and ends a 2xx whose dialog cannot be used.
func (c *Call) badAnswer(ctx context.Context, inv, res *sip.Message, why string) {
	c.agent.log().Warn(why)
	d, err := dialog.NewUAC(inv, res)
	if err != nil {
		// No dialog to hang up: ACK along the INVITE's own path, so
		// that the 2xx stops (§13.2.2.4).
		from, ferr := res.From()
		to, terr := res.To()
		cseq, cerr := inv.CSeq()
		if ferr != nil || terr != nil || cerr != nil {
			return
		}
		ack := sip.NewRequest("ACK", inv.RequestURI, from, to, res.CallID(), cseq.Seq)
		for r, err := range inv.Routes() {
			if err == nil {
				ack.Add("Route", r.String())
			}
		}
		c.agent.sendACK(ctx, ack)
		return
	}
	tmp := &Call{agent: c.agent, dlg: d, done: make(chan struct{})}
	tmp.sendACK(ctx, inv, res)
	tmp.bye(ctx)
}

// sendACK sends the ACK for a 2xx to inv (§13.2.2.4) and keeps it for the
// 2xx's retransmissions.
func (c *Call) sendACK(ctx context.Context, inv, res *sip.Message) {
	cseq, err := inv.CSeq()
	if err != nil {
		return
	}
	ack := c.dlg.ACK(cseq.Seq)
	ack.Add("User-Agent", userAgent)
	// Credentials of the INVITE go with its ACK (§22.1).
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		if v := inv.Get(name); v != "" {
			ack.Add(name, v)
		}
	}
	flow, ok := c.agent.sendACK(ctx, ack)
	if ok {
		c.mu.Lock()
		c.lastACK, c.lastACKFlow = ack, flow
		c.mu.Unlock()
	}
}

// sendACK sends an ACK for a 2xx without a transaction (§17.1: the ACK
// of a 2xx is its own request) toward its next hop, with a Via of its
// own, and returns where it went; ok is false when it could not be sent.
func (a *Agent) sendACK(ctx context.Context, ack *sip.Message) (stack.Flow, bool) {
	flows, err := a.nextHop(ctx, ack)
	if err != nil {
		a.log().Warn("ua: cannot send the ACK", "err", err)
		return stack.Flow{}, false
	}
	ack.Prepend("Via", "SIP/2.0/"+flows[0].Proto+" invalid;branch="+sip.NewBranch()+";rport")
	if err := a.Server.SendStateless(ack, flows[0]); err != nil {
		a.log().Warn("ua: sending the ACK", "err", err)
	}
	return flows[0], true
}

// resendACK answers a retransmitted 2xx with the ACK already sent.
func (c *Call) resendACK() {
	c.mu.Lock()
	ack, flow := c.lastACK, c.lastACKFlow
	c.mu.Unlock()
	if ack != nil {
		c.agent.Server.SendStateless(ack, flow)
	}
}

// invite runs an INVITE transaction toward the first flow that takes it
// and returns its final response and the request as last sent (with
// credentials after a challenge). A 2xx retransmitted later is ACKed
// again, one from another fork is ACKed and ended (§13.2.2.4).
func (a *Agent) invite(ctx context.Context, req *sip.Message, flows []stack.Flow, c *Call) (*sip.Message, *sip.Message, error) {
	for attempt := 0; ; attempt++ {
		res, err := a.inviteOnce(ctx, req, flows, c)
		if err != nil {
			return nil, req, err
		}
		if (res.StatusCode == 401 || res.StatusCode == 407) && attempt == 0 && a.Username != "" {
			retry, aerr := a.client().Authorize(req, res)
			if aerr != nil {
				return res, req, nil
			}
			c.renumber(retry)
			req = retry
			continue
		}
		return res, req, nil
	}
}

func (a *Agent) inviteOnce(ctx context.Context, req *sip.Message, flows []stack.Flow, c *Call) (*sip.Message, error) {
	final := make(chan *sip.Message, 1)
	var mu sync.Mutex
	firstTag := ""          // To tag of the first 2xx; guarded by mu
	initial := c.dlg == nil // not a re-INVITE: 18x answers are early media
	onResponse := func(res *sip.Message) {
		if res.StatusCode < 200 {
			if initial && res.StatusCode > 100 {
				c.early(res)
				if c.opts.OnProgress != nil {
					c.opts.OnProgress(res)
				}
			}
			return
		}
		to, _ := res.To()
		mu.Lock()
		first := false
		select {
		case final <- res:
			first = true
			if res.StatusCode/100 == 2 {
				firstTag = to.Tag()
			}
		default:
		}
		known := firstTag
		mu.Unlock()
		if first || res.StatusCode/100 != 2 {
			return
		}
		if to.Tag() == known {
			c.resendACK()
			return
		}
		// A 2xx from another fork: ACK it and hang it up.
		go func() {
			tmp := &Call{agent: a, done: make(chan struct{})}
			tmp.badAnswer(context.Background(), req, res, "ua: a second fork answered; ending it")
		}()
	}
	var b *stack.Branch
	var err error
	for _, f := range flows {
		b, err = a.Server.Send(req, f, onResponse)
		if err == nil {
			break
		}
		// The transaction layer put a Via with a branch in req; a new
		// attempt needs a new one.
		req = withoutTopVia(req)
	}
	if err != nil {
		return nil, fmt.Errorf("ua: sending INVITE: %w", err)
	}
	select {
	case res := <-final:
		return res, nil
	case <-b.Done():
		select {
		case res := <-final:
			return res, nil
		default:
		}
		if err := b.Err(); err != nil {
			return nil, fmt.Errorf("ua: INVITE to %s: %w", b.Flow().Remote, err)
		}
		return nil, errors.New("ua: the INVITE ended without a final response")
	case <-ctx.Done():
	}
	// §9.1: cancel, then wait for the INVITE's final response (487, or a
	// 2xx that crossed the CANCEL, which is ACKed and hung up).
	b.Cancel()
	t := time.NewTimer(64 * a.t1())
	defer t.Stop()
	select {
	case res := <-final:
		switch {
		case res.StatusCode/100 != 2:
		case c.dlg != nil:
			// A re-INVITE whose 2xx crossed the CANCEL: the session
			// goes on; ACK it.
			c.sendACK(context.Background(), req, res)
		default:
			c.badAnswer(context.Background(), req, res, "ua: the call was answered as it was cancelled; ending it")
		}
	case <-b.Done():
	case <-t.C:
		b.Abandon()
	}
	return nil, ctx.Err()
}

// withoutTopVia returns a copy of req without its top Via, for a new
// transaction.
func withoutTopVia(req *sip.Message) *sip.Message {
	r := req.Clone()
	r.RemoveFirst("Via")
	return r
}

// Hold puts the call on hold with a re-INVITE offering sendonly (RFC 3264
// §8.4).
func (c *Call) Hold(ctx context.Context) error { return c.reinvite(ctx, true) }

// Resume takes the call off hold (RFC 3264 §8.4).
func (c *Call) Resume(ctx context.Context) error { return c.reinvite(ctx, false) }

// reinvite sends a re-INVITE with a new offer: sendonly when hold is set,
// sendrecv otherwise. A 491 (glare, §14.1) is retried after the back-off
// the RFC gives, up to three times.
func (c *Call) reinvite(ctx context.Context, hold bool) error {
	c.inviteMu.Lock()
	defer c.inviteMu.Unlock()
	for try := 0; ; try++ {
		code, retry, err := c.reinviteOnce(ctx, hold)
		if err != nil {
			return err
		}
		switch {
		case code/100 == 2:
			return nil
		case (code == 491 || (code == 500 && retry >= 0)) && try < 3:
			// §14.1: the owner of the Call-ID waits 2.1-4 s, the other
			// side 0-2 s, in units of 10 ms; a 500 with Retry-After
			// (§14.2: the peer's last offer is still open) as long as
			// it asks, ten seconds at most.
			wait := time.Duration(rand.IntN(201)) * 10 * time.Millisecond
			if c.outgoing {
				wait = 2100*time.Millisecond + time.Duration(rand.IntN(191))*10*time.Millisecond
			}
			if code == 500 {
				wait = min(retry, 10*time.Second) + time.Duration(rand.IntN(50))*10*time.Millisecond
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			case <-c.done:
				return errors.New("ua: the call ended")
			}
		default:
			return &StatusError{Code: code, Reason: sip.StatusText(code)}
		}
	}
}

// reinviteOnce sends one re-INVITE and applies the answer; it returns the
// final status and, for a 500, its Retry-After (-1 without one).
func (c *Call) reinviteOnce(ctx context.Context, hold bool) (int, time.Duration, error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return 0, -1, errors.New("ua: the call has ended")
	}
	if c.ack != nil || c.answering {
		// The peer's own re-INVITE is open: ours would be refused
		// (§14.2); come back as after a 491.
		c.mu.Unlock()
		return 491, -1, nil
	}
	c.offering = true
	prevHold := c.localHold
	c.localHold = hold
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.offering = false
		c.mu.Unlock()
	}()
	dir := sdp.SendRecv
	if hold {
		dir = sdp.SendOnly
	}
	offer, err := c.sdpOffer(dir)
	if err != nil {
		return 0, -1, err
	}
	res, sent, err := c.sendReinvite(ctx, offer)
	if err != nil || res.StatusCode/100 != 2 {
		c.mu.Lock()
		c.localHold = prevHold
		c.mu.Unlock()
		if err != nil {
			return 0, -1, err
		}
		switch res.StatusCode {
		case 481: // §14.1: the dialog is gone
			c.end("re-INVITE answered 481")
		case 408: // §14.1: the UAC terminates the dialog
			go c.Hangup(context.Background())
		}
		retry := time.Duration(-1)
		if v := res.Get("Retry-After"); v != "" {
			// §20.33: delta-seconds, then perhaps a comment and params.
			if f := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == '(' || r == '\t' }); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil && n >= 0 {
					retry = time.Duration(n) * time.Second
				}
			}
		}
		return res.StatusCode, retry, nil
	}
	c.dlg.Refresh(res)
	c.sendACK(ctx, sent, res)
	neg, err := c.sdpAccept(res.Body)
	if err != nil {
		c.Hangup(ctx)
		return 0, -1, fmt.Errorf("ua: the re-INVITE's answer cannot be used: %w", err)
	}
	if err := c.apply(neg); err != nil {
		return 0, -1, err
	}
	c.sessionTimer(res, true)
	return res.StatusCode, -1, nil
}

// sendReinvite sends a re-INVITE within the dialog carrying body (an
// offer), answering one challenge.
func (c *Call) sendReinvite(ctx context.Context, body []byte) (*sip.Message, *sip.Message, error) {
	a := c.agent
	req := c.dlg.Request("INVITE")
	flows, err := a.nextHop(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	contact, err := a.contact(flows[0], c.dlg.Secure())
	if err != nil {
		return nil, nil, err
	}
	req.Add("Contact", "<"+contact.String()+">")
	req.Add("Allow", allow)
	req.Add("Supported", "timer")
	c.mu.Lock()
	interval, refresher := c.interval, c.refresher
	c.mu.Unlock()
	if interval > 0 {
		// RFC 4028 §7.4: a re-INVITE restates the interval and keeps
		// the refresher as it is: us (uac here) or the peer (uas).
		who := "uas"
		if refresher {
			who = "uac"
		}
		req.Add("Session-Expires", strconv.Itoa(int(interval/time.Second))+";refresher="+who)
	}
	req.Add("User-Agent", userAgent)
	req.Add("Content-Type", "application/sdp")
	req.Body = body
	return a.invite(ctx, req, flows, c)
}

// sessionTimer sets the session timer from the Session-Expires of a 2xx
// to an INVITE (RFC 4028 §7.2 when we sent it, §9 when we answered it):
// the refresher re-INVITEs at half the interval, the other side sends BYE
// when no refresh came before the interval (less a third, at most 32 s)
// ran out (§10).
func (c *Call) sessionTimer(res *sip.Message, weAreUAC bool) {
	if res.Get("Session-Expires") == "" {
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		c.interval = 0
		c.mu.Unlock()
		return
	}
	interval, params := sessionExpires(res)
	if interval == 0 {
		return
	}
	who := params.Value("refresher")
	if who == "" {
		who = "uas" // §7.2 leaves it to the UAS; without one the UAS refreshes
	}
	weRefresh := (who == "uac") == weAreUAC
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.interval, c.refresher = interval, weRefresh
	if weRefresh {
		c.timer = time.AfterFunc(interval/2, func() { c.refresh(interval / 2) })
		return
	}
	c.timer = time.AfterFunc(interval-min(32*time.Second, interval/3), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 64*c.agent.t1())
		defer cancel()
		if c.end("session expired") {
			c.bye(ctx, sip.NewHeader("Reason", `SIP;cause=408;text="Session expired"`))
		}
	})
}

// refresh sends the session refresh (RFC 4028 §7.4, §10): a re-INVITE
// restating the interval. Only a timeout, 408 or 481 ends the call; after
// another refusal it tries again once more, a quarter of the way to the
// expiry (left is the time until then), after which the peer's own
// expiry ends the session.
func (c *Call) refresh(left time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 64*c.agent.t1())
	defer cancel()
	c.mu.Lock()
	hold := c.localHold
	c.mu.Unlock()
	err := c.reinvite(ctx, hold)
	var se *StatusError
	switch {
	case err == nil:
	case errors.As(err, &se) && se.Code != 408 && se.Code != 481:
		c.agent.log().Warn("ua: session refresh refused", "call-id", c.dlg.ID().CallID, "status", se.Code)
		if left > 4*time.Second {
			c.mu.Lock()
			if !c.ended {
				c.timer = time.AfterFunc(left/4, func() { c.refresh(0) })
			}
			c.mu.Unlock()
		}
	default:
		c.agent.log().Warn("ua: session refresh failed; hanging up", "call-id", c.dlg.ID().CallID, "err", err)
		c.Hangup(context.Background())
	}
}

// serveInvite answers a new call (§13.3).
func (a *Agent) serveInvite(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	from, err := req.From()
	if err != nil || from.Tag() == "" {
		tx.Reply(400, "Missing From tag")
		return
	}
	if _, ok := dialog.ContactURI(req); !ok {
		tx.Reply(400, "Missing Contact")
		return
	}
	// RFC 4028 §8.1: too short an interval is refused with our minimum.
	se, seParams, ok := a.checkSessionExpires(tx, req)
	if !ok {
		return
	}
	code, opts := 200, CallOptions{}
	if a.OnInvite != nil {
		code, opts = a.OnInvite(req)
	}
	if code != 200 {
		tx.Reply(code, "")
		return
	}
	// The call was taken but may end before it is established: what
	// OnInvite opened for it (a recording) is released then.
	established := false
	defer func() {
		if !established && opts.OnEnd != nil {
			opts.OnEnd()
		}
	}()
	offer := req.Body
	srtp := a.SRTP || req.RequestURI.IsSecure()
	if len(offer) > 0 {
		// The same transports the sdp package takes as SRTP (RFC 4568 §3.2).
		if d, err := sdp.Parse(offer); err == nil && (strings.EqualFold(d.Audio.Proto, "RTP/SAVP") || strings.EqualFold(d.Audio.Proto, "RTP/SAVPF")) {
			srtp = true
		}
	}
	local := tx.Flow().Local.Addr()
	if !local.IsValid() || local.IsUnspecified() {
		if l, err := a.Server.LocalAddr(tx.Flow()); err == nil {
			local = l.Addr()
		}
	}
	rtp, rtcp, err := media.ListenPair(a.mediaAddr(local), rtpPortMin, rtpPortMax)
	if err != nil {
		a.log().Warn("ua: no RTP port for an incoming call", "err", err)
		tx.Reply(500, "No RTP port")
		return
	}
	ep := &sdp.Endpoint{Addr: rtp.LocalAddr().(*net.UDPAddr).AddrPort(), DTMF: 101, SRTP: srtp, Username: a.AOR.User}
	var body []byte
	var neg sdp.Negotiated
	if len(offer) > 0 {
		body, neg, err = ep.Answer(offer, sdp.SendRecv)
		if err != nil {
			// RFC 3261 §13.3.1.3: 488 with a Warning saying why.
			closeConns(rtp, rtcp)
			tx.Reply(488, "", sip.NewHeader("Warning", `304 switchboard "`+warningText(err)+`"`))
			return
		}
	} else if body, err = ep.Offer(sdp.SendRecv); err != nil { // §13.3.1.1: offer in the 2xx
		closeConns(rtp, rtcp)
		tx.Reply(500, "")
		return
	}
	tx.Reply(180, "")
	if a.Ring > 0 {
		select {
		case <-time.After(a.Ring):
		case <-ctx.Done():
			closeConns(rtp, rtcp)
			return // cancelled: the stack answers 487
		}
	}
	if ctx.Err() != nil {
		closeConns(rtp, rtcp)
		return
	}
	res := sip.NewResponse(req, 200, "")
	to, _ := res.To()
	d, err := dialog.NewUAS(req, to.Tag())
	if err != nil {
		closeConns(rtp, rtcp)
		tx.Reply(400, "")
		return
	}
	contact, err := a.contact(tx.Flow(), req.RequestURI.IsSecure())
	if err != nil {
		closeConns(rtp, rtcp)
		tx.Reply(500, "")
		return
	}
	established = true
	c := &Call{agent: a, dlg: d, opts: opts, ep: ep, done: make(chan struct{}), rtp: rtp, rtcp: rtcp, started: time.Now()}
	c.addAnswerHeaders(res, contact, req, se, seParams)
	res.Add("Content-Type", "application/sdp")
	res.Body = body
	cseq, _ := req.CSeq()
	p := &pendingACK{seq: cseq.Seq, offerless: len(offer) == 0, acked: make(chan struct{})}
	c.ack = p
	a.add(c)
	if err := tx.Respond(res); err != nil {
		c.end("sending the 200 failed")
		return
	}
	if len(offer) > 0 {
		if err := c.apply(neg); err != nil {
			a.log().Warn("ua: starting media", "err", err)
		}
	}
	c.sessionTimer(res, false)
	go c.awaitACK(p)
	if a.OnCall != nil {
		go a.OnCall(c)
	}
}

// checkSessionExpires reads req's Session-Expires and answers 422 with
// our Min-SE when it is shorter (RFC 4028 §8.1); ok is false then.
func (a *Agent) checkSessionExpires(tx *stack.Tx, req *sip.Message) (time.Duration, sip.Params, bool) {
	se, params := sessionExpires(req)
	if se > 0 && se < a.minSE() {
		tx.Reply(422, "", sip.NewHeader("Min-SE", strconv.Itoa(int(a.minSE()/time.Second))))
		return 0, "", false
	}
	return se, params, true
}

// minSE is the smallest session interval the Agent accepts (RFC 4028
// §5: MinSE, 90 s by default).
func (a *Agent) minSE() time.Duration {
	if a.MinSE > 0 {
		return a.MinSE
	}
	return 90 * time.Second
}

// sessionExpires reads a message's Session-Expires (RFC 4028 §4): the
// interval (0 when absent or invalid) and its parameters.
func sessionExpires(m *sip.Message) (time.Duration, sip.Params) {
	v := m.Get("Session-Expires")
	if v == "" {
		return 0, ""
	}
	secs, params, _ := strings.Cut(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(secs))
	if err != nil || n <= 0 {
		return 0, ""
	}
	return time.Duration(n) * time.Second, sip.Params(strings.TrimSpace(params))
}

// addAnswerHeaders adds the Contact, capabilities and, when the request
// asked for a session timer, the RFC 4028 §9 answer: the refresher it
// named, else the UAC when it supports timer, else us.
func (c *Call) addAnswerHeaders(res *sip.Message, contact sip.URI, req *sip.Message, se time.Duration, params sip.Params) {
	res.Add("Contact", "<"+contact.String()+">")
	res.Add("Allow", allow)
	res.Add("Supported", "timer")
	res.Add("Server", userAgent)
	if se == 0 {
		return
	}
	uacTimer := false
	for v := range req.Values("Supported") {
		if strings.EqualFold(v, "timer") {
			uacTimer = true
		}
	}
	who := params.Value("refresher")
	if who == "" || (who == "uac" && !uacTimer) {
		who = "uas"
		if uacTimer {
			who = "uac"
		}
	}
	res.Add("Session-Expires", strconv.Itoa(int(se/time.Second))+";refresher="+who)
	if who == "uac" {
		res.Add("Require", "timer")
	}
}

// warningText makes an error fit a Warning header's quoted text.
func warningText(err error) string {
	return strings.NewReplacer(`"`, "'", `\`, "/", "\r", " ", "\n", " ").Replace(err.Error())
}

// awaitACK ends the call when the ACK for our 2xx does not come within
// 64*T1 (§13.3.1.4).
func (c *Call) awaitACK(p *pendingACK) {
	t := time.NewTimer(64 * c.agent.t1())
	defer t.Stop()
	select {
	case <-p.acked:
		return
	case <-c.done:
		return
	case <-t.C:
	}
	c.mu.Lock()
	if c.ack == p {
		c.ack = nil
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 64*c.agent.t1())
	defer cancel()
	c.agent.log().Warn("ua: no ACK for our 2xx; ending the call", "call-id", c.dlg.ID().CallID)
	if c.end("no ACK") {
		c.bye(ctx)
	}
}

// serveACK takes the ACK for a 2xx we sent (§13.3.1.4), with the answer
// when our 2xx carried the offer.
func (a *Agent) serveACK(ack *sip.Message) {
	c, err := a.lookup(ack)
	if err != nil {
		return
	}
	cseq, err := ack.CSeq()
	if err != nil {
		return
	}
	c.mu.Lock()
	p := c.ack
	if p == nil || p.seq != cseq.Seq {
		c.mu.Unlock()
		return
	}
	c.ack = nil
	c.mu.Unlock()
	close(p.acked)
	if !p.offerless {
		return
	}
	neg, err := c.sdpAccept(ack.Body)
	if err == nil {
		err = c.apply(neg)
	}
	if err != nil {
		// RFC 3261 §13.3.1.4 leaves a bad answer in an ACK to a BYE.
		a.log().Warn("ua: the ACK's answer cannot be used; hanging up", "err", err)
		ctx, cancel := context.WithTimeout(context.Background(), 64*a.t1())
		defer cancel()
		c.Hangup(ctx)
	}
}

// serveInDialog answers a request within one of our dialogs (§12.2.2).
func (a *Agent) serveInDialog(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	c, err := a.lookup(req)
	if err != nil {
		tx.Reply(481, "")
		return
	}
	if err := c.dlg.Receive(req); err != nil {
		if errors.Is(err, dialog.ErrOutOfOrder) {
			tx.Reply(500, "CSeq Out of Order")
		} else {
			tx.Reply(400, "")
		}
		return
	}
	switch req.Method {
	case "BYE":
		c.end("BYE received")
		tx.Reply(200, "")
	case "INVITE":
		c.serveReinvite(tx, req)
	case "UPDATE":
		c.serveUpdate(tx, req)
	case "INFO":
		c.serveInfo(tx, req)
	case "MESSAGE":
		a.serveMessage(tx, req)
	case "OPTIONS":
		tx.Reply(200, "", a.capabilities()...)
	default:
		tx.Reply(405, "", sip.NewHeader("Allow", allow))
	}
}

// serveReinvite answers a re-INVITE (§14.2): 491 while our own is
// outstanding, 500 with Retry-After while the last one awaits its ACK,
// else an answer to its offer (or an offer of ours when it has none).
func (c *Call) serveReinvite(tx *stack.Tx, req *sip.Message) {
	cseq, _ := req.CSeq()
	c.mu.Lock()
	p := c.ack
	c.mu.Unlock()
	if p != nil && cseq.Seq > p.seq {
		// The peer sent this after the ACK of our last 2xx, which may
		// still be on its way to us (ACKs and requests are served on
		// separate goroutines): give it a moment before calling the
		// offer open (§14.2).
		t := time.NewTimer(c.agent.t1())
		select {
		case <-p.acked:
		case <-t.C:
		}
		t.Stop()
	}
	c.mu.Lock()
	switch {
	case c.offering:
		c.mu.Unlock()
		tx.Reply(491, "")
		return
	case c.ack != nil || c.answering:
		// §14.2: our answer to the last offer is not acknowledged yet,
		// or another INVITE is being answered.
		c.mu.Unlock()
		tx.Reply(500, "", sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(10))))
		return
	}
	c.answering = true
	dir := sdp.SendRecv
	if c.localHold {
		dir = sdp.SendOnly
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.answering = false
		c.mu.Unlock()
	}()
	se, seParams, ok := c.agent.checkSessionExpires(tx, req)
	if !ok {
		return
	}
	contact, err := c.agent.contact(tx.Flow(), c.dlg.Secure())
	if err != nil {
		tx.Reply(500, "")
		return
	}
	var body []byte
	var neg sdp.Negotiated
	if len(req.Body) > 0 {
		body, neg, err = c.sdpAnswer(req.Body, dir)
		if err != nil {
			tx.Reply(488, "", sip.NewHeader("Warning", `304 switchboard "`+warningText(err)+`"`))
			return
		}
	} else if body, err = c.sdpOffer(dir); err != nil {
		tx.Reply(500, "")
		return
	}
	res := sip.NewResponse(req, 200, "")
	c.addAnswerHeaders(res, contact, req, se, seParams)
	res.Add("Content-Type", "application/sdp")
	res.Body = body
	np := &pendingACK{seq: cseq.Seq, offerless: len(req.Body) == 0, acked: make(chan struct{})}
	c.mu.Lock()
	c.ack = np
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		c.mu.Lock()
		if c.ack == np {
			c.ack = nil
		}
		c.mu.Unlock()
		return
	}
	if len(req.Body) > 0 {
		c.apply(neg)
	}
	c.sessionTimer(res, false)
	go c.awaitACK(np)
}

// serveUpdate answers an UPDATE (RFC 3311): a session refresh (RFC 4028
// §9) or a new offer.
func (c *Call) serveUpdate(tx *stack.Tx, req *sip.Message) {
	if len(req.Body) > 0 {
		c.mu.Lock()
		ourOffer := c.offering || (c.ack != nil && c.ack.offerless)
		theirs := c.answering
		c.mu.Unlock()
		switch {
		case ourOffer: // RFC 3311 §5.2: our own offer is open
			tx.Reply(491, "")
			return
		case theirs: // an offer of the peer's is being answered
			tx.Reply(500, "", sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(10))))
			return
		}
	}
	se, seParams, ok := c.agent.checkSessionExpires(tx, req)
	if !ok {
		return
	}
	res := sip.NewResponse(req, 200, "")
	contact, err := c.agent.contact(tx.Flow(), c.dlg.Secure())
	if err != nil {
		tx.Reply(500, "")
		return
	}
	c.addAnswerHeaders(res, contact, req, se, seParams)
	var neg sdp.Negotiated
	if len(req.Body) > 0 {
		c.mu.Lock()
		dir := sdp.SendRecv
		if c.localHold {
			dir = sdp.SendOnly
		}
		c.mu.Unlock()
		body, n, err := c.sdpAnswer(req.Body, dir)
		if err != nil {
			tx.Reply(488, "", sip.NewHeader("Warning", `304 switchboard "`+warningText(err)+`"`))
			return
		}
		neg = n
		res.Add("Content-Type", "application/sdp")
		res.Body = body
	}
	if err := tx.Respond(res); err != nil {
		return
	}
	if len(req.Body) > 0 {
		c.apply(neg)
	}
	c.sessionTimer(res, false)
}

// serveInfo takes SIP INFO DTMF (application/dtmf-relay, "Signal=5"),
// which some phones send instead of RFC 4733 events.
func (c *Call) serveInfo(tx *stack.Tx, req *sip.Message) {
	tx.Reply(200, "")
	if !strings.EqualFold(req.ContentType(), "application/dtmf-relay") {
		return
	}
	for line := range strings.Lines(string(req.Body)) {
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "Signal") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(v[0])) && c.opts.OnDTMF != nil {
			c.opts.OnDTMF(rune(strings.ToUpper(v)[0]))
		}
	}
}

func (c *Call) sdpOffer(dir sdp.Direction) ([]byte, error) {
	c.epMu.Lock()
	defer c.epMu.Unlock()
	return c.ep.Offer(dir)
}

func (c *Call) sdpAnswer(offer []byte, dir sdp.Direction) ([]byte, sdp.Negotiated, error) {
	c.epMu.Lock()
	defer c.epMu.Unlock()
	return c.ep.Answer(offer, dir)
}

func (c *Call) sdpAccept(answer []byte) (sdp.Negotiated, error) {
	c.epMu.Lock()
	defer c.epMu.Unlock()
	return c.ep.Accept(answer)
}
