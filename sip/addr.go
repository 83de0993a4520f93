package sip

import "strings"

// Address is a name-addr or addr-spec with header parameters, the value of
// From, To, Contact, Route, Record-Route, Path and similar headers
// (RFC 3261 §20.10, §25.1).
type Address struct {
	Display string // display name, quotes removed and quoted-pairs resolved
	URI     URI
	Params  Params // header parameters after the URI: tag, expires, q …
}

// Tag returns the tag parameter (From, To).
func (a *Address) Tag() string { return a.Params.Value("tag") }

// ParseAddress parses one name-addr or addr-spec with its parameters. In the
// addr-spec form (no angle brackets) every ';' after the host starts a header
// parameter, never a URI parameter, and URI headers ('?') are not allowed
// (RFC 3261 §20.10).
func ParseAddress(s string) (Address, error) {
	var a Address
	s = trimLWS(s)
	if s == "" {
		return a, errorf("empty address")
	}
	i := 0
	angle := -1
	semi := false // a ';' introduced header parameters
	switch {
	case s[0] == '"':
		j := scanQuoted(s, 0)
		if j < 0 {
			return a, errorf("unterminated quoted display name")
		}
		a.Display = Unquote(s[:j])
		i = skipLWS(s, j)
		if i >= len(s) || s[i] != '<' {
			return a, errorf("display name not followed by <URI>")
		}
		angle = i
	case s[0] == '<':
		angle = 0
	default:
		// A display name made of tokens and LWS, then '<' (LWS before '<' is
		// optional: RFC 4475 §3.1.1.6).
		for j := 0; j < len(s); {
			k := scanToken(s, j)
			if k == j {
				break
			}
			k = skipLWS(s, k)
			if k < len(s) && s[k] == '<' {
				a.Display = trimLWS(s[:k])
				angle = k
				break
			}
			j = k
		}
	}
	if angle >= 0 {
		end := strings.IndexByte(s[angle:], '>')
		if end < 0 {
			return a, errorf("missing '>'")
		}
		end += angle
		u, err := ParseURI(s[angle+1 : end])
		if err != nil {
			return a, err
		}
		a.URI = u
		rest := skipLWS(s, end+1)
		if rest < len(s) {
			if s[rest] != ';' {
				return a, errorf("unexpected %q after <URI>", s[rest])
			}
			a.Params = Params(s[rest+1:])
			semi = true
		}
	} else {
		// addr-spec
		uriEnd := len(s)
		from := 0
		if c := strings.IndexByte(s, ':'); c > 0 && isSIPScheme(s[:c]) {
			// The user part may hold ';', so the URI ends at the first ';'
			// after the '@'. That '@' comes before any '"': userinfo has no
			// quotes, and a header parameter value with '@' must be quoted.
			head := s
			if q := strings.IndexByte(s, '"'); q >= 0 {
				head = s[:q]
			}
			if at := strings.IndexByte(head, '@'); at >= 0 {
				from = at
			}
		}
		if k := strings.IndexAny(s[from:], "; \t\r\n"); k >= 0 {
			uriEnd = from + k
		}
		u, err := ParseURI(s[:uriEnd])
		if err != nil {
			return a, err
		}
		if u.Headers != "" || u.Params != "" {
			return a, errorf("URI with parameters or headers must be enclosed in <>")
		}
		a.URI = u
		rest := skipLWS(s, uriEnd)
		if rest < len(s) {
			if s[rest] != ';' {
				return a, errorf("unexpected %q after URI", s[rest])
			}
			a.Params = Params(s[rest+1:])
			semi = true
		}
	}
	if semi {
		if err := checkHeaderParams(string(a.Params)); err != nil {
			return a, err
		}
	}
	return a, nil
}

func isSIPScheme(s string) bool { return equalFold(s, "sip") || equalFold(s, "sips") }

// String returns the name-addr form of a.
func (a Address) String() string { return string(a.AppendTo(nil)) }

// AppendTo appends a in name-addr form: ["display"] <URI> [;params].
func (a *Address) AppendTo(b []byte) []byte {
	if a.Display != "" {
		if isTokenList(a.Display) {
			b = append(b, a.Display...)
		} else {
			b = appendQuoted(b, a.Display)
		}
		b = append(b, ' ')
	}
	b = append(b, '<')
	b = a.URI.AppendTo(b)
	b = append(b, '>')
	if a.Params != "" {
		b = append(b, ';')
		b = append(b, a.Params...)
	}
	return b
}

// isTokenList reports whether s is tokens separated by single spaces, which
// may be written without quotes.
func isTokenList(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) && !(s[i] == ' ' && s[i-1] != ' ') {
			return false
		}
	}
	return true
}
