// Package registrar is the SIP registrar of RFC 3261 §10.3: it accepts
// REGISTER requests for its own domains, authenticates them with digest
// (package auth), and adds, refreshes and removes bindings in a
// location.Store. It also implements Path (RFC 3327 §5.3), the registrar
// side of Outbound (RFC 5626 §6) and public GRUUs (RFC 5627 §5).
//
// A Registrar is a stack.Handler for REGISTER, and its ServeInline a
// stack.Server.Inline that serves REGISTER on the goroutine that read it
// when the store can update asynchronously (location.AsyncStore). The
// 200 OK it sends lists every current binding of the address-of-record
// with its remaining expiry, and it is sent only after the store has made
// the change durable.
package registrar

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard-sip/switchboard/auth"
	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// Extensions returns the option tags the registrar understands, for
// sip.Policy.Extensions of the server it runs in, so that a REGISTER that
// requires one of them is not refused with 420 (§8.2.2.3).
func Extensions() []string { return []string{"path", "outbound", "gruu"} }

// Settings are the registrar's reloadable settings.
type Settings struct {
	// IsLocal reports whether host (lower-case) is one of the
	// registrar's domains; REGISTER for any other domain gets 403. Nil
	// accepts every domain.
	IsLocal func(ctx context.Context, host string) bool
	// MinExpires, MaxExpires and DefaultExpires bound and default the
	// registration interval, in seconds (§10.3 step 7, §10.2.8): a
	// shorter non-zero interval gets 423 with Min-Expires, a longer one
	// is cut to MaxExpires, and a Contact without an interval gets
	// DefaultExpires. Zero means 60, 7200 and 3600.
	MinExpires, MaxExpires, DefaultExpires uint32
	// Auth checks the digest credentials of each REGISTER against the
	// realm of the address-of-record's domain. Nil turns authentication
	// off: every REGISTER for a local domain is accepted (for tests and
	// for deployments that authenticate at an edge proxy).
	Auth *auth.Verifier
}

func (s *Settings) limits() (minE, maxE, defE uint32) {
	minE, maxE, defE = s.MinExpires, s.MaxExpires, s.DefaultExpires
	if minE == 0 {
		minE = 60
	}
	if maxE == 0 {
		maxE = 7200
	}
	if defE == 0 {
		defE = 3600
	}
	defE = min(max(defE, minE), maxE)
	return minE, maxE, defE
}

// Registrar handles REGISTER. Set Store (and Logger, Now) before the first
// request, and call Configure; the Settings may be replaced at any time.
// Until Configure is called every domain is local and nobody is
// authenticated.
type Registrar struct {
	// Store keeps the bindings.
	Store location.Store
	// Logger receives warnings for refusals that suggest an attack or a
	// misconfiguration (403, 5xx) and errors for failures of the store,
	// each with the Call-ID; nil discards them. (stack.LogRequests logs
	// every request at debug.)
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	settings atomic.Pointer[Settings]
}

// Configure replaces the settings; requests that already began keep the
// old ones.
func (r *Registrar) Configure(s Settings) { r.settings.Store(&s) }

func (r *Registrar) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Registrar) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// reject is a final non-2xx answer: a status code, a reason phrase (empty
// for the standard one) and extra headers.
type reject struct {
	code   int
	reason string
	hdrs   []sip.Header
}

func (e *reject) Error() string {
	return "registrar: " + strconv.Itoa(e.code) + " " + e.reason
}

func fail(code int, reason string, hdrs ...sip.Header) *reject {
	return &reject{code: code, reason: reason, hdrs: hdrs}
}

