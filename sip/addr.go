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
	sp, err := splitAddress(s)
	if err != nil {
		return a, err
	}
	if sp.quoted {
		a.Display = Unquote(sp.display)
	} else {
		a.Display = sp.display
	}
	u, err := ParseURI(sp.uri)
	if err != nil {
		return a, err
	}
	if !sp.angle && (u.Headers != "" || u.Params != "") {
		return a, errorf("URI with parameters or headers must be enclosed in <>")
	}
	a.URI = u
	if sp.semi {
		a.Params = Params(sp.params)
		if err := checkHeaderParams(sp.params); err != nil {
			return a, err
		}
	}
	return a, nil
}

// addressParts is an address split into its pieces, none of them checked.
type addressParts struct {
	display string // as written; with its quotes when quoted
	quoted  bool
	angle   bool   // name-addr: the URI was in <>
	uri     string // between the brackets, or the addr-spec
	semi    bool   // a ';' introduced header parameters
	params  string // after that ';'
}

// splitAddress finds the display name, URI and header parameters of a
// name-addr or addr-spec (RFC 3261 §20.10, §25.1) without parsing the URI.
// In the addr-spec form every ';' after the host starts a header parameter.
func splitAddress(s string) (addressParts, error) {
	var a addressParts
	s = trimLWS(s)
	if s == "" {
		return a, errorf("empty address")
	}
	angle := -1
	switch {
	case s[0] == '"':
		j := scanQuoted(s, 0)
		if j < 0 {
			return a, errorf("unterminated quoted display name")
		}
		a.display, a.quoted = s[:j], true
		i := skipLWS(s, j)
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
				a.display = trimLWS(s[:k])
				angle = k
				break
			}
			j = k
		}
	}
	rest := 0
	if angle >= 0 {
		end := strings.IndexByte(s[angle:], '>')
		if end < 0 {
			return a, errorf("missing '>'")
		}
		end += angle
		a.angle, a.uri = true, s[angle+1:end]
		rest = skipLWS(s, end+1)
		if rest < len(s) && s[rest] != ';' {
			return a, errorf("unexpected %q after <URI>", s[rest])
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
		a.uri = s[:uriEnd]
		rest = skipLWS(s, uriEnd)
		if rest < len(s) && s[rest] != ';' {
			return a, errorf("unexpected %q after URI", s[rest])
		}
	}
	if rest < len(s) {
		a.semi, a.params = true, s[rest+1:]
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
