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
	// ctx is the handler's: done when a CANCEL came (§16.10) or the server
	// shuts down, and valid until the final response has been sent.
	ctx context.Context
	// upstream is the Via the request arrived with, which the proxy's
	// branch MACs (relayable).
	upstream string
	// recordRoute says copies carry Record-Route and responses get it
	// rewritten: an initial request that may create a dialog (§16.6 step 4).
	recordRoute bool
	// calleeHost is the host the callee's requests within the dialog may
	// reach through the proxy (the caller's next hop), signed into the
	// Record-Route the request carries.
	calleeHost string
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

func newResponseContext(ctx context.Context, p *Proxy, tx *stack.Tx, req, fwd *sip.Message, hash string, set *Settings) *responseContext {
	rc := &responseContext{ctx: ctx, p: p, tx: tx, req: req, fwd: fwd, hash: hash, set: set,
		invite: req.Method == "INVITE", finished: make(chan struct{})}
	if v, err := fwd.Via(); err == nil {
		rc.upstream = v.String()
	}
	to, _ := req.To()
	rc.recordRoute = to.Tag() == "" && createsDialog(req.Method)
	rc.calleeHost = nextHopBack(fwd)
	return rc
}

// nextHopBack is the host a request of the dialog from the callee goes to
// after this proxy: the proxy before it that record-routed (the first
// Record-Route already in the request), else the caller's Contact.
func nextHopBack(req *sip.Message) string {
	for rr, err := range req.RecordRoutes() {
		if err == nil {
			return uriHost(&rr.URI)
		}
		break
	}
	for c, err := range req.Contacts() {
		if err == nil {
			return uriHost(&c.URI)
		}
		break
	}
	return ""
}

// run forwards to the target groups and returns once the final response
// has been sent. A CANCEL (ctx done) cancels every pending branch (§16.10).
func (rc *responseContext) run(groups [][]hop) {
	rc.mu.Lock()
	rc.groups = groups
	rc.starting++
	rc.mu.Unlock()
	rc.startNext()
	select {
	case <-rc.finished:
		return
	case <-rc.ctx.Done():
		rc.cancelAll()
	}
	<-rc.finished
}

