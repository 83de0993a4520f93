package sip

import (
	"iter"
	"strings"
)

// Header is one header field line. Name is as written on the wire (possibly
// compact, in any case); Value has surrounding white space removed but keeps
// any folded line breaks inside it, so headers the stack does not touch are
// forwarded byte for byte. A Header with an empty Name is a line that had no
// name (no colon, or nothing before it); its Value is the whole line, kept so
// the message is not silently altered, and Policy.Check rejects it.
//
// Build headers with NewHeader, or as a literal: the cached kind is filled in
// on first use. Change a header's Name only by replacing the whole Header.
type Header struct {
	Name  string
	Value string
	kind  hkind
}

// NewHeader returns a header with the given name and value.
func NewHeader(name, value string) Header {
	return Header{Name: name, Value: value, kind: kindOf(name)}
}

func (h *Header) k() hkind {
	if h.kind == hNone {
		return kindOf(h.Name)
	}
	return h.kind
}

// Is reports whether the header is called name, comparing case-insensitively
// and treating compact and long forms alike.
func (h *Header) Is(name string) bool {
	k := kindOf(name)
	if k != hOther {
		return h.k() == k
	}
	return equalFold(h.Name, name)
}

// Message is a SIP request or response (RFC 3261 §7). A request has a
// non-empty Method; a response has a non-zero StatusCode (or, when Parse read
// a status line it could not accept, Version set and Method empty).
//
// Strings in a parsed message point into the received bytes, which the
// message owns (see Parse). Body aliases the same buffer; it may be replaced,
// but should not be modified in place while the message is shared. A Message is not safe for concurrent
// mutation; Clone gives an independent copy.
type Message struct {
	Method     string // request method, e.g. "INVITE"; "" in a response
	RequestURI URI    // request target
	StatusCode int    // response status code
	Reason     string // response reason phrase
	Version    string // "SIP/2.0" as written

	Headers []Header // in their original order
	Body    []byte

	// target is the Request-URI as received, kept when it does not parse so
	// that it can be reported and written back unchanged.
	target string
	// defect is the first problem Parse met that framing survives: a bad
	// start line, a header line without a colon, a Content-Length that does
	// not match the datagram. Policy.Check turns it into 400 (or a drop).
	defect error
	// inline backs Headers for typical messages, saving an allocation.
	inline [16]Header
}

// IsRequest reports whether m is a request.
func (m *Message) IsRequest() bool { return m.Method != "" }

// IsResponse reports whether m is a response.
func (m *Message) IsResponse() bool { return m.Method == "" }

// Defect returns the first framing problem Parse found in an otherwise framed
// message, or nil. Policy.Check reports it; it is exposed for diagnostics.
func (m *Message) Defect() error { return m.defect }

// RequestTarget returns the Request-URI text as received, or the formatted
// RequestURI for a message built in memory.
func (m *Message) RequestTarget() string {
	if m.target != "" && m.RequestURI.IsZero() {
		return m.target
	}
	return m.RequestURI.String()
}

func (m *Message) find(k hkind) *Header {
	for i := range m.Headers {
		if m.Headers[i].k() == k {
			return &m.Headers[i]
		}
	}
	return nil
}

// Get returns the value of the first header called name (compact forms and
// case are handled), or "".
func (m *Message) Get(name string) string {
	for i := range m.Headers {
		if m.Headers[i].Is(name) {
			return m.Headers[i].Value
		}
	}
	return ""
}

// Has reports whether a header called name is present.
func (m *Message) Has(name string) bool {
	for i := range m.Headers {
		if m.Headers[i].Is(name) {
			return true
		}
	}
	return false
}

// Values yields every comma-separated value of every header called name, in
// order, trimmed. Use it for list headers (Allow, Require, Supported …); quoted
// strings and <...> are respected. Headers such as Authorization whose values
// contain commas must be read with Get or Headers instead.
func (m *Message) Values(name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range m.Headers {
			if !m.Headers[i].Is(name) {
				continue
			}
			v := m.Headers[i].Value
			for j := 0; j < len(v); {
				item, next, _ := nextListItem(v, j)
				if t := trimLWS(item); t != "" && !yield(t) {
					return
				}
				j = next
			}
		}
	}
}

