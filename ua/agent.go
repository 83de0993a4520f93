// Package ua is Switchboard's SIP user agent: a UAC and UAS in one that
// places and answers calls with RTP audio (media), negotiates them with
// SDP offer/answer (sdp), keeps their dialogs (dialog), registers, and
// sends and receives instant messages (RFC 3428).
//
// An Agent is a transaction user built on a stack.Server, which it also
// serves as Handler:
//
//	srv := &stack.Server{}
//	a := &ua.Agent{Server: srv, AOR: aor, Username: "alice", Password: pw}
//	srv.Handler = a
//	srv.Listen("udp", "127.0.0.1:0")
//	call, res, err := a.Call(ctx, bob, ua.CallOptions{Source: src, Sink: rec})
//	// call is nil unless res is a 2xx
//	<-call.Done()
//
// Incoming calls are answered as OnInvite decides; each established call,
// either direction, is handed to OnCall.
package ua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/dialog"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// Extensions returns the option tags the Agent understands, for
// sip.Policy.Extensions of its Server, so that a request with Require:
// timer (RFC 4028 §7.1, or inserted by a proxy, §8) is not refused 420.
func Extensions() []string { return []string{"timer"} }

// allow is what the Agent answers to (RFC 3261 §20.5).
const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, UPDATE"

// userAgent is the User-Agent and Server header value.
const userAgent = "Switchboard"

// Agent is a SIP user agent. Set its fields before the Server listens;
// they are not changed afterwards.
type Agent struct {
	// Server carries the Agent's requests and responses; the Agent is
	// its Handler (or the handler the Server's Handler passes on to).
	Server *stack.Server
	// AOR is the address-of-record the Agent calls from and registers
	// (From of its requests, user part of its Contact).
	AOR sip.URI
	// Display is the display name in From.
	Display string
	// Username and Password answer digest challenges (401, 407).
	Username, Password string
	// Proxy, when set, is the outbound proxy: every request outside a
	// dialog goes to it, as a preloaded loose Route (RFC 3261 §8.1.2).
	Proxy *sip.URI
	// Transport (udp, tcp, tls …) is used toward URIs that name none.
	Transport string
	// SRTP makes the Agent offer and require SRTP with SDES keys
	// (RFC 4568). Calls to sips: URIs use SRTP whatever it says, and an
	// incoming RTP/SAVP offer is answered with SRTP.
	SRTP bool
	// MediaAddr is the address RTP is bound to and announced in SDP; the
	// zero value uses the address SIP signalling leaves from.
	MediaAddr netip.Addr
	// OnInvite decides an incoming call: it returns the status to answer
	// with (200 takes the call; 486, 603 … refuse it) and, for 200, the
	// call's media. Nil answers every call with 200 and no media source
	// or sink. It must not block for long: the caller is ringing.
	OnInvite func(req *sip.Message) (int, CallOptions)
	// Ring is how long an incoming call rings (180 Ringing) before it is
	// answered; zero answers at once.
	Ring time.Duration
	// OnCall receives every call once it is established, outgoing and
	// incoming, on a goroutine of its own for incoming calls.
	OnCall func(c *Call)
	// OnMessage receives each MESSAGE (RFC 3428) inside or outside a
	// dialog, after it has been answered 200.
	OnMessage func(from sip.Address, contentType string, body []byte)
	// SessionExpires is the session interval (RFC 4028) the Agent asks
	// for in its INVITEs; zero asks for none and only answers what the
	// peer asks.
	SessionExpires time.Duration
	// MinSE is the shortest session interval accepted from a peer
	// (RFC 4028 §5); shorter ones get 422. Zero means 90 s.
	MinSE time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger

	mu    sync.Mutex
	calls map[dialog.ID]*Call // established and early UAS dialogs; guarded by mu
}

// ServeSIP answers requests to the Agent: new calls, requests within its
// dialogs, ACKs, OPTIONS and MESSAGE. It owns the response to every
// request (RFC 3261 §8.2).
func (a *Agent) ServeSIP(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	to, err := req.To()
	if err != nil {
		if tx != nil {
			tx.Reply(400, "Bad To")
		}
		return
	}
	if tx == nil { // an ACK
		a.serveACK(req)
		return
	}
	if to.Tag() != "" {
		a.serveInDialog(ctx, tx, req)
		return
	}
	switch req.Method {
	case "INVITE":
		a.serveInvite(ctx, tx, req)
	case "OPTIONS":
		// §11.2: what we support, whether we would take a call.
		tx.Reply(200, "", a.capabilities()...)
	case "MESSAGE":
		a.serveMessage(tx, req)
	case "BYE", "UPDATE", "INFO":
		tx.Reply(481, "") // §15.1.2: no such dialog
	default:
		tx.Reply(405, "", sip.NewHeader("Allow", allow))
	}
}

