package stack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transaction"
	"github.com/switchboard-sip/switchboard/transport"
	"github.com/switchboard-sip/switchboard/transport/resolve"
)

// What a proxy core (RFC 3261 §16) needs from the stack beyond Handler and
// Tx: next hops resolved, the address it sends from, client transactions
// whose every response it sees (Branch), CANCEL for them, and stateless
// forwarding of ACKs and stray responses.

// Flow is transport.Flow, named here so that transaction users, which do
// not import transport, can hold one: where a request goes or came from.
type Flow = transport.Flow

// Branch is a client transaction started by Server.Send: one request
// toward one next hop (§16.6 step 10). Its responses reach the callback
// given to Send.
type Branch struct {
	tx  *transaction.ClientTx
	srv *Server

	mu          sync.Mutex
	provisional bool // a 1xx has arrived; guarded by mu
	final       bool // a final response has arrived; guarded by mu
	cancel      bool // Cancel was called; guarded by mu
	cancelSent  bool // guarded by mu
}

// Send starts a client transaction for req toward dst. req's top Via must
// carry the branch the transaction is to use (a proxy's Via, §16.6 step 8);
// the transport completes its sent-by. onResponse is called in the
// transport's goroutine, never under a lock, for every response the caller
// must see: provisional ones, the final one, and for an INVITE every 2xx
// (RFC 6026 §7.1). Send returns an error, and calls onResponse never, when
// the request could not be sent at all.
func (s *Server) Send(req *sip.Message, dst transport.Flow, onResponse func(*sip.Message)) (*Branch, error) {
	s.init()
	b := &Branch{srv: s}
	tx, err := s.tl.Request(req, dst, func(res *sip.Message) {
		b.mu.Lock()
		sendCancel := false
		if res.StatusCode < 200 {
			b.provisional = true
			sendCancel = b.cancel && !b.cancelSent && !b.final
		} else {
			b.final = true
		}
		if sendCancel {
			b.cancelSent = true
		}
		b.mu.Unlock()
		if sendCancel {
			b.sendCancel()
		}
		onResponse(res)
	})
	if err != nil {
		return nil, err
	}
	b.tx = tx
	return b, nil
}

// Request returns the request as sent.
func (b *Branch) Request() *sip.Message { return b.tx.Request }

// Done is closed when the client transaction has ended.
func (b *Branch) Done() <-chan struct{} { return b.tx.Done() }

// Err reports why the transaction ended without a final response
// (transaction.ErrTimeout or a transport error), or nil.
func (b *Branch) Err() error { return b.tx.Err() }

// Flow returns the flow the request went out on.
func (b *Branch) Flow() transport.Flow { return b.tx.Flow() }

// Abandon ends the branch's transaction without a final response
// (transaction.ClientTx.Abandon): Err then reports a timeout.
func (b *Branch) Abandon() { b.tx.Abandon() }

// Cancel cancels an INVITE branch (§9.1): the CANCEL goes out at once if a
// provisional response has arrived, or as soon as one does, since a CANCEL
// must not be sent before; never once a final response has arrived.
// Calling it more than once sends one CANCEL. Other methods cannot be
// cancelled; for them it does nothing.
func (b *Branch) Cancel() {
	if b.tx.Request.Method != "INVITE" {
		return
	}
	b.mu.Lock()
	b.cancel = true
	send := b.provisional && !b.final && !b.cancelSent
	if send {
		b.cancelSent = true
	}
	b.mu.Unlock()
	if send {
		b.sendCancel()
	}
}

// sendCancel sends the CANCEL of the branch's INVITE as a client
// transaction of its own toward the same flow; its response is of no
// interest beyond ending that transaction.
func (b *Branch) sendCancel() {
	c := cancelFor(b.tx.Request)
	if _, err := b.srv.tl.Request(c, b.tx.Flow(), nil); err != nil {
		b.srv.debug("stack: sending CANCEL", "call-id", c.CallID(), "err", err)
	}
}

