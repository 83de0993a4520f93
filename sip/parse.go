package sip

import (
	"bytes"
	"strings"
	"unsafe"
)

// Parse frames one message received as a datagram (RFC 3261 §18.3): the
// message ends where the datagram ends. Leading CRLFs are skipped (§7.5). A
// header section that is not closed by an empty line ends at the end of the
// datagram. When a Content-Length is present the body is cut to it and any
// trailing octets are discarded (RFC 4475 §3.1.1.8); when it promises more
// than the datagram holds, or is absent, the body is what arrived, and a
// promise not kept is recorded for Policy.Check.
//
// Parse returns an error only when it cannot make a message of the data at
// all: nothing but white space, no recognisable start line, or more than
// MaxMessageSize bytes. Everything else (a malformed URI, header or start line
// detail) is left for Policy.Check, so that a 400 can be routed back.
//
// Parse takes ownership of data: the message's strings and Body refer to it
// instead of copying it (parsing works on offsets into the received
// buffer), so data must not be modified or reused afterwards. A transport
// reads each datagram into a buffer of its own, or passes bytes.Clone of a
// shared one.
func Parse(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, ErrMessageTooLarge
	}
	data = data[skipCRLF(data):]
	if len(data) == 0 {
		return nil, errorf("empty message")
	}
	m := &Message{}
	if err := m.parse(data[:len(data):len(data)], true); err != nil {
		return nil, err
	}
	return m, nil
}

func skipCRLF(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// parse fills m from buf, which m takes ownership of: nothing may write to
// buf again, except through Body, which lies after every string taken from
// it. In datagram mode the
// body runs to the end of buf, as Content-Length allows; in stream mode buf
// has been cut to exactly one message by the framer. One pass over the
// header section splits the lines; nothing is copied.
func (m *Message) parse(buf []byte, datagram bool) error {
	s := unsafe.String(unsafe.SliceData(buf), len(buf))

	// Start line.
	eol := strings.IndexByte(s, '\n')
	if eol < 0 {
		eol = len(s)
	}
	line := s[:eol]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if err := m.parseStartLine(line); err != nil {
		return err
	}

	// Headers, up to the empty line (RFC 3261 §7.3; bare LF tolerated).
	// Appending to a local slice keeps the slice header out of the heap
	// (and its write barrier) until the end.
	hs := m.inline[:0]
	bodyStart := -1
	i := eol + 1
	for i < len(s) {
		if s[i] == '\n' {
			bodyStart = i + 1
			break
		}
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			bodyStart = i + 2
			break
		}
		e := strings.IndexByte(s[i:], '\n')
		if e < 0 {
			e = len(s)
		} else {
			e += i
		}
		// Folded continuation lines (RFC 3261 §7.3.1) extend the value.
		for e+1 < len(s) && isWS(s[e+1]) {
			n := strings.IndexByte(s[e+1:], '\n')
			if n < 0 {
				e = len(s)
			} else {
				e += 1 + n
			}
		}
		// Fast path, inline: a token name, optional white space, ':'.
		line := s[i:e]
		k := 0
		for k < len(line) && isToken(line[k]) {
			k++
		}
		j := k
		for j < len(line) && isWS(line[j]) {
			j++
		}
		if k > 0 && j < len(line) && line[j] == ':' {
			v := line[j+1:]
			// Usually "Name: value\r": peel those two off before the
			// general trim.
			if n := len(v); n > 0 && v[n-1] == '\r' {
				v = v[:n-1]
			}
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			if n := len(v); n > 0 && (isLWSByte(v[0]) || isLWSByte(v[n-1])) {
				v = trimLWS(v)
			}
			hs = append(hs, Header{Name: line[:k], Value: v, kind: kindOf(line[:k])})
		} else if h, ok := m.splitOddLine(line); ok {
			hs = append(hs, h)
		}
		i = e + 1
	}
	m.Headers = hs
	if bodyStart < 0 {
		if !datagram {
			return errorf("header section not terminated")
		}
		bodyStart = len(buf)
	}

	// Body (RFC 3261 §18.3, §20.14).
	body := buf[bodyStart:len(buf):len(buf)]
	cl, n, err := m.contentLength()
	switch {
	case err != nil:
		m.setDefect(err)
		if !datagram {
			return err
		}
	case n == 0:
		// No Content-Length: over a datagram the body is the rest of it;
		// the framer gives streams none.
	case cl > len(body):
		m.setDefect(errorf("Content-Length %d exceeds the %d body octets received", cl, len(body)))
	default:
		body = body[:cl:cl]
	}
	if len(body) > 0 {
		m.Body = body
	}
	return nil
}

