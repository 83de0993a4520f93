// Package proxy is Switchboard's stateful proxy (RFC 3261 §16): it routes
// requests between the users of its domains, found in the location
// service, and toward other domains for its authenticated users, and it is
// never an open relay.
//
// A Proxy is a stack.Handler. For each request it
//
//   - validates what sip.Policy has not (§16.3): loops (482, with RFC 5393's
//     spirals let through) and merged requests (482);
//   - pre-processes Route (§16.4), strict-router previous hops included;
//   - decides whether it may serve the request: a request from a local
//     domain is authenticated with digest (407, Proxy-Authorization,
//     package auth) unless its source is trusted; a request to a target
//     outside the local domains is refused (403) unless it is
//     authenticated, trusted, or within a dialog the proxy record-routed;
//   - finds the targets (§16.5): the bindings of a local address-of-record,
//     in groups of equal q-value tried one group after the other, all
//     targets of a group at once (parallel forking); the Request-URI for
//     other domains; the Route set for requests within a dialog;
//   - forwards a copy to each target (§16.6) with its own Via, a decremented
//     Max-Forwards, Record-Route (twice when the request changes transport
//     or address family) and the registered Path as Route, over the
//     registered flow when the binding has one (RFC 5626 §5.3);
//   - relays responses (§16.7): provisional ones at once, every 2xx at once,
//     and when every branch has answered the best final response, 401 and
//     407 challenges gathered from all branches; a 6xx or a 2xx cancels
//     the other branches; Timer C cancels a branch that rings too long,
//     and a request no branch answered gets 408;
//   - cancels every pending branch when the caller's CANCEL arrives
//     (§16.10; the stack answers the CANCEL 200).
//
// ACKs for 2xx and responses matching no transaction are forwarded
// statelessly (ServeSIP with a nil Tx, Strays).
package proxy

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-sip/switchboard/auth"
	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// Settings are the proxy's reloadable settings.
type Settings struct {
	// IsLocal reports whether host (lower case) is one of the proxy's
	// domains: requests to it are served from the location service. Nil
	// means none is.
	IsLocal func(ctx context.Context, host string) bool
	// Self reports whether host (lower case) and port name this server
	// (an address it listens on, or a local domain at a listening port):
	// a Route or Request-URI naming it is removed (§16.4). Nil means only
	// the Record-Route URIs the proxy wrote are recognised.
	Self func(host string, port int) bool
	// Auth checks the Proxy-Authorization of requests whose From is in a
	// local domain, in the realm of that domain. Nil turns
	// authentication off: a From in a local domain is then believed, which
	// is only for tests.
	Auth *auth.Verifier
	// Trusted are the sources (trunks, gateways, other servers) whose
	// requests are neither challenged nor refused as relaying.
	Trusted []netip.Prefix
	// LocalOnly, when set, refuses (403) requests to local users from
	// sources that are neither trusted nor authenticated local users;
	// when clear, anyone may call a local user, as SIP between domains
	// works.
	LocalOnly bool
	// Redirect reports the local domains (host, lower case) whose
	// requests Proxy.Redirect answers instead of the proxy. Nil means
	// none.
	Redirect func(host string) bool
	// TimerC bounds how long an INVITE branch may ring without a final
	// response (§16.6 step 11: more than 3 minutes); zero means 3 minutes
	// and 1 s.
	TimerC time.Duration
}

// Proxy is the stateful proxy. Set its fields before the first request
// and call Configure; the Settings may be replaced at any time.
type Proxy struct {
	// Server is the stack the proxy sends through (its Handler leads to
	// this Proxy).
	Server *stack.Server
	// Locations is the location service the registrar writes.
	Locations location.Store
	// Exists reports whether a local user has an account: a request for
	// a user without bindings gets 480 when the account exists and 404
	// when it does not. Nil means every user exists.
	Exists func(ctx context.Context, user, domain string) (bool, error)
	// Redirect answers the requests for the domains of
	// Settings.Redirect (a redirect server, RFC 3261 §8.3).
	Redirect stack.Handler
	// Local answers requests addressed to the server itself (a
	// Request-URI without a user part that names it, such as an OPTIONS
	// probe). Nil answers OPTIONS 200 and anything else 404.
	Local stack.Handler
	// Key signs the Record-Route values the proxy writes; nodes that
	// share it accept each other's. Empty means a random key drawn on
	// first use, so dialogs do not survive a restart.
	Key []byte
	// Logger receives warnings for refused requests that suggest abuse
	// and errors of the stores; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	settings atomic.Pointer[Settings]
	once     sync.Once
	node     [16]byte // per-process identity in loop hashes
	rkey     []byte
	merged   mergedSet
	macs     macPool // keyed with node, for loop hashes
	rrMACs   macPool // keyed with rkey, for Record-Route
}

