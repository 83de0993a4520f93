package proxy

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
	"github.com/switchboard-sip/switchboard/transaction"
)

// hop is one target of the target set (§16.5) and how to reach it.
type hop struct {
	uri sip.URI // the Request-URI of the copy sent to it
	// rewrite says the copy's Request-URI becomes uri (a contact found
	// in the location service); otherwise the request's is kept.
	rewrite bool
	// path are the Path values registered with the contact, top first
	// (RFC 3327 §5.3), which become Route headers.
	path []string
	// flow, when set, is the flow the contact registered on: the
	// connection it holds open, or for RFC 5626 Outbound the address its
	// REGISTER came from (§5.3). It is tried before the contact URI.
	flow *stack.Flow
}

// lookup finds the targets of a local address-of-record (§16.5): its
// bindings in groups of equal q-value, highest first (§16.6: parallel
// within a group, sequential between groups). A public GRUU (RFC 5627 §5)
// reaches only the contacts of its instance. code is the response when
// there is no target: 404 for a user without an account, 480 for one
// without bindings, 500 when the store failed.
func (p *Proxy) lookup(ctx context.Context, target *sip.URI, callID string) (groups [][]hop, code int) {
	aor := location.CanonicalAOR(target)
	bs, err := p.Locations.Lookup(ctx, aor, p.now())
	if err != nil {
		p.warn("proxy: location lookup failed", "call-id", callID, "aor", aor, "err", err)
		return nil, 500
	}
	if gr, ok := target.Params.Get("gr"); ok && gr != "" {
		bs = slices.DeleteFunc(bs, func(b location.Binding) bool { return b.Instance != "<"+sip.Unescape(gr)+">" })
	}
	if len(bs) == 0 {
		if p.Exists != nil {
			ok, err := p.Exists(ctx, sip.Unescape(target.User), strings.ToLower(target.Host))
			if err != nil {
				p.warn("proxy: account lookup failed", "call-id", callID, "aor", aor, "err", err)
				return nil, 500
			}
			if !ok {
				return nil, 404
			}
		}
		return nil, 480
	}
	q := func(b location.Binding) int {
		if b.Q < 0 {
			return 1000 // no q-value ranks as 1.0
		}
		return b.Q
	}
	slices.SortStableFunc(bs, func(a, b location.Binding) int {
		return cmp.Or(cmp.Compare(q(b), q(a)), cmp.Compare(a.Contact, b.Contact))
	})
	for i, b := range bs {
		u, err := sip.ParseURI(b.Contact)
		if err != nil {
			continue
		}
		h := hop{uri: u, rewrite: true, path: b.Path}
		stream := b.Conn != 0 && b.Transport != "UDP"
		outbound := b.Instance != "" && b.RegID != 0
		if (stream || outbound) && len(b.Path) == 0 && b.Source.IsValid() {
			h.flow = &stack.Flow{Proto: b.Transport, Remote: b.Source, Local: b.Local, Conn: b.Conn}
		}
		if i == 0 || q(bs[i-1]) != q(b) {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], h)
	}
	if len(groups) == 0 {
		return nil, 480
	}
	return groups, 0
}

// responseContext is §16.7's response context of one proxied request: its
// branches, the best final response so far, and the groups of targets
// still to try.
type responseContext struct {
	p      *Proxy
	tx     *stack.Tx
	req    *sip.Message // as received
	fwd    *sip.Message // pre-processed (§16.4), Max-Forwards decremented
	hash   string
	set    *Settings
	invite bool
	// open says the request was authorised (authenticated, trusted, or
	// within a dialog): the dialogs it sets up may send requests anywhere.
	// Otherwise each branch's Record-Route confines them to the host of
	// the contact the branch went to.
	open bool
	// finished is closed once the final response has been sent.
	finished chan struct{}

	mu         sync.Mutex
	groups     [][]hop      // targets not yet tried; guarded by mu
	branches   []*branch    // guarded by mu
	pending    int          // branches without a final response; guarded by mu
	final      bool         // a final response went upstream; guarded by mu
	cancelled  bool         // CANCEL, 2xx or 6xx: no new branches; guarded by mu
	best       *sip.Message // guarded by mu
	bestCode   int          // best's code, or a code to send; guarded by mu
	challenges []sip.Header // from 401 and 407 responses; guarded by mu
	starting   int          // groups being started; guarded by mu
}

// branch is one client transaction of a response context.
type branch struct {
	b      *stack.Branch
	timerC *time.Timer
	// final is closed when a final response arrived or the branch ended.
	final chan struct{}
	done  bool // guarded by the context's mu
}

