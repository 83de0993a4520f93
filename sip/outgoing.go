package sip

// CheckOutgoing reports what in a message built in memory would make its
// wire form mean something else to the receiver: a start line or header
// that CR, LF or other control characters would split (header injection),
// a header name that is not a token, a Request-URI with white space. The
// transport calls it before sending, so that a value taken from outside
// cannot smuggle headers or a second message.
func CheckOutgoing(m *Message) error {
	if m.IsRequest() {
		if !isTokenString(m.Method) {
			return &SyntaxError{What: "Request-Line", Msg: "method " + quoteShort(m.Method) + " is not a token"}
		}
		if hasCtlOrSpace(m.RequestTarget()) {
			return &SyntaxError{What: "Request-URI", Msg: "white space or control characters in " + quoteShort(m.RequestTarget())}
		}
	} else if m.StatusCode < 100 || m.StatusCode > 699 || hasCtl(m.Reason) {
		return &SyntaxError{What: "Status-Line", Msg: "bad status code or reason phrase"}
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		if !isTokenString(h.Name) {
			return &SyntaxError{What: "header", Msg: "name " + quoteShort(h.Name) + " is not a token"}
		}
		if err := checkControls(h.Value); err != nil {
			return inHeader(h.Name, err)
		}
		if n := len(h.Value); n > 0 && (h.Value[n-1] == '\r' || h.Value[n-1] == '\n') {
			return &SyntaxError{What: h.Name, Msg: "value ends in a line break"}
		}
	}
	return nil
}

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

func hasCtlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