// Configure replaces the settings; requests that already began keep the
// old ones.
func (p *Proxy) Configure(s Settings) {
	if s.TimerC <= 0 {
		s.TimerC = 3*time.Minute + time.Second
	}
	p.settings.Store(&s)
}

func (p *Proxy) init() {
	p.once.Do(func() {
		rand.Read(p.node[:])
		p.rkey = p.Key
		if len(p.rkey) == 0 {
			p.rkey = make([]byte, 32)
			rand.Read(p.rkey)
		}
		if p.settings.Load() == nil {
			p.Configure(Settings{})
		}
	})
}

func (p *Proxy) key() []byte { p.init(); return p.rkey }

func (p *Proxy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Proxy) warn(msg string, args ...any) {
	if p.Logger != nil {
		p.Logger.Warn(msg, args...)
	}
}

func (p *Proxy) debug(msg string, args ...any) {
	if p.Logger != nil {
		p.Logger.Debug(msg, args...)
	}
}

// Methods that create dialogs, which the proxy record-routes (§16.6 step 4;
// RFC 6665, RFC 3515).
func createsDialog(method string) bool {
	switch method {
	case "INVITE", "SUBSCRIBE", "REFER", "NOTIFY":
		return true
	}
	return false
}

// ServeSIP proxies req; the Proxy owns the response. An ACK (tx nil) is
// forwarded statelessly when it belongs to a dialog the proxy
// record-routed, and dropped otherwise. ServeSIP returns once the final
// response has been sent; 2xx responses that further branches send later
// are relayed as they come.
func (p *Proxy) ServeSIP(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	p.init()
	set := p.settings.Load()
	if tx == nil {
		p.forwardAck(ctx, req, set)
		return
	}
	src := tx.Source()
	// §16.3 step 4: a request that comes back unchanged is a loop; one
	// whose routing fields changed is a spiral and goes on (RFC 5393).
	hash := p.loopHash(req)
	if p.looped(req, hash) {
		tx.Reply(482, "")
		return
	}
	to, _ := req.To()
	initial := to.Tag() == ""
	if initial {
		// §8.2.2.2: the same request arriving again by another path
		// while the first is pending gets 482.
		release, ok := p.merged.add(req)
		if !ok {
			tx.Reply(482, "Merged Request")
			return
		}
		defer release()
	}
	fwd := req.Clone()
	routed := p.preprocess(fwd, set)

	if !routed && !fwd.Has("Route") && p.forMe(fwd, set) {
		p.serveLocally(ctx, tx, req)
		return
	}
	from, _ := req.From()
	fromHost := strings.ToLower(from.URI.Host)
	trusted := p.trusted(src.Addr(), set)
	authed := trusted || routed
	fromLocal := from.URI.IsSIP() && set.IsLocal != nil && set.IsLocal(ctx, fromHost)
	if !authed && fromLocal {
		ok := p.authenticate(ctx, tx, fwd, &from, set)
		if !ok {
			return // answered
		}
		authed = true
	}
	target := fwd.RequestURI
	local := !fwd.Has("Route") && target.IsSIP() && set.IsLocal != nil && set.IsLocal(ctx, strings.ToLower(target.Host))
	switch {
	case local && !authed && set.LocalOnly:
		p.warn("proxy: refused: unauthenticated request to a local user", "call-id", req.CallID(), "from", src, "to", target.String())
		tx.Reply(403, "")
		return
	case !local && !authed:
		p.warn("proxy: refused relaying", "call-id", req.CallID(), "from", src, "to", target.String())
		tx.Reply(403, "Relaying Denied")
		return
	}
	// §16.6 step 3 asks for Max-Forwards in every copy; decrement it once.
	decrementMaxForwards(fwd)
	var groups [][]hop
	switch {
	case local && initial && set.Redirect != nil && set.Redirect(strings.ToLower(target.Host)) && p.Redirect != nil:
		p.Redirect.ServeSIP(ctx, tx, req)
		return
	case local && (!routed || target.Params.Has("gr")):
		// An address-of-record, or a GRUU even within a dialog (RFC 5627
		// §5.4: a GRUU used as remote target is resolved here).
		var code int
		groups, code = p.lookup(ctx, &target, req.CallID())
		if code != 0 {
			tx.Reply(code, "")
			return
		}
	default:
		// §16.5: a Request-URI outside the proxy's domains, or a Route
		// set, is the single target.
		groups = [][]hop{{{uri: target}}}
	}
	if ctx.Err() != nil {
		// Cancelled (§16.10), or the server is shutting down, before
		// anything was sent: nothing to cancel downstream.
		if req.Method == "INVITE" {
			tx.Reply(487, "")
		} else {
			tx.Reply(503, "", sip.NewHeader("Retry-After", "5"))
		}
		return
	}
	if req.Method == "INVITE" {
		// §16.2 (and §16.7 step 5 for the branches' 100s, which are not
		// relayed): the caller stops retransmitting at once, and this 100
		// leaves before any response a branch may send.
		tx.Reply(100, "")
	}
	rc := newResponseContext(ctx, p, tx, req, fwd, hash, set)
	rc.run(groups)
}