func newResponseContext(p *Proxy, tx *stack.Tx, req, fwd *sip.Message, hash string, set *Settings, open bool) *responseContext {
	return &responseContext{p: p, tx: tx, req: req, fwd: fwd, hash: hash, set: set, open: open,
		invite: req.Method == "INVITE", finished: make(chan struct{})}
}

// run forwards to the target groups and returns once the final response
// has been sent. A CANCEL (ctx done) cancels every pending branch (§16.10).
func (rc *responseContext) run(ctx context.Context, groups [][]hop) {
	rc.mu.Lock()
	rc.groups = groups
	rc.starting++
	rc.mu.Unlock()
	rc.startNext(ctx)
	select {
	case <-rc.finished:
		return
	case <-ctx.Done():
		rc.cancelAll()
	}
	<-rc.finished
}

// startNext starts the next group of targets; when none of it can be sent
// to, the one after, and with no group left it sends the final response.
// The caller has counted itself in starting.
func (rc *responseContext) startNext(ctx context.Context) {
	for {
		rc.mu.Lock()
		if rc.cancelled || rc.final || len(rc.groups) == 0 {
			rc.starting--
			last := rc.pending == 0 && rc.starting == 0
			rc.mu.Unlock()
			if last {
				rc.finish()
			}
			return
		}
		g := rc.groups[0]
		rc.groups = rc.groups[1:]
		only := len(g) == 1 && len(rc.groups) == 0
		rc.mu.Unlock()
		n := 0
		for _, h := range g {
			if rc.forward(ctx, h, only) {
				n++
			}
		}
		if n > 0 {
			rc.mu.Lock()
			rc.starting--
			last := rc.pending == 0 && rc.starting == 0
			more := last && !rc.cancelled && !rc.final && len(rc.groups) > 0
			if more {
				rc.starting++
			}
			rc.mu.Unlock()
			switch {
			case more:
				continue // every branch of the group has already ended
			case last:
				rc.finish()
			}
			return
		}
	}
}

// forward sends a copy of the request to h (§16.6) and reports whether a
// branch started. A target that cannot be reached, its name unresolved
// or every address refusing, counts as a 503 (§16.9). only says h is the
// last target the request goes to, so that rc.fwd itself may be sent
// rather than a copy.
func (rc *responseContext) forward(ctx context.Context, h hop, only bool) bool {
	p := rc.p
	srv := p.Server
	// §16.6 steps 1, 2 and 5: the copy, its Request-URI, the Path as Route.
	base := rc.fwd
	if !only {
		base = base.Clone()
	}
	if h.rewrite {
		base.RequestURI = h.uri
	}
	addRoutes(base, h.path)
	next := nextHop(base)
	in := rc.tx.Flow()
	// The registered flow first, when there is one: a phone behind NAT or
	// on a connection it opened is reachable only there, and its contact
	// URI may not even resolve (RFC 5626 §5.3).
	scope := anyTarget
	if !rc.open {
		scope = strings.ToLower(h.uri.Host)
	}
	if h.flow != nil && rc.send(base.Clone(), in, *h.flow, scope) {
		return true
	}
	resolved, err := srv.Resolve(ctx, next)
	if err != nil {
		p.debug("proxy: next hop does not resolve", "call-id", rc.req.CallID(), "uri", next.String(), "err", err)
		rc.failed(503)
		return false
	}
	for i, dst := range resolved {
		m := base
		if i < len(resolved)-1 {
			m = base.Clone() // base stays clean for the next address
		}
		if rc.send(m, in, dst, scope) {
			return true
		}
	}
	rc.failed(503)
	return false
}

// send completes m for dst (Record-Route for the dialog's scope, the
// proxy's Via) and starts a branch with it; it reports whether the request
// went out.
func (rc *responseContext) send(m *sip.Message, in, dst stack.Flow, scope string) bool {
	p := rc.p
	if rc.recordRoutes() && !rc.addRecordRoute(m, in, dst, scope) {
		return false
	}
	m.Prepend("Via", "SIP/2.0/"+dst.Proto+" invalid;branch="+newBranch(rc.hash)+";rport")
	br := &branch{final: make(chan struct{})}
	rc.mu.Lock()
	rc.pending++
	rc.branches = append(rc.branches, br)
	rc.mu.Unlock()
	b, err := p.Server.Send(m, dst, func(res *sip.Message) { rc.response(br, res) })
	if err != nil {
		p.debug("proxy: sending failed", "call-id", rc.req.CallID(), "to", dst.String(), "err", err)
		rc.mu.Lock()
		rc.pending--
		rc.branches = slices.DeleteFunc(rc.branches, func(x *branch) bool { return x == br })
		rc.mu.Unlock()
		return false
	}
	rc.mu.Lock()
	br.b = b
	cancel := rc.cancelled && !br.done
	if rc.invite && !br.done {
		br.timerC = time.AfterFunc(rc.set.TimerC, func() { rc.timerC(br) })
	}
	rc.mu.Unlock()
	if cancel {
		b.Cancel()
	}
	go rc.watch(br)
	return true
}