// capabilities are the headers of an OPTIONS answer (§11.2).
func (a *Agent) capabilities() []sip.Header {
	return []sip.Header{
		sip.NewHeader("Allow", allow),
		sip.NewHeader("Accept", "application/sdp, text/plain"),
		sip.NewHeader("Supported", "timer"),
		sip.NewHeader("Server", userAgent),
	}
}

// serveMessage answers a MESSAGE (RFC 3428 §7) and hands it on.
func (a *Agent) serveMessage(tx *stack.Tx, req *sip.Message) {
	from, err := req.From()
	if err != nil {
		tx.Reply(400, "Bad From")
		return
	}
	ct := req.ContentType()
	if ct == "" {
		ct = "text/plain"
	}
	tx.Reply(200, "")
	if a.OnMessage != nil {
		a.OnMessage(from, ct, req.Body)
	}
}

func (a *Agent) log() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// client returns a stack.Client with the Agent's credentials.
func (a *Agent) client() *stack.Client {
	c := a.Server.Client()
	c.Username, c.Password = a.Username, a.Password
	c.Transport = a.Transport
	c.Resolver = a.Server.Resolver
	return c
}

// from returns the Agent's From address with a fresh tag.
func (a *Agent) from() sip.Address {
	f := sip.Address{Display: a.Display, URI: a.AOR}
	f.URI.Params, f.URI.Headers = "", ""
	f.Params = sip.Params("").With("tag", sip.NewTag())
	return f
}

// newRequest builds a request outside any dialog toward target: the
// outbound proxy as a Route when there is one.
func (a *Agent) newRequest(method string, target sip.URI) *sip.Message {
	req := sip.NewRequest(method, target, a.from(), sip.Address{URI: target}, sip.NewCallID(), 1)
	a.routeToProxy(req)
	req.Add("User-Agent", userAgent)
	return req
}

// routeToProxy adds the outbound proxy, when there is one, as the
// request's loose Route (RFC 3261 §8.1.2).
func (a *Agent) routeToProxy(req *sip.Message) {
	if a.Proxy == nil {
		return
	}
	p := *a.Proxy
	if !p.Params.Has("lr") {
		p.Params = p.Params.With("lr", "")
	}
	req.Add("Route", "<"+p.String()+">")
}

// nextHop resolves where req goes (RFC 3261 §8.1.2, RFC 3263): the first
// Route when it is a loose router, else the Request-URI.
func (a *Agent) nextHop(ctx context.Context, req *sip.Message) ([]stack.Flow, error) {
	flows, err := a.client().NextHops(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("ua: %w", err)
	}
	if len(flows) == 0 {
		return nil, errors.New("ua: no address to send to")
	}
	return flows, nil
}

// contact returns our Contact toward flow: the AOR's user at the address
// the request leaves from, with the transport (§8.1.1.8). secure asks for
// a sips URI (a call to a sips: URI, §8.1.1.8).
func (a *Agent) contact(flow stack.Flow, secure bool) (sip.URI, error) {
	local, err := a.Server.LocalAddr(flow)
	if err != nil {
		return sip.URI{}, fmt.Errorf("ua: no %s listener for the Contact: %w", flow.Proto, err)
	}
	u := sip.URI{Scheme: "sip", User: a.AOR.User, Port: int(local.Port())}
	if u.User == "" {
		u.User = "switchboard"
	}
	h := local.Addr().Unmap()
	if h.Is6() {
		u.Host = "[" + h.String() + "]"
	} else {
		u.Host = h.String()
	}
	proto := strings.ToLower(flow.Proto)
	switch {
	case secure && proto == "tls":
		u.Scheme = "sips"
	case proto != "udp":
		u.Params = u.Params.With("transport", proto)
	}
	return u, nil
}

// Message sends a MESSAGE with body to target (RFC 3428) and returns the
// final response: err is nil whenever one arrived, whatever its code.
func (a *Agent) Message(ctx context.Context, target sip.URI, contentType string, body []byte) (*sip.Message, error) {
	req := a.newRequest("MESSAGE", target)
	req.Add("Content-Type", contentType)
	req.Body = body
	return a.client().Do(ctx, req)
}

// Registration is the outcome of one REGISTER.
type Registration struct {
	// Response is the registrar's final answer.
	Response *sip.Message
	// Expires is the interval the registrar granted our Contact (0 when
	// the answer was not a 2xx or did not list it).
	Expires time.Duration
	// Contact is the Contact we registered.
	Contact sip.URI
}

// Registrar keeps one registration (RFC 3261 §10.2): the same Call-ID
// and From tag for every REGISTER, CSeq counting up (§10.2.4).
type Registrar struct {
	agent   *Agent
	uri     sip.URI
	callID  string
	from    sip.Address
	seq     uint32
	contact sip.URI
}

