package sip

import (
	"net/netip"
	"slices"
	"strings"
)

// Role says which kind of element judges a message; some verdicts depend on it
// (RFC 4475 §3.3).
type Role uint8

const (
	// RoleUAS is a user agent: it answers requests itself and, for
	// responses, acts as the UAC that sent the request.
	RoleUAS Role = iota
	// RoleProxy forwards requests and responses (RFC 3261 §16).
	RoleProxy
	// RoleRegistrar is a UAS that also accepts REGISTER (RFC 3261 §10.3).
	RoleRegistrar
)

func (r Role) String() string {
	switch r {
	case RoleProxy:
		return "proxy"
	case RoleRegistrar:
		return "registrar"
	}
	return "uas"
}

// DefaultMethods are the methods a UAS is taken to implement when
// Policy.Methods is nil.
var defaultMethods = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
	"PRACK", "UPDATE", "INFO", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH"}

// Policy says what an element supports; Check uses it to decide what a
// message is owed. The zero Policy is a UAS that implements the methods of
// RFC 3261 and its common extensions, accepts sip, sips and tel Request-URIs,
// supports no option tags and does not look at body types.
type Policy struct {
	Role Role
	// Extensions lists the option tags understood: a UAS rejects other
	// tags in Require, a proxy other tags in Proxy-Require (420).
	Extensions []string
	// Methods lists the methods a UAS implements (others get 501);
	// nil means the RFC 3261 methods and common extensions.
	Methods []string
	// Schemes lists accepted Request-URI schemes (others get 416); nil
	// means sip, sips and tel.
	Schemes []string
	// Accept lists the body media types a UAS can process (others get
	// 415); nil skips the check.
	Accept []string
	// Endpoint, for RoleProxy, reports the requests the element answers
	// itself rather than forwards (REGISTER at a proxy that is also the
	// registrar): those are judged as RoleRegistrar judges them too
	// (Require, 501 for unknown methods …). Nil means none.
	Endpoint func(m *Message) bool
	// Produces lists the media types a UAS answers an INVITE with; when an
	// INVITE's Accept admits none of them it gets 406. nil skips the check.
	Produces []string
}

// Verdict is the outcome of Check: either the message is acceptable (Code 0
// and Drop false), or it is owed a response with Code, or it must be
// discarded silently (Drop: a response, an ACK, or anything no answer can
// be sent for).
type Verdict struct {
	Code    int
	Reason  string
	Drop    bool
	Err     error    // what is wrong, for logs and diagnostics
	Headers []Header // to add to the response: Unsupported, Allow, Accept …
}

// OK reports whether the message passed.
func (v Verdict) OK() bool { return v.Code == 0 && !v.Drop }

// String returns "ok", "drop" or "NNN Reason".
func (v Verdict) String() string {
	switch {
	case v.Drop:
		return "drop"
	case v.Code == 0:
		return "ok"
	}
	return string(appendUint(nil, uint64(v.Code))) + " " + v.Reason
}

// Response builds the response the verdict calls for (nil for OK or Drop).
func (v Verdict) Response(req *Message) *Message {
	if v.Code == 0 || v.Drop {
		return nil
	}
	res := NewResponse(req, v.Code, v.Reason)
	res.Headers = append(res.Headers, v.Headers...)
	return res
}

func reject(code int, err error, hdrs ...Header) Verdict {
	return Verdict{Code: code, Reason: StatusText(code), Err: err, Headers: hdrs}
}