// recordRoutes reports whether copies carry Record-Route: requests that
// may create a dialog (§16.6 step 4).
func (rc *responseContext) recordRoutes() bool {
	to, _ := rc.req.To()
	return to.Tag() == "" && createsDialog(rc.req.Method)
}

// addRecordRoute inserts this proxy's Record-Route: once when the request
// leaves by the same transport and address it came in on, twice otherwise
// (RFC 5658 §4), the outbound one on top, so that each side of the dialog
// reaches the proxy by the way it knows.
func (rc *responseContext) addRecordRoute(m *sip.Message, in, out stack.Flow, scope string) bool {
	srv, callID := rc.p.Server, rc.req.CallID()
	inAddr, err := srv.LocalAddr(stack.Flow{Proto: in.Proto, Remote: in.Remote})
	if err != nil {
		rc.p.debug("proxy: no local address for Record-Route", "proto", in.Proto, "err", err)
		return false
	}
	outAddr, err := srv.LocalAddr(out)
	if err != nil {
		rc.p.debug("proxy: no local address for Record-Route", "proto", out.Proto, "err", err)
		return false
	}
	// §16.6 step 4: a SIPS Request-URI asks for SIPS Record-Route URIs.
	secure := rc.req.RequestURI.IsSecure()
	rr := []sip.Header{sip.NewHeader("Record-Route", rc.p.recordRoute(in.Proto, inAddr, callID, scope, secure))}
	if !strings.EqualFold(in.Proto, out.Proto) || inAddr != outAddr {
		rr = slices.Insert(rr, 0, sip.NewHeader("Record-Route", rc.p.recordRoute(out.Proto, outAddr, callID, scope, secure)))
	}
	// Before the Record-Route already there, or after the Vias.
	at, afterVia := -1, 0
	for i, h := range m.Headers {
		if h.Is("Record-Route") {
			at = i
			break
		}
		if h.Is("Via") {
			afterVia = i + 1
		}
	}
	if at < 0 {
		at = afterVia
	}
	m.Headers = slices.Insert(m.Headers, at, rr...)
	return true
}

// nextHop returns the URI whose address m is sent to (§16.6 steps 6 and
// 7): the top Route when it is a loose router, else the Request-URI. A
// strict router (a top Route without lr) becomes the Request-URI, and the
// Request-URI the last Route, as such a router expects.
func nextHop(m *sip.Message) sip.URI {
	r, ok := topRoute(m)
	if !ok {
		return m.RequestURI
	}
	if !r.URI.Params.Has("lr") {
		m.Add("Route", "<"+m.RequestURI.String()+">")
		m.RemoveFirst("Route")
		m.RequestURI = r.URI
	}
	return r.URI
}

// topRoute returns the first Route value.
func topRoute(m *sip.Message) (sip.Address, bool) {
	for r, err := range m.Routes() {
		return r, err == nil
	}
	return sip.Address{}, false
}

// addRoutes puts the values before the existing Route headers, in order.
func addRoutes(m *sip.Message, values []string) {
	if len(values) == 0 {
		return
	}
	at := len(m.Headers)
	for i, h := range m.Headers {
		if h.Is("Route") {
			at = i
			break
		}
	}
	hs := make([]sip.Header, 0, len(values))
	for _, v := range values {
		hs = append(hs, sip.NewHeader("Route", v))
	}
	m.Headers = slices.Insert(m.Headers, at, hs...)
}

// failed records a target that could not be tried as a final response of
// code (503, §16.9).
func (rc *responseContext) failed(code int) {
	rc.mu.Lock()
	if rc.best == nil && (rc.bestCode == 0 || better(code, rc.bestCode)) {
		rc.bestCode = code
	}
	rc.mu.Unlock()
}

