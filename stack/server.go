// Package stack is the transaction-user API of Switchboard: a Server that
// hands requests to a Handler, much as net/http does, and a Client that sends
// requests and returns their final responses.
//
// A Server owns the transport listeners and the transaction layer. Each
// request that passes sip.Policy.Check starts a server transaction and is
// served by Handler.ServeSIP in a goroutine that serves nothing else
// meanwhile (one whose handler has returned waits a second for the next
// request before it ends, so a busy server does not start a goroutine per
// request); at most MaxConcurrent handlers run at once, and requests beyond
// that get 503. Requests that
// fail the check are answered statelessly with the response the policy names
// (400, 416, 420, 505 …), responses that fail it are dropped. An INVITE gets
// 100 Trying when the handler has not answered within 200 ms.
//
// Two hooks run on the goroutine that read the request, before any
// handler: Server.Stateless answers without a transaction (a digest
// challenge), and Server.Inline takes a request whose answer needs no
// blocking call, or comes later from another goroutine (a registrar
// answering once its store has committed), sparing the hand-off to a
// handler goroutine.
//
//	srv := &stack.Server{Handler: stack.HandlerFunc(func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
//		tx.Reply(200, "")
//	})}
//	srv.Listen("udp", "127.0.0.1:5060")
//	defer srv.Shutdown(context.Background())
//
// Client sends through the same listeners: Client.Do returns the final
// response as a value (a 486 is not an error) and an error only for a
// timeout or a transport failure.
package stack

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transaction"
	"github.com/switchboard-sip/switchboard/transport"
	"github.com/switchboard-sip/switchboard/transport/resolve"
)

// Handler responds to SIP requests. ServeSIP is called with the server
// transaction of a new request, or with tx nil for an ACK (the ACK of a 2xx,
// or one to forward), which is never answered. A handler owns the response:
// it should send a final response through tx before it returns; if it does
// not, the Server answers 487 when the request was cancelled and 500
// otherwise. ctx is cancelled when a CANCEL for the request arrives or the
// server shuts down.
type Handler interface {
	ServeSIP(ctx context.Context, tx *Tx, req *sip.Message)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, tx *Tx, req *sip.Message)

// ServeSIP calls f.
func (f HandlerFunc) ServeSIP(ctx context.Context, tx *Tx, req *sip.Message) { f(ctx, tx, req) }

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Chain applies middleware so that the first one listed runs first.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Mux routes requests by method. Methods without a handler get 405 with an
// Allow header listing those that have one (§8.2.1).
type Mux struct {
	mu sync.RWMutex
	m  map[string]Handler // guarded by mu
}

// Handle registers h for method ("INVITE", "OPTIONS" …).
func (x *Mux) Handle(method string, h Handler) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		x.m = make(map[string]Handler)
	}
	x.m[method] = h
}

// HandleFunc registers f for method.
func (x *Mux) HandleFunc(method string, f func(ctx context.Context, tx *Tx, req *sip.Message)) {
	x.Handle(method, HandlerFunc(f))
}

// ServeSIP dispatches to the handler for req.Method.
func (x *Mux) ServeSIP(ctx context.Context, tx *Tx, req *sip.Message) {
	x.mu.RLock()
	h := x.m[req.Method]
	allow := ""
	if h == nil {
		for m := range x.m {
			if allow != "" {
				allow += ", "
			}
			allow += m
		}
	}
	x.mu.RUnlock()
	if h != nil {
		h.ServeSIP(ctx, tx, req)
		return
	}
	if tx != nil {
		tx.Reply(405, "", sip.NewHeader("Allow", allow))
	}
}

// Tx is the server transaction of one request, seen from a handler.
type Tx struct {
	st  *transaction.ServerTx
	req *sip.Message
	srv *Server
	// inline is set while Server.Inline decides, and stays set when it
	// takes the request: the first final response then releases what
	// serve reserved for it. released makes that happen once.
	inline   bool
	released atomic.Bool
}