// Add appends a header.
func (m *Message) Add(name, value string) { m.Headers = append(m.Headers, NewHeader(name, value)) }

// Prepend inserts a header before all others (used for Via and Record-Route,
// whose order matters).
func (m *Message) Prepend(name, value string) {
	m.Headers = append(m.Headers, Header{})
	copy(m.Headers[1:], m.Headers)
	m.Headers[0] = NewHeader(name, value)
}

// Set replaces the first header called name and removes the others, or
// appends one if there is none.
func (m *Message) Set(name, value string) {
	for i := range m.Headers {
		if m.Headers[i].Is(name) {
			m.Headers[i] = NewHeader(m.Headers[i].Name, value)
			m.delAfter(name, i+1)
			return
		}
	}
	m.Add(name, value)
}

// Del removes every header called name.
func (m *Message) Del(name string) { m.delAfter(name, 0) }

func (m *Message) delAfter(name string, from int) {
	out := m.Headers[:from]
	for _, h := range m.Headers[from:] {
		if !h.Is(name) {
			out = append(out, h)
		}
	}
	clear(m.Headers[len(out):])
	m.Headers = out
}

// CallID returns the Call-ID (RFC 3261 §20.8), or "".
func (m *Message) CallID() string {
	if h := m.find(hCallID); h != nil {
		return h.Value
	}
	return ""
}

// CSeq is the value of the CSeq header (RFC 3261 §20.16).
type CSeq struct {
	Seq    uint32
	Method string
}

// String returns the wire form "Seq Method".
func (c CSeq) String() string { return string(appendUint(nil, uint64(c.Seq))) + " " + c.Method }

// ParseCSeq parses "1*DIGIT LWS Method". The number must fit 32 bits
// (RFC 3261 §20.16; §8.1.1.5's limit of 2^31 binds only what a UAC picks).
func ParseCSeq(s string) (CSeq, error) {
	s = trimLWS(s)
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	n, ok := parseUint(s[:i], 1<<32-1)
	if !ok {
		return CSeq{}, errorf("sequence number missing or above 2^32-1")
	}
	j := skipLWS(s, i)
	if j == i || !isTokenString(s[j:]) {
		return CSeq{}, errorf("malformed method")
	}
	return CSeq{Seq: uint32(n), Method: s[j:]}, nil
}

// CSeq returns the parsed CSeq header.
func (m *Message) CSeq() (CSeq, error) {
	h := m.find(hCSeq)
	if h == nil {
		return CSeq{}, ErrNoHeader
	}
	c, err := ParseCSeq(h.Value)
	return c, inHeader("CSeq", err)
}

func (m *Message) address(k hkind) (Address, error) {
	h := m.find(k)
	if h == nil {
		return Address{}, ErrNoHeader
	}
	a, err := ParseAddress(h.Value)
	return a, inHeader(canonicalNames[k], err)
}

// From returns the parsed From header.
func (m *Message) From() (Address, error) { return m.address(hFrom) }

// To returns the parsed To header.
func (m *Message) To() (Address, error) { return m.address(hTo) }

// Via returns the topmost Via value.
func (m *Message) Via() (Via, error) {
	h := m.find(hVia)
	if h == nil {
		return Via{}, ErrNoHeader
	}
	item, _, _ := nextListItem(h.Value, 0)
	v, err := ParseVia(item)
	return v, inHeader("Via", err)
}

// Vias yields every Via value, top first, across header lines.
func (m *Message) Vias() iter.Seq2[Via, error] {
	return func(yield func(Via, error) bool) {
		m.eachItem(hVia, func(item string) bool {
			v, err := ParseVia(item)
			return yield(v, inHeader("Via", err))
		})
	}
}

// eachItem calls f for each comma-separated item of every header of kind k
// (see eachItemOf).
func (m *Message) eachItem(k hkind, f func(string) bool) {
	for i := range m.Headers {
		if m.Headers[i].k() == k && !eachItemOf(m.Headers[i].Value, f) {
			return
		}
	}
}