// ServeSIP answers a REGISTER; the Registrar owns the response. Other
// methods get 405, and an ACK (tx nil) is ignored.
func (r *Registrar) ServeSIP(ctx context.Context, tx *stack.Tx, req *sip.Message) {
	if tx == nil {
		return
	}
	if req.Method != "REGISTER" {
		tx.Reply(405, "", sip.NewHeader("Allow", "REGISTER"))
		return
	}
	now := r.now()
	res, fn, err := r.register(ctx, tx, req, now)
	if err == nil {
		if fn == nil {
			res.bindings, err = r.Store.Lookup(ctx, res.aor, now)
		} else {
			res.bindings, err = r.Store.Update(ctx, res.aor, now, fn)
		}
	}
	r.answer(tx, req, now, res, err)
}

// ServeInline is the registrar's stack.Server.Inline. When the Store is a
// location.AsyncStore, it takes every REGISTER on the goroutine that read
// it: it checks the request there and answers at once when it is refused,
// and otherwise hands the update to the store and answers from the
// store's done, once the change is durable. The reading goroutine never
// waits for the disk, and no handler goroutine is involved. It leaves
// other methods, and everything when the store is not asynchronous, to
// ServeSIP.
func (r *Registrar) ServeInline(tx *stack.Tx, req *sip.Message) bool {
	st, ok := r.Store.(location.AsyncStore)
	if !ok || req.Method != "REGISTER" {
		return false
	}
	now := r.now()
	res, fn, err := r.register(context.Background(), tx, req, now)
	switch {
	case err != nil:
		r.answer(tx, req, now, res, err)
	case fn == nil:
		// A query: Lookup may block in some stores; the
		// credentials were checked (and their nonce count taken)
		// already, so the request is not handed back to ServeSIP.
		go func() {
			res.bindings, err = st.Lookup(context.Background(), res.aor, now)
			r.answer(tx, req, now, res, err)
		}()
	default:
		// done runs on the store's writer, which must not block: a
		// UDP send does not, but a write on a connection may wait for
		// a slow peer (or a new connection), so that goes to a
		// goroutine of its own.
		stream := tx.Flow().Reliable()
		st.UpdateAsync(res.aor, now, fn, func(bs []location.Binding, err error) {
			res.bindings = bs
			if stream {
				go r.answer(tx, req, now, res, err)
				return
			}
			r.answer(tx, req, now, res, err)
		})
	}
	return true
}

// answer sends the response to a REGISTER begun at now: 200 with res when
// err is nil, otherwise the rejection err names or 500.
func (r *Registrar) answer(tx *stack.Tx, req *sip.Message, now time.Time, res *result, err error) {
	if err != nil {
		log := r.logger()
		var rej *reject
		if !errors.As(err, &rej) {
			log.Error("registrar: REGISTER failed", "call-id", req.CallID(), "from", tx.Source(), "err", err)
			rej = fail(500, "")
		} else if rej.code >= 500 || rej.code == 403 {
			log.Warn("registrar: REGISTER refused", "call-id", req.CallID(), "from", tx.Source(),
				"aor", req.Get("To"), "code", rej.code, "reason", rej.reason)
		}
		tx.Reply(rej.code, rej.reason, rej.hdrs...)
		return
	}
	tx.Reply(200, "", res.headers(now)...)
}

// result is what a successful REGISTER leaves: the bindings to list in the
// 200 and what else the response must carry.
type result struct {
	aor      string
	bindings []location.Binding
	path     []string // Path values to copy into the 200 (RFC 3327 §5.3)
	outbound bool     // Require: outbound (RFC 5626 §6)
	gruu     bool     // the UA supports GRUU: add pub-gruu (RFC 5627 §5.2)
	aorURI   string   // the AOR as a URI for GRUUs
}

// contact is one Contact of the request as the registrar understands it.
type contact struct {
	addr     sip.Address
	expires  uint32
	q        int
	instance string // +sip.instance without its quotes
	regID    int    // 0 when absent or ignored
	params   string // header parameters to keep
}

// errOutOfOrder aborts an update whose Call-ID matches a binding's but
// whose CSeq is not above it (§10.3 steps 6 and 7). Kamailio answers it
// with 400 too.
var errOutOfOrder = fail(400, "Out-of-order REGISTER: CSeq is not above the binding's")

