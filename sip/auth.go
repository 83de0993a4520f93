package sip

import "iter"

// Auth is a challenge (WWW-Authenticate, Proxy-Authenticate) or credentials
// (Authorization, Proxy-Authorization): an auth scheme followed by
// comma-separated auth-params (RFC 3261 §25.1, RFC 7616 §3.3-§3.4, RFC 8760).
// Params is kept raw; Param looks a parameter up and unquotes it.
type Auth struct {
	Scheme string // "Digest", or another scheme as written
	Params string // the auth-param list, raw
}

// ParseAuth parses one challenge or credentials value. Each header line holds
// exactly one: unlike other headers, these are never combined with commas
// (RFC 3261 §7.3.1).
func ParseAuth(s string) (Auth, error) {
	s = trimLWS(s)
	i := scanToken(s, 0)
	if i == 0 {
		return Auth{}, errorf("missing auth scheme")
	}
	a := Auth{Scheme: s[:i], Params: trimLWS(s[i:])}
	if i < len(s) && !isLWSByte(s[i]) {
		return Auth{}, errorf("malformed auth scheme")
	}
	if a.Params == "" || (!equalFold(a.Scheme, "Digest") && isToken68(a.Params)) {
		return a, nil // RFC 7235 token68 credentials (Basic, Bearer)
	}
	for name, value := range a.all() {
		if !isTokenString(name) || value == "" && name != "" {
			return Auth{}, errorf("malformed auth-param %q", name)
		}
		if value[0] == '"' {
			if scanQuoted(value, 0) != len(value) {
				return Auth{}, errorf("malformed quoted value of %q", name)
			}
		} else if !isTokenString(value) && !isToken68(value) {
			return Auth{}, errorf("malformed value of %q", name)
		}
	}
	return a, nil
}

func isToken68(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isToken(c) || c == '/' || c == '=') {
			return false
		}
	}
	return s != ""
}

// all yields each auth-param's name and raw value.
func (a Auth) all() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		s := a.Params
		for i := 0; i < len(s); {
			item, next, _ := nextListItem(s, i)
			i = next
			item = trimLWS(item)
			name, value := item, ""
			for k := 0; k < len(item); k++ {
				if item[k] == '=' {
					name, value = trimLWS(item[:k]), trimLWS(item[k+1:])
					break
				}
			}
			if !yield(name, value) {
				return
			}
		}
	}
}

// All yields each auth-param's name, as written, and its value with quotes
// removed, in order; reading credentials in one pass this way is cheaper
// than a Param call per name.
func (a Auth) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for n, v := range a.all() {
			if !yield(n, Unquote(v)) {
				return
			}
		}
	}
}

// Param returns the value of auth-param name (case-insensitive) with quotes
// removed, and whether it was present.
func (a Auth) Param(name string) (string, bool) {
	for n, v := range a.all() {
		if equalFold(n, name) {
			return Unquote(v), true
		}
	}
	return "", false
}

// String returns the wire form of a.
func (a Auth) String() string {
	if a.Params == "" {
		return a.Scheme
	}
	return a.Scheme + " " + a.Params
}