// Check decides what an element in p's role owes m. It implements the
// request checks of RFC 3261 §8.2 (UAS) and §16.3 (proxy) and the response
// checks of §8.1.3.3 and §16.7, with the verdicts RFC 4475 and RFC 5118 ask
// for. Checks run in the order the RFC lists them, and the first failure
// decides. A request that fails is dropped instead of answered when it is an
// ACK (no response is ever sent to an ACK, §17.1.1.3) or when it has no
// usable Via to send the answer to (§18.2.2).
func (p *Policy) Check(m *Message) Verdict {
	if m.IsResponse() {
		if err := p.checkResponse(m); err != nil {
			return Verdict{Drop: true, Err: err}
		}
		return Verdict{}
	}
	v := p.checkRequest(m)
	if p.Role == RoleProxy && p.Endpoint != nil && v.OK() && p.Endpoint(m) {
		// A request the proxy answers itself is judged as by the
		// registrar it also is.
		q := *p
		q.Role = RoleRegistrar
		v = q.checkRequest(m)
	}
	if v.OK() {
		return v
	}
	if m.Method == "ACK" {
		return Verdict{Drop: true, Err: v.Err}
	}
	if !m.routable() {
		// §18.2.2: responses are routed by the top Via's sent-by; without
		// one no answer can reach the sender.
		return Verdict{Drop: true, Err: v.Err}
	}
	return v
}

func (p *Policy) checkRequest(m *Message) Verdict {
	if m.defect != nil {
		return reject(400, m.defect)
	}
	// RFC 3261 §8.2 does not order this, but nothing else can be judged
	// for a version we do not speak.
	if !equalFold(m.Version, "SIP/2.0") {
		return reject(505, &SyntaxError{What: "Request-Line", Msg: "version " + m.Version + " is not supported"})
	}
	if err := checkHeaders(m, true); err != nil {
		return reject(400, err)
	}
	cseq, _ := m.CSeq()
	uas := p.Role != RoleProxy
	// §8.2.1: a method the UAS does not implement gets 501 (405 is for one
	// it knows but does not allow here).
	if uas && !p.implements(m.Method) {
		allow := p.Methods
		if allow == nil {
			allow = defaultMethods
		}
		return reject(501, &SyntaxError{Msg: "method " + quoteShort(m.Method) + " is not implemented"},
			NewHeader("Allow", strings.Join(allow, ", ")))
	}
	if cseq.Method != m.Method {
		return reject(400, &SyntaxError{What: "CSeq", Msg: "method " + cseq.Method + " does not match the request method " + m.Method})
	}
	// §8.2.2.1 / §16.3 step 2.
	if !p.schemeOK(m.RequestURI.Scheme) {
		return reject(416, &SyntaxError{What: "Request-URI", Msg: "scheme " + quoteShort(m.RequestURI.Scheme) + " is not supported"})
	}
	if m.RequestURI.Headers != "" {
		// §19.1.5: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
		return reject(400, &SyntaxError{What: "Request-URI", Msg: "URI headers ('?') are not allowed in a Request-URI"})
	}
	if v, err := m.Via(); err == nil && v.Branch() == BranchMagic {
		// RFC 4475 §3.2.1: a branch of only the magic cookie identifies nothing.
		return reject(400, &SyntaxError{What: "Via", Msg: "branch holds only the magic cookie"})
	}
	if p.Role == RoleProxy {
		// §16.3 step 3.
		if mf, err := m.MaxForwards(); err == nil && mf == 0 {
			return reject(483, &SyntaxError{What: "Max-Forwards", Msg: "reached zero"})
		}
		// §16.3 step 5.
		if bad := p.unsupported(m, hProxyRequire); bad != "" {
			return reject(420, &SyntaxError{What: "Proxy-Require", Msg: "unsupported " + bad}, NewHeader("Unsupported", bad))
		}
		return Verdict{}
	}
	// §8.2.2.3: Require is ignored in ACK and CANCEL.
	if m.Method != "ACK" && m.Method != "CANCEL" {
		if bad := p.unsupported(m, hRequire); bad != "" {
			return reject(420, &SyntaxError{What: "Require", Msg: "unsupported " + bad}, NewHeader("Unsupported", bad))
		}
	}
	// §8.2.3 content processing.
	if p.Accept != nil && len(m.Body) > 0 {
		if ct := m.ContentType(); !slices.Contains(p.Accept, ct) {
			return reject(415, &SyntaxError{What: "Content-Type", Msg: quoteShort(ct) + " is not supported"},
				NewHeader("Accept", strings.Join(p.Accept, ", ")))
		}
	}
	if p.Produces != nil && m.Method == "INVITE" && m.Has("Accept") && !p.acceptable(m) {
		return reject(406, &SyntaxError{What: "Accept", Msg: "none of " + strings.Join(p.Produces, ", ") + " is acceptable"})
	}
	if p.Role == RoleRegistrar && m.Method == "REGISTER" {
		// §10.3 step 3 / RFC 4475 §3.3.4: the AOR must be a SIP or SIPS URI.
		if to, _ := m.To(); !to.URI.IsSIP() {
			return reject(400, &SyntaxError{What: "To", Msg: "address-of-record " + quoteShort(to.URI.String()) + " is not a SIP or SIPS URI"})
		}
	}
	return Verdict{}
}