// addressOfRecord returns the To address and the lower-case domain of
// the AOR, or the answer owed when they are unusable or, §10.3 step 1, not
// ours: the Request-URI names the domain, and a registrar that is not also
// a proxy refuses the others, as it refuses an AOR in a domain it does not
// serve.
func (set *Settings) addressOfRecord(ctx context.Context, req *sip.Message) (to sip.Address, domain string, rej *reject) {
	to, err := req.To()
	if err != nil {
		return to, "", fail(400, "Bad To header")
	}
	if !to.URI.IsSIP() {
		return to, "", fail(400, "Address-of-record is not a SIP URI")
	}
	domain = strings.ToLower(to.URI.Host)
	if set.IsLocal != nil {
		if !set.IsLocal(ctx, strings.ToLower(req.RequestURI.Host)) {
			return to, "", fail(403, "Not a local domain")
		}
		if !set.IsLocal(ctx, domain) {
			return to, "", fail(403, "Address-of-record not in a local domain")
		}
	}
	return to, domain, nil
}

// register checks a REGISTER and works out what it asks: the result to
// answer with, less its bindings, and the update of the AOR's bindings to
// make, or fn nil for a query (no Contact). An error is the answer owed
// instead.
func (r *Registrar) register(ctx context.Context, tx *stack.Tx, req *sip.Message, now time.Time) (
	res *result, fn func([]location.Binding) ([]location.Binding, error), err error) {
	set := r.settings.Load()
	if set == nil {
		set = &Settings{}
	}
	minE, maxE, defE := set.limits()

	to, domain, rej := set.addressOfRecord(ctx, req)
	if rej != nil {
		return nil, nil, rej
	}
	seq, err := req.CSeq()
	if err != nil {
		return nil, nil, fail(400, "Bad CSeq header")
	}
	callID := req.CallID()

	// §10.3 steps 3 and 4: authenticate, then authorise the user for
	// this AOR: only its own user may change its bindings.
	if v := set.Auth; v != nil {
		user, verdict, err := v.Check(ctx, req, "Authorization", domain)
		if err != nil {
			return nil, nil, err
		}
		switch verdict {
		case auth.OK:
			if user != sip.Unescape(to.URI.User) {
				return nil, nil, fail(403, "Credentials do not match the address-of-record")
			}
		case auth.Stale:
			return nil, nil, challenge(v, domain, true, "")
		default:
			return nil, nil, challenge(v, domain, false, "")
		}
	}

	// RFC 3327 §5.3: Path from a UA that did not say it supports it
	// means a proxy added it behind the UA's back.
	supported := optionTags(req, "Supported")
	var path []string
	obPath := false // RFC 5626 §6: the first Path URI carries "ob"
	for p, err := range req.Paths() {
		if err != nil {
			return nil, nil, fail(400, "Bad Path header")
		}
		if path == nil {
			obPath = p.URI.Params.Has("ob")
		}
		path = append(path, p.String())
	}
	if len(path) > 0 && !supported["path"] {
		return nil, nil, fail(420, "", sip.NewHeader("Unsupported", "path"))
	}

	// §10.3 step 5: the canonical AOR indexes the bindings.
	aor := location.CanonicalAOR(&to.URI)

	var hdrExpires uint32
	hasExpires := req.Has("Expires")
	if hasExpires {
		if hdrExpires, err = req.Expires(); err != nil {
			return nil, nil, fail(400, "Bad Expires header")
		}
	}

	res = &result{aor: aor, path: path, gruu: supported["gruu"], aorURI: aor}
	flow := tx.Flow()
	stamp := func(b *location.Binding) {
		b.CallID, b.CSeq, b.Path, b.Updated = callID, seq.Seq, path, now
		b.Transport, b.Source, b.Local, b.Conn = flow.Proto, flow.Remote, flow.Local, flow.Conn
		b.UserAgent = req.Get("User-Agent")
	}

	// §10.3 step 6: "*" removes every binding, with Expires: 0 only.
	if req.IsWildcardContact() {
		n := 0
		for range req.Values("Contact") {
			n++
		}
		if n != 1 || !hasExpires || hdrExpires != 0 {
			return nil, nil, fail(400, "Wildcard Contact needs Expires: 0 and no other Contact")
		}
		return res, func(cur []location.Binding) ([]location.Binding, error) {
			for i := range cur {
				if cur[i].CallID == callID && seq.Seq <= cur[i].CSeq {
					return nil, errOutOfOrder
				}
			}
			return nil, nil
		}, nil
	}

	contacts, err := r.contacts(req, &to.URI, hdrExpires, hasExpires, minE, maxE, defE, supported, obPath)
	if err != nil {
		return nil, nil, err
	}
	for i := range contacts {
		if contacts[i].regID != 0 && supported["outbound"] {
			res.outbound = true
		}
	}
	if len(contacts) == 0 {
		// A query: list the bindings (§10.2.3).
		return res, nil, nil
	}

	// §10.3 step 7, with the Outbound binding rule of RFC 5626 §6: a
	// Contact with +sip.instance and reg-id binds that pair, any other
	// binds its URI.
	return res, func(cur []location.Binding) ([]location.Binding, error) {
		next := cur
		for i := range contacts {
			c := &contacts[i]
			j := find(next, c)
			if j >= 0 && next[j].CallID == callID && seq.Seq <= next[j].CSeq {
				return nil, errOutOfOrder
			}
			if c.expires == 0 {
				if j >= 0 {
					next = append(next[:j], next[j+1:]...)
				}
				continue
			}
			b := location.Binding{
				AOR: aor, Contact: c.addr.URI.String(), Params: c.params, Q: c.q,
				Expires: now.Add(time.Duration(c.expires) * time.Second), Instance: c.instance, RegID: c.regID,
			}
			stamp(&b)
			if j >= 0 {
				next[j] = b
			} else {
				next = append(next, b)
			}
		}
		return next, nil
	}, nil
}