// watch waits for a branch to end without a final response: a timeout
// (Timer B, or Timer C's CANCEL unanswered) counts as 408, a transport
// error as 503 (§16.7 step 6, §16.8, §16.9).
func (rc *responseContext) watch(br *branch) {
	select {
	case <-br.final:
		return
	case <-br.b.Done():
	}
	err := br.b.Err()
	if err == nil {
		return // ended after a final response
	}
	code := 503
	if errors.Is(err, transaction.ErrTimeout) {
		code = 408
	}
	rc.ended(br, nil, code)
}

// timerC fires when an INVITE branch has rung for TimerC (§16.8): the
// branch is cancelled, and abandoned as a 408 if its CANCEL brings no
// final response within 64*T1.
func (rc *responseContext) timerC(br *branch) {
	rc.mu.Lock()
	done := br.done
	rc.mu.Unlock()
	if done {
		return
	}
	br.b.Cancel()
	time.AfterFunc(32*time.Second, br.b.Abandon)
}

// response handles a response on a branch (§16.7).
func (rc *responseContext) response(br *branch, res *sip.Message) {
	// Step 3: the proxy's own Via goes; a response with no Via left was
	// meant for the proxy itself.
	if _, ok := res.RemoveFirst("Via"); !ok || !res.Has("Via") {
		return
	}
	code := res.StatusCode
	switch {
	case code == 100:
		return // hop by hop (§16.7 step 5)
	case code < 200:
		rc.mu.Lock()
		if br.timerC != nil && !br.done {
			br.timerC.Reset(rc.set.TimerC) // §16.7 step 2
		}
		final := rc.final
		rc.mu.Unlock()
		if !final {
			rc.tx.Relay(res)
		}
	case code < 300:
		// Step 8 and 10: every 2xx goes upstream at once, the first one
		// cancels the other branches.
		rc.mu.Lock()
		first := !rc.final
		rc.final = true
		rc.cancelled = true
		rc.markDone(br)
		rc.mu.Unlock()
		if err := rc.tx.Relay(res); err != nil && rc.invite {
			// The server transaction has ended (Timer L): relay the
			// retransmitted or late 2xx without it (RFC 6026 §8.4).
			if ferr := rc.p.Server.ForwardResponse(res); ferr != nil {
				rc.p.debug("proxy: forwarding 2xx", "call-id", rc.req.CallID(), "err", ferr)
			}
		}
		if first {
			rc.cancelOthers(br)
			close(rc.finished)
		}
	default:
		rc.ended(br, res, code)
	}
}

// markDone marks a branch as having its final response; rc.mu is held.
func (rc *responseContext) markDone(br *branch) {
	if br.done {
		return
	}
	br.done = true
	rc.pending--
	if br.timerC != nil {
		br.timerC.Stop()
	}
	close(br.final)
}

// ended records a branch's final non-2xx response (or, res nil, a code
// for a branch that ended without one) and, when it was the last pending
// branch, starts the next group or sends the best response.
func (rc *responseContext) ended(br *branch, res *sip.Message, code int) {
	rc.mu.Lock()
	if br.done {
		rc.mu.Unlock()
		return
	}
	rc.markDone(br)
	if rc.final {
		rc.mu.Unlock()
		return
	}
	if res != nil && (code == 401 || code == 407) {
		for _, h := range res.Headers {
			if h.Is("WWW-Authenticate") || h.Is("Proxy-Authenticate") {
				rc.challenges = append(rc.challenges, h)
			}
		}
	}
	six := code >= 600
	if rc.bestCode == 0 || better(code, rc.bestCode) || (six && rc.bestCode < 600) {
		rc.bestCode, rc.best = code, res
	}
	if six {
		rc.cancelled = true // §16.7 step 5: a 6xx ends the search
	}
	last := rc.pending == 0 && rc.starting == 0
	next := last && !rc.cancelled && len(rc.groups) > 0
	if next {
		rc.starting++
	}
	rc.mu.Unlock()
	if six {
		rc.cancelOthers(br)
	}
	switch {
	case next:
		go rc.startNext(context.Background())
	case last:
		rc.finish()
	}
}

// better reports whether a final response of code a is preferred to one
// of code b (§16.7 step 6): a 6xx over all; otherwise the lowest class;
// within 4xx the ones that tell the caller how to retry (401, 407, 415,
// 420, 484); a real response over the 408 and 503 the proxy stands in
// for branches that gave none.
func better(a, b int) bool {
	if (a >= 600) != (b >= 600) {
		return a >= 600
	}
	if a/100 != b/100 {
		return a/100 < b/100
	}
	informative := func(c int) bool {
		return c == 401 || c == 407 || c == 415 || c == 420 || c == 484
	}
	return informative(a) && !informative(b)
}