// Request returns the request.
func (t *Tx) Request() *sip.Message { return t.req }

// Respond sends res, built with sip.NewResponse from the request.
func (t *Tx) Respond(res *sip.Message) error {
	err := t.st.Respond(res)
	t.sent(res.StatusCode)
	return err
}

// sent ends a request taken by Server.Inline once its final response has
// been sent: it frees its MaxConcurrent slot, lets Shutdown go on, and
// logs the request at debug as LogRequests does for handlers.
func (t *Tx) sent(code int) {
	if !t.inline || code < 200 || !t.released.CompareAndSwap(false, true) {
		return
	}
	s := t.srv
	if s.Logger != nil && s.Logger.Enabled(context.Background(), slog.LevelDebug) {
		s.Logger.Debug("sip: request", "method", t.req.Method, "call-id", t.req.CallID(),
			"from", t.st.Source.String(), "status", code)
	}
	<-s.sem
	s.wg.Done()
}

// Reply builds a response to the request with code and reason (StatusText
// when empty) and the extra headers, and sends it.
func (t *Tx) Reply(code int, reason string, hdrs ...sip.Header) error {
	// The transaction keeps only the bytes it sent, so the message is
	// recycled for the next Reply.
	res, _ := t.srv.responses.Get().(*sip.Message)
	if res == nil {
		res = new(sip.Message)
	}
	res.InitResponse(t.req, code, reason)
	res.Headers = append(res.Headers, hdrs...)
	err := t.st.Respond(res)
	*res = sip.Message{}
	t.srv.responses.Put(res)
	t.sent(code)
	return err
}

// Done is closed when the transaction has ended.
func (t *Tx) Done() <-chan struct{} { return t.st.Done() }

// Status returns the status code of the last response sent, or 0 before
// any.
func (t *Tx) Status() int { return t.st.LastCode() }

// LogRequests is middleware that logs one debug record per request after
// its handler returned: method, Call-ID, source and the status sent.
func LogRequests(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
			next.ServeSIP(ctx, tx, req)
			if !log.Enabled(ctx, slog.LevelDebug) {
				return
			}
			if tx == nil {
				log.Debug("sip: request", "method", req.Method, "call-id", req.CallID())
				return
			}
			log.Debug("sip: request", "method", req.Method, "call-id", req.CallID(),
				"from", tx.Flow().String(), "status", tx.Status())
		})
	}
}

// Err reports why the transaction ended abnormally (transaction.ErrTimeout
// when no ACK came), or nil.
func (t *Tx) Err() error { return t.st.Err() }

// Source returns the remote address the request came from.
func (t *Tx) Source() netip.AddrPort { return t.st.Source.Remote }

// Flow returns the flow the request came on: protocol, remote and local
// addresses and, for a stream, the connection (RFC 5626 §6 asks a registrar
// to remember it).
func (t *Tx) Flow() transport.Flow { return t.st.Source }