// cancelFor builds the CANCEL of req as §9.1 says: the same Request-URI,
// Call-ID, To, From, CSeq number and Route headers, and one Via, the top
// Via of req with its branch.
func cancelFor(req *sip.Message) *sip.Message {
	c := &sip.Message{Method: "CANCEL", RequestURI: req.RequestURI, Version: "SIP/2.0"}
	via := false
	for _, h := range req.Headers {
		switch {
		case h.Is("Via"):
			if !via {
				via = true
				v, _ := req.Via()
				c.Headers = append(c.Headers, sip.NewHeader("Via", v.String()))
			}
		case h.Is("From"), h.Is("To"), h.Is("Call-ID"), h.Is("Route"), h.Is("Max-Forwards"):
			c.Headers = append(c.Headers, h)
		case h.Is("CSeq"):
			cs, _ := req.CSeq()
			cs.Method = "CANCEL"
			c.Headers = append(c.Headers, sip.NewHeader("CSeq", cs.String()))
		}
	}
	return c
}

// Resolve returns the next hops for u by RFC 3263 (transport/resolve):
// transport, address and, for TLS, the name the certificate must match,
// in the order to try them. The Server's Resolver is used, or one with the
// system's name server.
func (s *Server) Resolve(ctx context.Context, u sip.URI) ([]transport.Flow, error) {
	if !u.IsSIP() {
		return nil, fmt.Errorf("stack: cannot send to %s URI %s", u.Scheme, u.String())
	}
	r := s.Resolver
	if r == nil {
		r = &resolve.Resolver{}
	}
	targets, err := r.ResolveURI(ctx, &u)
	if err != nil {
		return nil, err
	}
	flows := make([]transport.Flow, len(targets))
	for i, t := range targets {
		flows[i] = transport.Flow{Proto: t.Transport, Remote: t.Addr, Name: t.ServerName}
	}
	return flows, nil
}

// LocalAddr returns the address a request sent toward dst leaves from, as
// a Record-Route naming this server on that side should carry it
// (transport.Layer.LocalAddr).
func (s *Server) LocalAddr(dst transport.Flow) (netip.AddrPort, error) {
	s.init()
	return s.Transport.LocalAddr(dst)
}

// SendStateless sends req toward dst without a transaction: a proxy
// forwarding the ACK of a 2xx (§16.11, RFC 6026 §8.2), which is never
// answered. The transport completes the top Via's sent-by.
func (s *Server) SendStateless(req *sip.Message, dst transport.Flow) error {
	s.init()
	_, err := s.Transport.SendRequest(req, dst)
	return err
}

// errNoViaAddr reports a response whose next Via names a host without an
// address to send to.
var errNoViaAddr = errors.New("stack: the response's Via has no address to send to")

// ForwardResponse sends res, whose top Via is now the next hop's, without
// a transaction, as §18.2.2 routes it: a proxy relaying a response that
// matched no client transaction (a 2xx retransmitted after the INVITE
// transaction ended, §16.7 step 9 and RFC 6026 §8.4).
func (s *Server) ForwardResponse(res *sip.Message) error {
	s.init()
	v, err := res.Via()
	if err != nil {
		return err
	}
	host := v.Params.Value("received")
	if host == "" {
		host = v.Host
	}
	a, ok := sip.HostAddr(host)
	if !ok {
		return errNoViaAddr
	}
	src := transport.Flow{Proto: v.Transport, Remote: netip.AddrPortFrom(a.Unmap(), 0)}
	if src.Reliable() {
		// Over a stream, a new connection (or one open) to the sent-by
		// port: the connection the request came on is not known here.
		src.Conn = 0
	}
	return s.Transport.SendResponse(res, src)
}

// ForwardResponseOn sends res, whose top Via is now the next hop's, without
// a transaction back along flow, the flow its request came in on: over a
// stream on that connection while it is open (§18.2.2), over UDP by the
// Via's received, rport and sent-by. A proxy relays so a 2xx its server
// transaction no longer takes (RFC 6026 §8.4).
func (s *Server) ForwardResponseOn(res *sip.Message, flow Flow) error {
	s.init()
	return s.Transport.SendResponse(res, flow)
}

// Relay sends a response a proxy forwards (§16.7 step 8): as Respond, but
// a 2xx to an INVITE is not retransmitted by the transaction, since the UAS
// retransmits it end to end (transaction.ServerTx.Relay).
func (t *Tx) Relay(res *sip.Message) error {
	err := t.st.Relay(res)
	t.sent(res.StatusCode)
	return err
}