// finish sends the best final response upstream (§16.7 step 6 and 7):
// 408 when no branch answered (487 when the request was cancelled), a 503
// turned into 500, and a 401 or 407 carrying every branch's challenges.
func (rc *responseContext) finish() {
	rc.mu.Lock()
	if rc.final {
		rc.mu.Unlock()
		return
	}
	rc.final = true
	best, code, chal, cancelled := rc.best, rc.bestCode, rc.challenges, rc.cancelled
	rc.mu.Unlock()
	defer close(rc.finished)
	switch {
	case best == nil && cancelled:
		rc.tx.Reply(487, "") // §16.10: no branch answered the CANCEL
	case best == nil && code == 503:
		// No target could be reached (§16.9); forwarded as 500 like a
		// 503 (§16.7 step 6), so that the caller does not take this
		// server for the one that is unavailable.
		rc.tx.Reply(500, "Next Hop Unreachable")
	case best == nil:
		rc.tx.Reply(408, "") // §16.7 step 6: no response at all
	default:
		if code == 503 {
			best.StatusCode, best.Reason = 500, sip.StatusText(500)
		}
		if code == 401 || code == 407 {
			best.Headers = slices.DeleteFunc(best.Headers, func(h sip.Header) bool {
				return h.Is("WWW-Authenticate") || h.Is("Proxy-Authenticate")
			})
			best.Headers = append(best.Headers, chal...)
		}
		rc.tx.Relay(best)
	}
}

// cancelAll cancels every pending branch and starts no more (§16.10).
func (rc *responseContext) cancelAll() {
	rc.mu.Lock()
	rc.cancelled = true
	rc.mu.Unlock()
	rc.cancelOthers(nil)
}

// cancelOthers sends CANCEL on every pending branch but except (§9.1: once
// each has had a provisional response).
func (rc *responseContext) cancelOthers(except *branch) {
	rc.mu.Lock()
	var bs []*stack.Branch
	for _, br := range rc.branches {
		if br != except && !br.done && br.b != nil {
			bs = append(bs, br.b)
		}
	}
	rc.mu.Unlock()
	for _, b := range bs {
		b.Cancel()
	}
}

// forwardAck forwards an ACK statelessly (§16.11) when it belongs to a
// dialog this proxy record-routed: the ACK of a 2xx, its own end-to-end
// transaction (§17.1.1.3). Any other ACK is dropped: ACKs for non-2xx
// responses end at the transaction layer, and an ACK the proxy has no
// dialog for would make it a relay.
func (p *Proxy) forwardAck(ctx context.Context, ack *sip.Message, set *Settings) {
	// The ACK is the proxy's alone (nothing else keeps it): forwarded as
	// it is changed.
	fwd := ack
	upstream, _ := ack.Via()
	if !p.preprocess(fwd, set) {
		p.debug("proxy: ACK outside a record-routed dialog dropped", "call-id", ack.CallID())
		return
	}
	if mf, err := fwd.MaxForwards(); err == nil && mf <= 0 {
		return
	}
	decrementMaxForwards(fwd)
	next := nextHop(fwd)
	flows, err := p.Server.Resolve(ctx, next)
	if err != nil || len(flows) == 0 {
		p.debug("proxy: ACK's next hop does not resolve", "call-id", ack.CallID(), "uri", next.String(), "err", err)
		return
	}
	// §16.11: the branch of a statelessly forwarded request derives from
	// the one it arrived with, so that a retransmission gets the same.
	fwd.Prepend("Via", "SIP/2.0/"+flows[0].Proto+" invalid;branch="+sip.BranchMagic+branchMark+"a."+
		strings.TrimPrefix(upstream.Branch(), sip.BranchMagic)+";rport")
	if err := p.Server.SendStateless(fwd, flows[0]); err != nil {
		p.debug("proxy: forwarding ACK", "call-id", ack.CallID(), "err", err)
	}
}

// Strays forwards a response that matched no client transaction
// (stack.Server.Strays; §16.7, RFC 6026 §8.4) when its top Via is one a
// proxy of this kind wrote: the 2xx a UAS retransmits after the proxy's
// transaction ended.
func (p *Proxy) Strays(res *sip.Message) {
	v, err := res.Via()
	if err != nil || !ours(v.Branch()) {
		return
	}
	res.RemoveFirst("Via")
	if !res.Has("Via") {
		return
	}
	if err := p.Server.ForwardResponse(res); err != nil {
		p.debug("proxy: forwarding a stray response", "call-id", res.CallID(), "err", err)
	}
}