// Challenge returns the 401 for a REGISTER that carries no Authorization
// header at all, for a local domain, when authentication is on; the
// caller sends it without a transaction (stack.Server.Stateless; RFC 3261
// §8.2.7), as Kamailio's www_challenge does, which spares a transaction
// kept for 32 s per registration. It returns nil for every other request,
// which ServeSIP then answers: with credentials, for another domain,
// malformed, or with authentication off.
func (r *Registrar) Challenge(req *sip.Message) *sip.Message {
	set := r.settings.Load()
	if set == nil || set.Auth == nil || req.Method != "REGISTER" || req.Has("Authorization") {
		return nil
	}
	_, domain, rej := set.addressOfRecord(context.Background(), req)
	if rej != nil {
		return nil
	}
	// A retransmission must get the same 401, as a transaction would
	// resend it: the nonces are seeded with what identifies the request
	// (§17.2.3).
	via, _ := req.Via()
	from, _ := req.From()
	seed := req.CallID() + "\x00" + req.Get("CSeq") + "\x00" + via.Params.Value("branch") + "\x00" + from.Tag()
	rej = challenge(set.Auth, domain, false, seed)
	res := sip.NewResponse(req, rej.code, rej.reason)
	res.Headers = append(res.Headers, rej.hdrs...)
	return res
}

// challenge is the 401 that asks for credentials (§22.1, RFC 8760 §2.3);
// seed, when set, makes it the same for a retransmission
// (auth.Verifier.ChallengesFor).
func challenge(v *auth.Verifier, realm string, stale bool, seed string) *reject {
	cs := v.ChallengesFor(realm, stale, seed)
	hdrs := make([]sip.Header, len(cs))
	for i, c := range cs {
		hdrs[i] = sip.NewHeader("WWW-Authenticate", c)
	}
	return fail(401, "", hdrs...)
}

