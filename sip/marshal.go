package sip

// AppendTo appends the wire form of m to b and returns the extended slice.
// Headers are written in order as "Name: Value" with their values untouched;
// the Content-Length header always states len(Body) (one is added at the end
// when the message has none, and extra ones are dropped), so a message whose
// Body was replaced still frames correctly.
func (m *Message) AppendTo(b []byte) []byte {
	if m.IsRequest() {
		b = append(b, m.Method...)
		b = append(b, ' ')
		if m.target != "" && m.RequestURI.IsZero() {
			b = append(b, m.target...)
		} else {
			b = m.RequestURI.AppendTo(b)
		}
		b = append(b, ' ')
		b = append(b, m.version()...)
	} else {
		b = append(b, m.version()...)
		b = append(b, ' ')
		b = appendUint(b, uint64(m.StatusCode))
		b = append(b, ' ')
		b = append(b, m.Reason...)
	}
	b = append(b, "\r\n"...)
	haveCL := false
	for i := range m.Headers {
		h := &m.Headers[i]
		if h.k() == hContentLength {
			if haveCL {
				continue
			}
			haveCL = true
			b = append(b, h.Name...)
			b = append(b, ": "...)
			b = appendUint(b, uint64(len(m.Body)))
			b = append(b, "\r\n"...)
			continue
		}
		if h.Name != "" {
			b = append(b, h.Name...)
			b = append(b, ": "...)
		}
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	if !haveCL {
		b = append(b, "Content-Length: "...)
		b = appendUint(b, uint64(len(m.Body)))
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, m.Body...)
}

func (m *Message) version() string {
	if m.Version == "" {
		return "SIP/2.0"
	}
	return m.Version
}

// MarshalSize returns the exact number of bytes AppendTo writes.
func (m *Message) MarshalSize() int {
	n := 0
	if m.IsRequest() {
		n += len(m.Method) + 1 + 1 + len(m.version())
		if m.target != "" && m.RequestURI.IsZero() {
			n += len(m.target)
		} else {
			n += m.RequestURI.size()
		}
	} else {
		n += len(m.version()) + 1 + digits(uint64(m.StatusCode)) + 1 + len(m.Reason)
	}
	n += 2
	haveCL := false
	for i := range m.Headers {
		h := &m.Headers[i]
		if h.k() == hContentLength {
			if haveCL {
				continue
			}
			haveCL = true
			n += len(h.Name) + 2 + digits(uint64(len(m.Body))) + 2
			continue
		}
		if h.Name != "" {
			n += len(h.Name) + 2
		}
		n += len(h.Value) + 2
	}
	if !haveCL {
		n += len("Content-Length: ") + digits(uint64(len(m.Body))) + 2
	}
	return n + 2 + len(m.Body)
}

// Bytes returns the wire form of m in a new slice of exactly MarshalSize bytes.
func (m *Message) Bytes() []byte { return m.AppendTo(make([]byte, 0, m.MarshalSize())) }

// String returns the wire form of m.
func (m *Message) String() string { return string(m.Bytes()) }

func digits(n uint64) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

func (u *URI) size() int {
	n := len(u.Scheme) + 1
	if u.Opaque != "" {
		return n + len(u.Opaque)
	}
	if u.IsTel() {
		n += len(u.User)
	} else {
		if u.User != "" {
			n += len(u.User) + 1
			if u.Password != "" {
				n += 1 + len(u.Password)
			}
		}
		n += len(u.Host)
		if u.Port != 0 {
			n += 1 + digits(uint64(u.Port))
		}
	}
	if u.Params != "" {
		n += 1 + len(u.Params)
	}
	if u.Headers != "" {
		n += 1 + len(u.Headers)
	}
	return n
}

// Clone returns a deep copy of m that shares no memory with it that either
// could modify: headers and body are copied; strings, being immutable, are
// shared.
func (m *Message) Clone() *Message {
	c := *m
	c.Headers = append(c.inline[:0], m.Headers...)
	if m.Body != nil {
		c.Body = append([]byte(nil), m.Body...)
	}
	return &c
}