// splitOddLine handles a header line that does not start with "token:":
// white space before the name, a name that is not a token, no colon at all.
func (m *Message) splitOddLine(raw string) (Header, bool) {
	t := trimLWS(raw)
	if t == "" {
		return Header{}, false
	}
	if isWS(raw[0]) {
		m.setDefect(errorf("continuation line without a header: %s", quoteShort(t)))
	}
	colon := strings.IndexByte(raw, ':')
	name := ""
	if colon >= 0 {
		name = trimLWS(raw[:colon])
	}
	if name == "" {
		// Kept whole, as a line without a name, so that it is written
		// back as it came.
		m.setDefect(errorf("header line without a name: %s", quoteShort(t)))
		return Header{Value: t, kind: hOther}, true
	}
	if !isTokenString(name) {
		m.setDefect(errorf("malformed header name %s", quoteShort(name)))
	}
	return Header{Name: name, Value: trimLWS(raw[colon+1:]), kind: kindOf(name)}, true
}

// contentLength returns the declared body length and how many Content-Length
// headers declared it; differing values are an error (RFC 4475 §3.3.9).
func (m *Message) contentLength() (cl, n int, err error) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if h.k() != hContentLength {
			continue
		}
		v, ok := parseUint(h.Value, 1<<31-1)
		if !ok {
			return 0, n, &SyntaxError{What: "Content-Length", Msg: "not a length: " + quoteShort(h.Value)}
		}
		if n > 0 && int(v) != cl {
			return 0, n, &SyntaxError{What: "Content-Length", Msg: "several different values"}
		}
		cl = int(v)
		n++
	}
	return cl, n, nil
}

func (m *Message) setDefect(err error) {
	if m.defect == nil {
		m.defect = err
	}
}

// headerEnd finds the empty line that ends the header section, searching
// from offset from (which must not lie inside a line break), and returns the
// offset of the line break before it and the offset of the body. Bare LF
// line ends are tolerated. It returns -1 if there is no empty line.
func headerEnd(b []byte, from int) (end, body int) {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1, -1
		}
		j += i
		// b[j] is '\n'; an empty line follows if the next bytes are "\r\n" or "\n".
		switch {
		case j+1 < len(b) && b[j+1] == '\n':
			return j, j + 2
		case j+2 < len(b) && b[j+1] == '\r' && b[j+2] == '\n':
			return j, j + 3
		}
		i = j + 1
	}
}

// parseStartLine reads a Request-Line or Status-Line (RFC 3261 §7.1, §7.2).
// It fails only when the line is neither; details go to m.defect.
func (m *Message) parseStartLine(line string) error {
	if len(line) >= 4 && equalFold(line[:4], "SIP/") {
		return m.parseStatusLine(line)
	}
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 || !isTokenString(line[:sp]) {
		return errorf("not a SIP start line: %s", quoteShort(line))
	}
	m.Method = line[:sp]
	rest := line[sp+1:]
	if n := len(rest) - len(" SIP/2.0"); n > 0 && rest[n:] == " SIP/2.0" {
		// The common case needs no further version checks.
		m.target, m.Version = rest[:n], rest[n+1:]
	} else if last := strings.LastIndexByte(rest, ' '); last < 0 {
		m.target = rest
		m.setDefect(&SyntaxError{What: "Request-Line", Msg: "missing SIP-Version"})
	} else {
		m.target, m.Version = rest[:last], rest[last+1:]
		if !validVersion(m.Version) {
			m.setDefect(&SyntaxError{What: "Request-Line", Msg: "malformed SIP-Version " + quoteShort(m.Version)})
		}
	}
	if err := m.RequestURI.parse(m.target); err != nil {
		m.RequestURI = URI{}
		m.setDefect(&SyntaxError{What: "Request-URI", Msg: err.(*SyntaxError).Msg})
	}
	return nil
}

func (m *Message) parseStatusLine(line string) error {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return errorf("status line without a status code: %s", quoteShort(line))
	}
	m.Version = line[:sp]
	if m.Version != "SIP/2.0" && !validVersion(m.Version) {
		m.setDefect(&SyntaxError{What: "Status-Line", Msg: "malformed SIP-Version " + quoteShort(m.Version)})
	}
	rest := line[sp+1:]
	code, reason, _ := strings.Cut(rest, " ")
	m.Reason = reason
	n, ok := parseUint(code, 999)
	if !ok || len(code) != 3 || n < 100 || n > 699 {
		m.setDefect(&SyntaxError{What: "Status-Line", Msg: "status code out of range: " + quoteShort(code)})
		return nil
	}
	m.StatusCode = int(n)
	return nil
}

// validVersion checks "SIP" "/" 1*DIGIT "." 1*DIGIT (RFC 3261 §25.1).
func validVersion(v string) bool {
	if len(v) < 7 || !equalFold(v[:4], "SIP/") {
		return false
	}
	major, minor, ok := strings.Cut(v[4:], ".")
	if !ok {
		return false
	}
	_, ok1 := parseUint(major, 1<<20)
	_, ok2 := parseUint(minor, 1<<20)
	return ok1 && ok2
}