// Server serves SIP requests. Set its fields before Listen.
type Server struct {
	Handler Handler
	// Policy decides what requests are answered statelessly and which
	// responses are dropped (sip.Policy.Check); its zero value is a UAS.
	Policy sip.Policy
	Timers transaction.Timers
	// MaxConcurrent bounds the handlers running at once; further
	// requests get 503 with Retry-After. Zero means 10 000.
	MaxConcurrent int
	// Stateless, when set, is offered each request that passed the
	// policy check (ACK and CANCEL excepted) before a server transaction
	// exists. A response it returns is sent at once, without a
	// transaction, and the request goes no further: RFC 3261 §8.2.7's
	// stateless UAS, whose "most common use … is to respond to an
	// unauthenticated request with a challenge". A retransmission of the
	// request is offered again and answered again. Nil means go on as
	// usual. It runs on the goroutine reading the transport: it must not
	// block.
	Stateless func(req *sip.Message) *sip.Message
	// Inline, when set, is offered each new server transaction (a
	// CANCEL's excepted) on the goroutine that read the request, before
	// Handler: a transaction user that can answer without blocking takes
	// the request there and spares its hand-off to a handler goroutine.
	// Inline returns false to leave the request to Handler, having sent
	// nothing. It returns true when it has taken the request: it then
	// owns the response and must send a final one through tx, at once or
	// later from any goroutine (once a store has committed, say). Until
	// it has, the request holds its MaxConcurrent slot and Shutdown waits
	// for it as for a running handler; when it has, the Server logs the
	// request at debug on Logger. Inline must not block.
	Inline func(tx *Tx, req *sip.Message) bool
	// Strays, when set, receives each response that matches no client
	// transaction, on the goroutine that read it; a proxy forwards it
	// (ForwardResponse). Nil drops them.
	Strays func(res *sip.Message)
	// Resolver finds next hops for Resolve (RFC 3263); nil uses a
	// resolve.Resolver with the system's name server.
	Resolver *resolve.Resolver
	// Transport, if set before Listen, is used as the transport layer;
	// otherwise the Server makes one.
	Transport *transport.Layer
	Logger    *slog.Logger

	once     sync.Once
	tl       transaction.Layer
	sem      chan struct{}
	work     chan *Tx       // hands a request to an idle handler goroutine
	workers  sync.WaitGroup // handler goroutines, running or idle
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup // running handlers
	shutting atomic.Bool
	// gate makes "not shutting, so wg.Add" one step for requests (read
	// lock) against Shutdown setting shutting (write lock), so that no
	// Add races with Shutdown's Wait.
	gate sync.RWMutex
	// responses recycles the messages Tx.Reply builds.
	responses sync.Pool
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Transport == nil {
			s.Transport = &transport.Layer{Logger: s.Logger}
		}
		s.Transport.Handler = s.receive
		s.tl = transaction.Layer{Transport: s.Transport, Timers: s.Timers, Logger: s.Logger,
			OnRequest: s.serve, OnAck: s.ack}
		if s.Strays != nil {
			s.tl.OnStrayResponse = func(res *sip.Message, _ transport.Flow) { s.Strays(res) }
		}
		n := s.MaxConcurrent
		if n <= 0 {
			n = 10000
		}
		s.sem = make(chan struct{}, n)
		s.work = make(chan *Tx)
		s.ctx, s.stop = context.WithCancel(context.Background())
	})
}

// Listen starts a listener (proto udp, tcp, tls, ws or wss; see
// transport.Layer.Listen) and returns its address.
func (s *Server) Listen(proto, addr string) (netip.AddrPort, error) {
	s.init()
	return s.Transport.Listen(proto, addr)
}

// Transactions returns the number of live server and client transactions.
func (s *Server) Transactions() (servers, clients int) { s.init(); return s.tl.Len() }

// receive validates what the transport delivers (§8.2, §16.3 via
// sip.Policy) before the transaction layer sees it.
func (s *Server) receive(m *sip.Message, src transport.Flow) {
	v := s.Policy.Check(m)
	switch {
	case v.Drop:
		s.debug("stack: dropped", "from", src, "why", v.Err)
		return
	case v.Code != 0:
		s.debug("stack: rejected", "from", src, "code", v.Code, "why", v.Err)
		if err := s.Transport.SendResponse(v.Response(m), src); err != nil {
			s.debug("stack: sending stateless response", "err", err)
		}
		return
	}
	if s.Stateless != nil && m.IsRequest() && m.Method != "ACK" && m.Method != "CANCEL" {
		if res := s.Stateless(m); res != nil {
			if err := s.Transport.SendResponse(res, src); err != nil {
				s.debug("stack: sending stateless response", "err", err)
			}
			s.debug("sip: request", "method", m.Method, "call-id", m.CallID(),
				"from", src.String(), "status", res.StatusCode, "stateless", true)
			return
		}
	}
	s.tl.Receive(m, src)
}

func (s *Server) debug(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Debug(msg, args...)
	}
}