// Registrar returns a Registrar for the registrar at uri (sip:example.com).
func (a *Agent) Registrar(uri sip.URI) *Registrar {
	return &Registrar{agent: a, uri: uri, callID: sip.NewCallID(), from: a.from()}
}

// Register sends one REGISTER binding our Contact for expires (0 removes
// it) and returns the answer: err is nil whenever a final response came.
func (r *Registrar) Register(ctx context.Context, expires time.Duration) (Registration, error) {
	a := r.agent
	to := sip.Address{URI: a.AOR}
	to.URI.Params, to.URI.Headers = "", ""
	r.seq++
	req := sip.NewRequest("REGISTER", r.uri, r.from, to, r.callID, r.seq)
	a.routeToProxy(req)
	flows, err := a.nextHop(ctx, req)
	if err != nil {
		return Registration{}, err
	}
	if r.contact.IsZero() {
		c, err := a.contact(flows[0], r.uri.IsSecure())
		if err != nil {
			return Registration{}, err
		}
		r.contact = c
	}
	req.Add("Contact", "<"+r.contact.String()+">")
	req.Add("Expires", strconv.Itoa(int(expires/time.Second)))
	req.Add("User-Agent", userAgent)
	res, err := a.client().Do(ctx, req)
	if err != nil {
		return Registration{}, err
	}
	// The client may have retried with credentials: keep counting from
	// the CSeq it used.
	if cs, err := res.CSeq(); err == nil && cs.Seq > r.seq {
		r.seq = cs.Seq
	}
	reg := Registration{Response: res, Contact: r.contact}
	if res.StatusCode/100 == 2 {
		reg.Expires = grantedExpiry(res, r.contact)
	}
	return reg, nil
}

// grantedExpiry reads the interval the registrar gave contact (§10.2.4):
// its Contact's expires parameter, else the Expires header.
func grantedExpiry(res *sip.Message, contact sip.URI) time.Duration {
	for c, err := range res.Contacts() {
		if err != nil || !c.URI.Equal(&contact) {
			continue
		}
		if e, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(e); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if e, err := res.Expires(); err == nil {
		return time.Duration(e) * time.Second
	}
	return 0
}

// Keep registers, then refreshes the registration before it expires
// until ctx ends, when it removes it (Expires: 0) and returns nil, or the
// error or refusal (*StatusError) of that last REGISTER. Each refresh's
// outcome is reported to report (may be nil). The first REGISTER's error
// or refusal is returned at once.
func (r *Registrar) Keep(ctx context.Context, expires time.Duration, report func(Registration, error)) error {
	if report == nil {
		report = func(Registration, error) {}
	}
	reg, err := r.Register(ctx, expires)
	report(reg, err)
	if err != nil {
		return err
	}
	if reg.Response.StatusCode/100 != 2 {
		return &StatusError{Code: reg.Response.StatusCode, Reason: reg.Response.Reason}
	}
	for {
		// Refresh at half the granted interval (never below 5 s).
		wait := max(reg.Expires/2, 5*time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			// Unregister with a context of its own: ours has ended.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ureg, uerr := r.Register(uctx, 0)
			cancel()
			if uerr == nil && ureg.Response.StatusCode/100 != 2 {
				uerr = &StatusError{Code: ureg.Response.StatusCode, Reason: ureg.Response.Reason}
			}
			return uerr
		case <-t.C:
		}
		next, err := r.Register(ctx, expires)
		report(next, err)
		if err == nil && next.Response.StatusCode/100 == 2 {
			reg = next
		} else {
			reg.Expires = 10 * time.Second // retry soon
		}
	}
}

// StatusError is a final response that ended what the caller asked for
// (a refused registration), for APIs that return an error.
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("ua: %d %s", e.Code, e.Reason) }

// errNoCall reports a request for a dialog the Agent does not know.
var errNoCall = errors.New("ua: no such call")

// lookup returns the call of a request received within a dialog.
func (a *Agent) lookup(req *sip.Message) (*Call, error) {
	id, err := dialog.RequestID(req)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	c := a.calls[id]
	a.mu.Unlock()
	if c == nil {
		return nil, errNoCall
	}
	return c, nil
}

func (a *Agent) add(c *Call) {
	a.mu.Lock()
	if a.calls == nil {
		a.calls = make(map[dialog.ID]*Call)
	}
	a.calls[c.dlg.ID()] = c
	a.mu.Unlock()
}

func (a *Agent) remove(c *Call) {
	a.mu.Lock()
	if a.calls[c.dlg.ID()] == c {
		delete(a.calls, c.dlg.ID())
	}
	a.mu.Unlock()
}

// Calls returns the calls in progress.
func (a *Agent) Calls() []*Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Call, 0, len(a.calls))
	for _, c := range a.calls {
		out = append(out, c)
	}
	return out
}