// addresses yields each address of the list header k.
func (m *Message) addresses(k hkind) iter.Seq2[Address, error] {
	return func(yield func(Address, error) bool) {
		m.eachItem(k, func(item string) bool {
			a, err := ParseAddress(item)
			return yield(a, inHeader(canonicalNames[k], err))
		})
	}
}

// Contacts yields each Contact value. A wildcard "*" (REGISTER removal,
// RFC 3261 §10.2.2) is reported by IsWildcardContact, not here.
func (m *Message) Contacts() iter.Seq2[Address, error] {
	return func(yield func(Address, error) bool) {
		if m.IsWildcardContact() {
			return
		}
		m.addresses(hContact)(yield)
	}
}

// IsWildcardContact reports whether any Contact value is "*" (whether it
// is allowed there is Policy.Check's business).
func (m *Message) IsWildcardContact() bool {
	star := false
	m.eachItem(hContact, func(item string) bool {
		star = item == "*"
		return !star
	})
	return star
}

// Routes yields each Route value, top first.
func (m *Message) Routes() iter.Seq2[Address, error] { return m.addresses(hRoute) }

// RecordRoutes yields each Record-Route value, top first.
func (m *Message) RecordRoutes() iter.Seq2[Address, error] { return m.addresses(hRecordRoute) }

// Paths yields each Path value (RFC 3327).
func (m *Message) Paths() iter.Seq2[Address, error] { return m.addresses(hPath) }

func (m *Message) uintHeader(k hkind, max uint64) (uint64, error) {
	h := m.find(k)
	if h == nil {
		return 0, ErrNoHeader
	}
	n, ok := parseUint(h.Value, max)
	if !ok {
		return 0, &SyntaxError{What: canonicalNames[k], Msg: "not a number in range: " + quoteShort(h.Value)}
	}
	return n, nil
}

// MaxForwards returns the Max-Forwards value, 0 to 255 (RFC 3261 §20.22).
func (m *Message) MaxForwards() (int, error) {
	n, err := m.uintHeader(hMaxForwards, 255)
	return int(n), err
}

// ContentLength returns the Content-Length header's value.
func (m *Message) ContentLength() (int, error) {
	n, err := m.uintHeader(hContentLength, MaxMessageSize)
	return int(n), err
}

// Expires returns the Expires header's delta-seconds (RFC 3261 §20.19),
// clamped to 2^32-1 as §10.2.1.1 allows.
func (m *Message) Expires() (uint32, error) {
	h := m.find(hExpires)
	if h == nil {
		return 0, ErrNoHeader
	}
	if !allDigits(h.Value) {
		return 0, &SyntaxError{What: "Expires", Msg: "not delta-seconds: " + quoteShort(h.Value)}
	}
	n, ok := parseUint(h.Value, 1<<32-1)
	if !ok {
		n = 1<<32 - 1
	}
	return uint32(n), nil
}

// ContentType returns the media type of the body without parameters, in
// lower case ("application/sdp"), or "".
func (m *Message) ContentType() string {
	h := m.find(hContentType)
	if h == nil {
		return ""
	}
	t, _, _ := strings.Cut(h.Value, ";")
	t = trimLWS(t)
	for i := 0; i < len(t); i++ {
		if c := t[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(t)
		}
	}
	return t
}

// RemoveFirst removes the first value of the first header called name: the
// whole header line when that is its only value, else the first item of its
// comma-separated list (a proxy pops its own Via or Route this way, §16.4,
// §16.7 step 3). It returns the value removed, trimmed, and false when there
// is no such header.
func (m *Message) RemoveFirst(name string) (string, bool) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if !h.Is(name) {
			continue
		}
		item, next, _ := nextListItem(h.Value, 0)
		if rest := trimLWS(h.Value[next:]); next < len(h.Value) && rest != "" {
			*h = NewHeader(h.Name, rest)
		} else {
			copy(m.Headers[i:], m.Headers[i+1:])
			m.Headers[len(m.Headers)-1] = Header{}
			m.Headers = m.Headers[:len(m.Headers)-1]
		}
		return trimLWS(item), true
	}
	return "", false
}