// serve runs the handler for a new server transaction.
func (s *Server) serve(st *transaction.ServerTx) {
	req := st.Request()
	tx := &Tx{st: st, req: req, srv: s}
	if req.Method == "CANCEL" {
		// §9.2: the CANCEL gets 200 when it matches an INVITE, 481
		// otherwise; the INVITE's handler sees its context cancelled.
		if st.Cancels != nil {
			tx.Reply(200, "")
		} else {
			tx.Reply(481, "")
		}
		return
	}
	// The gate orders this Add before Shutdown's Wait: once shutting is
	// set under the write lock, no handler starts.
	s.gate.RLock()
	if s.shutting.Load() {
		s.gate.RUnlock()
		tx.Reply(503, "", sip.NewHeader("Retry-After", "5"))
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.gate.RUnlock()
		tx.Reply(503, "", sip.NewHeader("Retry-After", "1"))
		return
	}
	s.wg.Add(1)
	s.gate.RUnlock()
	if s.Inline != nil {
		tx.inline = true
		if s.Inline(tx, req) {
			return // released by tx.sent
		}
		tx.inline = false
	}
	select {
	case s.work <- tx: // an idle handler goroutine takes it
	default:
		s.workers.Add(1)
		go s.worker(tx)
	}
}

// handlerIdle is how long a handler goroutine waits for another request
// after its handler returned before it ends.
const handlerIdle = time.Second

// worker runs handlers: first tx, then each request handed to it while it
// waits idle, until it has waited handlerIdle or the server stops. Reusing
// the goroutine spares each request starting one and growing its stack;
// how many handlers run at once is still bounded by the semaphore alone.
func (s *Server) worker(tx *Tx) {
	defer s.workers.Done()
	idle := time.NewTimer(handlerIdle)
	defer idle.Stop()
	for {
		s.run(tx)
		idle.Reset(handlerIdle)
		select {
		case tx = <-s.work:
		case <-idle.C:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// run serves one request and answers for the handler if it did not; for
// an ACK (tx.st nil) it only calls the handler.
func (s *Server) run(tx *Tx) {
	defer s.wg.Done()
	if tx.st == nil {
		s.Handler.ServeSIP(s.ctx, nil, tx.req)
		return
	}
	defer func() { <-s.sem }()
	st, req := tx.st, tx.req
	// Only an INVITE can be cancelled (§9); other requests share the
	// server's context, which ends at shutdown.
	ctx, invite := s.ctx, req.Method == "INVITE"
	if invite {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(s.ctx)
		defer cancel()
		go func() {
			select {
			case <-st.Cancelled():
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	if s.Handler != nil {
		s.Handler.ServeSIP(ctx, tx, req)
	}
	// The handler owns the response; answer for it if it did not.
	code := 500
	if invite && ctx.Err() != nil && st.State() == transaction.Proceeding {
		code = 487
	}
	if st.State() == transaction.Proceeding || st.State() == transaction.Trying {
		tx.Reply(code, "")
	}
}

// ack hands an ACK the transaction layer did not absorb to the Handler,
// on an idle handler goroutine when there is one (as serve does; an ACK
// takes no MaxConcurrent slot, being answered never).
func (s *Server) ack(ack *sip.Message, _ transport.Flow) {
	if s.Handler == nil {
		return
	}
	s.gate.RLock()
	if s.shutting.Load() {
		s.gate.RUnlock()
		return
	}
	s.wg.Add(1)
	s.gate.RUnlock()
	tx := &Tx{req: ack, srv: s} // st nil: an ACK
	select {
	case s.work <- tx:
	default:
		s.workers.Add(1)
		go s.worker(tx)
	}
}

// Shutdown stops accepting new requests (they get 503), cancels the
// context of running handlers once ctx is done, waits for them, then closes
// the listeners. Transactions still retransmitting are cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.gate.Lock()
	s.shutting.Store(true)
	s.gate.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.stop()
		<-done
		err = ctx.Err()
	}
	s.stop()
	s.workers.Wait()
	if cerr := s.Transport.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