// startNext starts the next group of targets; when none of it can be sent
// to, the one after, and with no group left it sends the final response.
// The caller has counted itself in starting.
func (rc *responseContext) startNext() {
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
			if rc.forward(h, only) {
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
func (rc *responseContext) forward(h hop, only bool) bool {
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
	if h.flow != nil && rc.send(base.Clone(), in, *h.flow) {
		return true
	}
	resolved, err := srv.Resolve(rc.ctx, next)
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
		if rc.send(m, in, dst) {
			return true
		}
	}
	rc.failed(503)
	return false
}

// send completes m for dst (Record-Route, the proxy's Via) and starts a
// branch with it; it reports whether the request went out. Nothing goes out
// once the request was cancelled or answered.
func (rc *responseContext) send(m *sip.Message, in, dst stack.Flow) bool {
	p := rc.p
	if rc.recordRoute && !rc.addRecordRoute(m, in, dst) {
		return false
	}
	m.Prepend("Via", "SIP/2.0/"+dst.Proto+" invalid;branch="+p.newBranch(rc.hash, rc.upstream)+";rport")
	br := &branch{final: make(chan struct{})}
	rc.mu.Lock()
	if rc.cancelled || rc.final {
		rc.mu.Unlock()
		return false
	}
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

// addRecordRoute inserts this proxy's Record-Route: once when the request
// leaves by the same transport and address it came in on, twice otherwise
// (RFC 5658 §4), the outbound one on top, so that each side of the dialog
// reaches the proxy by the way it knows.
func (rc *responseContext) addRecordRoute(m *sip.Message, in, out stack.Flow) bool {
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
	// The callee's copy: its requests may reach the caller's next hop.
	rr := []sip.Header{sip.NewHeader("Record-Route", rc.p.recordRoute(in.Proto, inAddr, callID, rc.calleeHost, secure))}
	if !strings.EqualFold(in.Proto, out.Proto) || inAddr != outAddr {
		rr = slices.Insert(rr, 0, sip.NewHeader("Record-Route", rc.p.recordRoute(out.Proto, outAddr, callID, rc.calleeHost, secure)))
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
	code := res.StatusCode
	// Step 3: the proxy's own Via goes. A response with no Via left cannot
	// be relayed: a final one ends its branch as a 502 (Bad Gateway), so
	// that the request is still answered.
	if _, ok := res.RemoveFirst("Via"); !ok || !res.Has("Via") {
		if code >= 200 {
			rc.ended(br, nil, 502)
		}
		return
	}
	if code > 100 && code < 300 && rc.recordRoute {
		rc.rescope(res)
	}
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
			// retransmitted or late 2xx without it (RFC 6026 §8.4), on the
			// flow the INVITE came on.
			if ferr := rc.p.Server.ForwardResponseOn(res, rc.tx.Flow()); ferr != nil {
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

// rescope rewrites this proxy's Record-Route values in a response that
// sets up a dialog (§16.7 step 4 lets a proxy do so) into the caller's
// copy: the caller's requests may reach the callee's next hop (the proxy
// after this one that record-routed, else the callee's Contact).
func (rc *responseContext) rescope(res *sip.Message) {
	vals := make([]sip.Address, 0, 4)
	mine := -1
	for rr, err := range res.RecordRoutes() {
		if err != nil {
			return // leave a malformed list as it is
		}
		if mine < 0 && rr.URI.Params.Has(rrParam) && rc.p.isMe(&rr.URI, rc.set) {
			mine = len(vals)
		}
		vals = append(vals, rr)
	}
	if mine < 0 {
		return
	}
	host := ""
	if mine > 0 {
		host = uriHost(&vals[mine-1].URI)
	} else {
		for c, err := range res.Contacts() {
			if err == nil {
				host = uriHost(&c.URI)
			}
			break
		}
	}
	mac := rc.p.dialogMAC(rc.req.CallID(), host)
	at := -1
	out := make([]sip.Header, 0, len(res.Headers)+len(vals))
	for _, h := range res.Headers {
		if !h.Is("Record-Route") {
			out = append(out, h)
			continue
		}
		if at >= 0 {
			continue
		}
		at = len(out)
		for i := range vals {
			if i >= mine && i < mine+2 && vals[i].URI.Params.Has(rrParam) && rc.p.isMe(&vals[i].URI, rc.set) {
				vals[i].URI.Params = vals[i].URI.Params.With(rrParam, mac)
			}
			out = append(out, sip.NewHeader("Record-Route", vals[i].String()))
		}
	}
	res.Headers = out
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
		go rc.startNext()
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
	if best == nil {
		switch {
		case cancelled || (rc.invite && rc.ctx.Err() != nil):
			rc.tx.Reply(487, "") // §16.10: no branch answered the CANCEL
		case code == 0:
			rc.tx.Reply(408, "") // §16.7 step 6: no response at all
		case code == 503:
			// No target could be reached (§16.9); forwarded as 500 like a
			// 503 (§16.7 step 6), so that the caller does not take this
			// server for the one that is unavailable.
			rc.tx.Reply(500, "Next Hop Unreachable")
		default:
			rc.tx.Reply(code, "")
		}
		return
	}
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
	var flows []stack.Flow
	if u := fwd.RequestURI; !fwd.Has("Route") && u.Params.Has("gr") && set.IsLocal != nil && set.IsLocal(ctx, strings.ToLower(u.Host)) {
		// A GRUU remote target (RFC 5627 §5.4): to its instance, as
		// ServeSIP sends the dialog's other requests.
		groups, code := p.lookup(ctx, &u, ack.CallID())
		if code != 0 {
			p.debug("proxy: ACK for a GRUU without binding dropped", "call-id", ack.CallID(), "code", code)
			return
		}
		h := groups[0][0]
		fwd.RequestURI = h.uri
		if h.flow != nil {
			flows = append(flows, *h.flow)
		}
	}
	next := nextHop(fwd)
	var err error
	if len(flows) == 0 {
		flows, err = p.Server.Resolve(ctx, next)
	}
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
// (stack.Server.Strays; §16.7, RFC 6026 §8.4), the 2xx a UAS retransmits
// after the proxy's transaction ended, when its top Via is one this proxy
// wrote for a request that came with the Via now second (relayable):
// anything else is dropped, so that a forged response cannot make the
// proxy send to an address of the sender's choosing.
func (p *Proxy) Strays(res *sip.Message) {
	p.init()
	if !p.relayable(res) {
		return
	}
	res.RemoveFirst("Via")
	if err := p.Server.ForwardResponse(res); err != nil {
		p.debug("proxy: forwarding a stray response", "call-id", res.CallID(), "err", err)
	}
}