// routable reports whether the top Via names a transport and sent-by that a
// response could be sent to, even if its parameters are malformed.
func (m *Message) routable() bool {
	h := m.find(hVia)
	if h == nil {
		return false
	}
	item, _, _ := nextListItem(h.Value, 0)
	_, _, err := parseSentBy(item)
	return err == nil
}

func (p *Policy) implements(method string) bool {
	ms := p.Methods
	if ms == nil {
		ms = defaultMethods
	}
	return slices.Contains(ms, method)
}

func (p *Policy) schemeOK(scheme string) bool {
	if p.Schemes == nil {
		return equalFold(scheme, "sip") || equalFold(scheme, "sips") || equalFold(scheme, "tel")
	}
	for _, s := range p.Schemes {
		if equalFold(s, scheme) {
			return true
		}
	}
	return false
}

// unsupported returns the option tags of header k that p does not list,
// joined for an Unsupported header.
func (p *Policy) unsupported(m *Message, k hkind) string {
	var bad []string
	m.eachItem(k, func(tag string) bool {
		if tag != "" && !slices.Contains(p.Extensions, tag) {
			bad = append(bad, tag)
		}
		return true
	})
	return strings.Join(bad, ", ")
}

// acceptable reports whether the INVITE's Accept admits a type in p.Produces.
func (p *Policy) acceptable(m *Message) bool {
	ok := false
	m.eachItem(hAccept, func(item string) bool {
		rng, _, _ := strings.Cut(item, ";")
		rng = strings.ToLower(trimLWS(rng))
		for _, t := range p.Produces {
			if rng == "*/*" || rng == t || (strings.HasSuffix(rng, "/*") && strings.HasPrefix(t, rng[:len(rng)-1])) {
				ok = true
				return false
			}
		}
		return true
	})
	return ok
}

func (p *Policy) checkResponse(m *Message) error {
	if m.defect != nil {
		return m.defect
	}
	if !equalFold(m.Version, "SIP/2.0") {
		return &SyntaxError{What: "Status-Line", Msg: "version " + m.Version + " is not supported"}
	}
	if err := checkHeaders(m, false); err != nil {
		return err
	}
	vias := 0
	for v := range m.Vias() {
		vias++
		if vias == 2 && p.Role == RoleProxy {
			// §16.7 step 3 sends the response to this Via; RFC 4475
			// §3.3.10: never to a broadcast or multicast address.
			if a, ok := HostAddr(v.Host); ok && (a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
				return &SyntaxError{What: "Via", Msg: "response would be sent to " + v.Host}
			}
		}
	}
	if vias > 1 && p.Role != RoleProxy {
		// §8.1.3.3: a UAC discards a response with more than one Via.
		return &SyntaxError{What: "Via", Msg: "a response to a user agent carries more than one Via"}
	}
	return nil
}