// find returns the index of the binding c refreshes, or -1.
func find(bs []location.Binding, c *contact) int {
	for i := range bs {
		b := &bs[i]
		if c.regID != 0 {
			// RFC 5626 §6: the binding is the (instance, reg-id) pair.
			if b.RegID == c.regID && b.Instance == c.instance {
				return i
			}
			continue
		}
		if b.RegID != 0 {
			continue
		}
		u, err := sip.ParseURI(b.Contact)
		if err == nil && u.Equal(&c.addr.URI) {
			return i
		}
	}
	return -1
}

// contacts reads and checks the Contact header values (§10.3 steps 6 and
// 7; RFC 5626 §6; RFC 5627 §5.1).
func (r *Registrar) contacts(req *sip.Message, aor *sip.URI, hdrExpires uint32, hasExpires bool,
	minE, maxE, defE uint32, supported map[string]bool, obPath bool) ([]contact, error) {
	var out []contact
	// RFC 5626 §6: outbound applies when the registrar is the first hop
	// (one Via) or the first Path URI carries "ob".
	vias := 0
	for range req.Vias() {
		if vias++; vias > 1 {
			break
		}
	}
	firstHop := vias == 1
	var tooShort bool
	live, withRegID := 0, 0
	for a, err := range req.Contacts() {
		if err != nil {
			return nil, fail(400, "Bad Contact header")
		}
		c := contact{addr: a, q: -1}
		// Expiry: the Contact's expires parameter, else the Expires
		// header, else the default (§10.2.1.1).
		switch v, ok := a.Params.Get("expires"); {
		case ok:
			n, perr := strconv.ParseUint(v, 10, 64)
			if perr != nil {
				if !allDigits(v) {
					return nil, fail(400, "Bad expires parameter in Contact")
				}
				n = 1<<32 - 1 // §10.2.1.1: too large means the maximum
			}
			c.expires = uint32(min(n, 1<<32-1))
		case hasExpires:
			c.expires = hdrExpires
		default:
			c.expires = defE
		}
		if c.expires != 0 && c.expires < minE {
			tooShort = true
		}
		c.expires = min(c.expires, maxE)
		if v, ok := a.Params.Get("q"); ok {
			q, ok := parseQ(v)
			if !ok {
				return nil, fail(400, "Bad q parameter in Contact")
			}
			c.q = q
		}
		if v, ok := a.Params.Get("+sip.instance"); ok {
			c.instance = sip.Unquote(v)
		}
		if v, ok := a.Params.Get("reg-id"); ok && c.instance != "" {
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > 1<<31-1 {
				return nil, fail(400, "Bad reg-id parameter in Contact")
			}
			if firstHop || obPath {
				c.regID = n
			} else if supported["outbound"] {
				return nil, fail(439, "First Hop Lacks Outbound Support")
			}
		}
		if c.instance != "" && c.expires != 0 {
			// RFC 5627 §5.1: a contact that is the AOR or one of its
			// GRUUs would route to itself; a non-SIP one cannot carry
			// a GRUU.
			if !a.URI.IsSIP() {
				return nil, fail(403, "Contact with +sip.instance is not a SIP URI")
			}
			if sameAOR(&a.URI, aor) {
				return nil, fail(403, "Contact is the address-of-record or its GRUU")
			}
		}
		if c.expires != 0 {
			live++
			if c.regID != 0 {
				withRegID++
			}
		}
		var keep sip.Params
		for n, v := range a.Params.All() {
			switch strings.ToLower(n) {
			case "expires", "q", "pub-gruu", "temp-gruu":
				continue
			case "reg-id":
				if c.regID == 0 {
					continue // ignored (RFC 5626 §6)
				}
			}
			keep = keep.With(n, v)
		}
		c.params = string(keep)
		out = append(out, c)
	}
	if tooShort {
		// §10.3 step 7: 423 with the shortest interval accepted.
		return nil, fail(423, "", sip.NewHeader("Min-Expires", strconv.FormatUint(uint64(minE), 10)))
	}
	if withRegID > 0 && live > 1 {
		// RFC 5626 §6: one flow per registration.
		return nil, fail(400, "reg-id with more than one live Contact")
	}
	return out, nil
}