// forMe reports a request addressed to this server itself rather than to a
// user (§16.5: a Request-URI without a user part naming the proxy).
func (p *Proxy) forMe(req *sip.Message, set *Settings) bool {
	u := &req.RequestURI
	return p.isMe(u, set)
}

// serveLocally answers a request addressed to the server itself.
func (p *Proxy) serveLocally(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	if p.Local != nil {
		p.Local.ServeSIP(ctx, tx, req)
		return
	}
	if req.Method == "OPTIONS" {
		tx.Reply(200, "")
		return
	}
	tx.Reply(404, "")
}

func (p *Proxy) trusted(a netip.Addr, set *Settings) bool {
	a = a.Unmap()
	for _, pr := range set.Trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// authenticate checks the Proxy-Authorization of a request from a local
// domain (RFC 3261 §22.3) in the realm of that domain, answers 407 (or 403
// when the credentials belong to another user than From names) when it
// fails, and removes the credentials it used, which are of no use further
// on. It reports whether the request may go on.
func (p *Proxy) authenticate(ctx context.Context, tx *stack.Tx, fwd *sip.Message, from *sip.Address, set *Settings) bool {
	v := set.Auth
	if v == nil {
		return true
	}
	if fwd.Method == "ACK" || fwd.Method == "CANCEL" {
		return true // never challenged (§22.1); ACK reaches here only in tests
	}
	realm := strings.ToLower(from.URI.Host)
	user, res, err := v.Check(ctx, fwd, "Proxy-Authorization", realm)
	if err != nil {
		p.warn("proxy: credentials store failed", "call-id", fwd.CallID(), "err", err)
		tx.Reply(500, "", sip.NewHeader("Retry-After", "5"))
		return false
	}
	switch res {
	case auth.OK:
		if user != sip.Unescape(from.URI.User) {
			p.warn("proxy: refused: credentials of another user", "call-id", fwd.CallID(), "user", user, "from", from.URI.String())
			tx.Reply(403, "")
			return false
		}
		removeCredentials(fwd, realm)
		return true
	case auth.Invalid, auth.Replay:
		if fwd.Has("Proxy-Authorization") {
			p.warn("proxy: refused credentials", "call-id", fwd.CallID(), "from", tx.Source(), "result", res.String())
		}
	}
	hdrs := make([]sip.Header, 0, 2)
	for _, c := range v.Challenges(realm, res == auth.Stale) {
		hdrs = append(hdrs, sip.NewHeader("Proxy-Authenticate", c))
	}
	tx.Reply(407, "", hdrs...)
	return false
}

// removeCredentials removes the Proxy-Authorization headers for realm.
func removeCredentials(m *sip.Message, realm string) {
	m.Headers = slices.DeleteFunc(m.Headers, func(h sip.Header) bool {
		if !h.Is("Proxy-Authorization") {
			return false
		}
		a, err := sip.ParseAuth(h.Value)
		if err != nil {
			return false
		}
		r, _ := a.Param("realm")
		return strings.EqualFold(r, realm)
	})
}

// decrementMaxForwards is §16.6 step 3.
func decrementMaxForwards(m *sip.Message) {
	mf, err := m.MaxForwards()
	if err != nil {
		m.Set("Max-Forwards", "70")
		return
	}
	m.Set("Max-Forwards", strconv.Itoa(max(mf-1, 0)))
}

// mergedSet holds the initial requests in progress, to find merged
// requests (§8.2.2.2): the same From tag, Call-ID, CSeq, Request-URI and
// Route with another top Via branch (a spiral changes the Request-URI or
// the Route, and is not merged).
type mergedSet struct {
	mu sync.Mutex
	m  map[string]string // key → branch; guarded by mu
}

func (s *mergedSet) add(req *sip.Message) (release func(), ok bool) {
	from, _ := req.From()
	cs, _ := req.CSeq()
	v, _ := req.Via()
	k := req.CallID() + "|" + from.Tag() + "|" + strconv.FormatUint(uint64(cs.Seq), 10) + "|" + cs.Method + "|" + req.RequestURI.String()
	for _, h := range req.Headers {
		if h.Is("Route") {
			k += "|" + h.Value
		}
	}
	b := v.Branch() + "|" + v.Host
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, found := s.m[k]; found {
		return func() {}, old == b
	}
	if s.m == nil {
		s.m = make(map[string]string)
	}
	s.m[k] = b
	return func() {
		s.mu.Lock()
		delete(s.m, k)
		s.mu.Unlock()
	}, true
}