// checkHeaders checks presence, multiplicity and syntax of the headers the
// stack relies on (RFC 3261 §8.1.1, §20).
func checkHeaders(m *Message, request bool) error {
	var seen [numKinds]uint8
	for i := range m.Headers {
		h := &m.Headers[i]
		k := h.k()
		if seen[k] < 255 {
			seen[k]++
		}
		if err := checkControls(h.Value); err != nil {
			return inHeader(CanonicalName(h.Name), err)
		}
		if err := checkHeaderValue(m, k, h.Value); err != nil {
			return inHeader(CanonicalName(h.Name), err)
		}
	}
	for _, k := range [...]hkind{hVia, hFrom, hTo, hCallID, hCSeq} {
		if seen[k] == 0 {
			return &SyntaxError{Msg: "missing " + canonicalNames[k] + " header"}
		}
	}
	// Single-valued headers (RFC 4475 §3.3.8).
	for _, k := range [...]hkind{hFrom, hTo, hCallID, hCSeq, hMaxForwards, hContentLength, hContentType, hExpires} {
		if seen[k] > 1 {
			return &SyntaxError{Msg: "more than one " + canonicalNames[k] + " header"}
		}
	}
	if request && seen[hContact] > 0 {
		if err := checkWildcard(m); err != nil {
			return err
		}
	}
	return nil
}

func checkHeaderValue(m *Message, k hkind, v string) error {
	switch k {
	case hVia, hRoute, hRecordRoute, hPath, hContact:
		if k == hContact && trimLWS(v) == "*" {
			return nil // checked as a whole in checkHeaders
		}
		var err error
		eachItemOf(v, func(item string) bool {
			if item == "" {
				err = errorf("empty value in list")
				return false
			}
			if k == hVia {
				_, err = ParseVia(item)
			} else {
				var a Address
				a, err = ParseAddress(item)
				if err == nil && k == hContact {
					if q, ok := a.Params.Get("q"); ok && !validQValue(q) {
						err = errorf("q must be a qvalue between 0 and 1, not %s", quoteShort(q))
					}
				}
			}
			return err == nil
		})
		return err
	case hFrom, hTo:
		_, err := ParseAddress(v)
		return err
	case hCSeq:
		_, err := ParseCSeq(v)
		return err
	case hCallID:
		return checkCallID(v)
	case hMaxForwards:
		if _, ok := parseUint(v, 255); !ok {
			return errorf("must be 0-255")
		}
	case hExpires, hMinExpires:
		// §10.2.1.1: larger values are clamped, not refused.
		if !allDigits(v) {
			return errorf("must be delta-seconds")
		}
	case hContentLength:
		if _, ok := parseUint(v, MaxMessageSize); !ok {
			return errorf("not a length")
		}
	case hContentType:
		return checkMediaType(v, false)
	case hAccept:
		if v == "" {
			return nil // §20.1: nothing is acceptable
		}
		var err error
		eachItemOf(v, func(item string) bool {
			err = checkMediaType(item, true)
			return err == nil
		})
		return err
	case hRequire, hProxyRequire, hSupported, hUnsupported, hAllow, hContentEncoding:
		var err error
		eachItemOf(v, func(item string) bool {
			if item != "" && !isTokenString(item) {
				err = errorf("%s is not a token", quoteShort(item))
			}
			return err == nil
		})
		return err
	case hAuthorization, hProxyAuthorization, hWWWAuthenticate, hProxyAuthenticate:
		_, err := ParseAuth(v)
		return err
	case hDate:
		return checkDate(v)
	}
	return nil
}

// eachItemOf calls f for each trimmed comma-separated item of v, passing ""
// for an empty item so that callers can reject it. It returns false if f
// stopped the walk.
func eachItemOf(v string, f func(string) bool) bool {
	if v == "" {
		return f("")
	}
	for j := 0; j < len(v); {
		item, next, _ := nextListItem(v, j)
		if !f(trimLWS(item)) {
			return false
		}
		j = next
		if j == len(v) && v[j-1] == ',' {
			return f("")
		}
	}
	return true
}