// sameAOR reports whether contact is the address-of-record aor or a GRUU
// of it: the same user and host, with or without a "gr" parameter.
func sameAOR(contact, aor *sip.URI) bool {
	c := sip.URI{Scheme: contact.Scheme, User: contact.User, Host: contact.Host, Port: contact.Port}
	a := sip.URI{Scheme: aor.Scheme, User: aor.User, Host: aor.Host, Port: aor.Port}
	if !c.Equal(&a) {
		return false
	}
	return contact.Params.Has("gr") || contact.Params == ""
}

// headers are the 200's extra headers: a Contact per binding with its
// remaining expiry (§10.3 step 8), Path (RFC 3327 §5.3), Require:
// outbound (RFC 5626 §6) and Date.
func (res *result) headers(now time.Time) []sip.Header {
	hdrs := make([]sip.Header, 0, len(res.bindings)+3)
	for i := range res.bindings {
		b := &res.bindings[i]
		left := int64(b.Expires.Sub(now) / time.Second)
		if left < 0 {
			left = 0
		}
		var sb strings.Builder
		sb.Grow(len(b.Contact) + len(b.Params) + 32)
		sb.WriteByte('<')
		sb.WriteString(b.Contact)
		sb.WriteString(">;expires=")
		sb.WriteString(strconv.FormatInt(left, 10))
		if b.Q >= 0 {
			sb.WriteString(";q=")
			sb.WriteString(location.FormatQ(b.Q))
		}
		if b.Params != "" {
			sb.WriteByte(';')
			sb.WriteString(b.Params)
		}
		if res.gruu && b.Instance != "" {
			// RFC 5627 §5.2 and §3.1: the public GRUU is the AOR with
			// gr set to the instance ID.
			sb.WriteString(";pub-gruu=")
			sb.WriteString(sip.Quote(PublicGRUU(res.aorURI, b.Instance)))
		}
		hdrs = append(hdrs, sip.NewHeader("Contact", sb.String()))
	}
	if len(res.path) > 0 {
		hdrs = append(hdrs, sip.NewHeader("Path", strings.Join(res.path, ", ")))
	}
	if res.outbound {
		hdrs = append(hdrs, sip.NewHeader("Require", "outbound"))
	}
	hdrs = append(hdrs, sip.NewHeader("Date", now.UTC().Format(http.TimeFormat)))
	return hdrs
}

// PublicGRUU returns the public GRUU of an AOR and instance ID (RFC 5627
// §3.1): the AOR with a "gr" parameter whose value is the instance's URN.
func PublicGRUU(aor, instance string) string {
	urn := strings.TrimSuffix(strings.TrimPrefix(instance, "<"), ">")
	return aor + ";gr=" + urn
}

// parseQ reads a q-value (RFC 3261 §20.10: "0" to "1" with up to three
// decimals) as thousandths.
func parseQ(s string) (int, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if (whole != "0" && whole != "1") || len(frac) > 3 {
		return 0, false
	}
	n := 0
	if whole == "1" {
		n = 1000
	}
	scale := 100
	for i := 0; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return 0, false
		}
		n += int(frac[i]-'0') * scale
		scale /= 10
	}
	if n > 1000 {
		return 0, false
	}
	return n, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// optionTags returns the option tags listed in every header called name,
// lower-cased.
func optionTags(req *sip.Message, name string) map[string]bool {
	var tags map[string]bool
	for t := range req.Values(name) {
		if tags == nil {
			tags = make(map[string]bool, 4)
		}
		tags[strings.ToLower(t)] = true
	}
	return tags
}