// checkControls rejects control characters in a header value (RFC 3261
// §25.1: values are TEXT-UTF8, LWS and quoted strings): a CR or LF that does
// not fold the line, NUL and the other CTLs. Inside a quoted string a
// quoted-pair may escape any of them but CR and LF. A bare CR would make a
// downstream parser end the line where this one did not.
func checkControls(v string) error {
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted && i+1 < len(v) && v[i+1] != '\r' && v[i+1] != '\n':
			i++
		case c == '\r':
			if i+2 >= len(v) || v[i+1] != '\n' || !isWS(v[i+2]) {
				return errorf("bare CR in value")
			}
			i++
		case c == '\n':
			if i+1 >= len(v) || !isWS(v[i+1]) {
				return errorf("bare LF in value")
			}
		case c < 0x20 && c != '\t', c == 0x7f:
			return errorf("control character 0x%02x in value", c)
		}
	}
	return nil
}

// checkWildcard: a Contact of "*" is allowed only in a REGISTER, as its one
// Contact value, with Expires 0 (RFC 3261 §10.2.2, §10.3 step 6, §20.10).
func checkWildcard(m *Message) error {
	star, values := false, 0
	m.eachItem(hContact, func(item string) bool {
		values++
		star = star || item == "*"
		return true
	})
	if !star {
		return nil
	}
	switch {
	case m.Method != "REGISTER":
		return &SyntaxError{What: "Contact", Msg: "'*' is only allowed in REGISTER"}
	case values > 1:
		return &SyntaxError{What: "Contact", Msg: "'*' must be the only Contact"}
	case m.Get("Expires") != "0" && trimLWS(m.Get("Expires")) != "0":
		return &SyntaxError{What: "Contact", Msg: "'*' requires Expires: 0"}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// validQValue: ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
// (RFC 3261 §25.1).
func validQValue(q string) bool {
	if q == "" || (q[0] != '0' && q[0] != '1') {
		return false
	}
	if len(q) == 1 {
		return true
	}
	if q[1] != '.' || len(q) > 5 {
		return false
	}
	for i := 2; i < len(q); i++ {
		if !isDigit(q[i]) || (q[0] == '1' && q[i] != '0') {
			return false
		}
	}
	return true
}

// checkCallID: word [ "@" word ] (RFC 3261 §25.1).
func checkCallID(v string) error {
	w1, w2, at := strings.Cut(v, "@")
	if !isWord(w1) || (at && !isWord(w2)) {
		return errorf("malformed Call-ID %s", quoteShort(v))
	}
	return nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordChar(s[i]) {
			return false
		}
	}
	return true
}

// checkMediaType: type "/" subtype *( ";" m-parameter ); with rng set, the
// Accept forms "*/*" and "type/*" are allowed too.
func checkMediaType(v string, rng bool) error {
	t, params, hasParams := strings.Cut(v, ";")
	typ, sub, ok := strings.Cut(trimLWS(t), "/")
	typ, sub = trimLWS(typ), trimLWS(sub)
	if !ok || !isTokenString(typ) || !isTokenString(sub) || (!rng && (typ == "*" || sub == "*")) || (typ == "*" && sub != "*") {
		return errorf("malformed media type %s", quoteShort(v))
	}
	if hasParams {
		return checkHeaderParams(params)
	}
	return nil
}

// checkDate: rfc1123-date, which SIP restricts to GMT (RFC 3261 §20.17,
// RFC 4475 §3.1.2.12): "Sat, 13 Nov 2010 23:29:00 GMT".
func checkDate(v string) error {
	bad := errorf("malformed Date %s (want e.g. \"Sat, 13 Nov 2010 23:29:00 GMT\")", quoteShort(v))
	if len(v) != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
		v[19] != ':' || v[22] != ':' || v[25] != ' ' || v[26:] != "GMT" {
		return bad
	}
	if !strings.Contains("Mon Tue Wed Thu Fri Sat Sun", v[:3]) || !strings.Contains("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", v[8:11]) {
		return bad
	}
	for _, r := range [...][2]int{{5, 7}, {12, 16}, {17, 19}, {20, 22}, {23, 25}} {
		for i := r[0]; i < r[1]; i++ {
			if !isDigit(v[i]) {
				return bad
			}
		}
	}
	return nil
}
