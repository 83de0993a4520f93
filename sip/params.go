package sip

import (
	"iter"
	"strings"
)

// Params is a parameter list as it appears on the wire, without the leading
// semicolon: "transport=tcp;lr" or "branch=z9hG4bK776;received=192.0.2.1".
// It is kept raw so that unknown parameters are forwarded byte for byte;
// lookups scan it without allocating. Names compare case-insensitively
// (RFC 3261 §7.3.1); values are returned as written, quoted strings included.
type Params string

// nextParam reads the parameter at offset i of s and returns its trimmed name
// and value, whether it had "=", and the offset of the next parameter.
func nextParam(s string, i int) (name, value string, hasValue bool, next int) {
	start := i
	// Fast path: no quoted string before the next ';'.
	end := len(s)
	if j := strings.IndexByte(s[i:], ';'); j >= 0 {
		end = i + j
	}
	if seg := s[i:end]; strings.IndexByte(seg, '"') < 0 {
		next = end
		if next < len(s) {
			next++
		}
		if eq := strings.IndexByte(seg, '='); eq >= 0 {
			return trimLWS(seg[:eq]), trimLWS(seg[eq+1:]), true, next
		}
		return trimLWS(seg), "", false, next
	}
	eq := -1
	for i < len(s) {
		c := s[i]
		if c == '"' {
			j := scanQuoted(s, i)
			if j < 0 {
				i = len(s)
				break
			}
			i = j
			continue
		}
		if c == ';' {
			break
		}
		if c == '=' && eq < 0 {
			eq = i
		}
		i++
	}
	next = i
	if next < len(s) {
		next++ // skip ';'
	}
	if eq < 0 {
		return trimLWS(s[start:i]), "", false, next
	}
	return trimLWS(s[start:eq]), trimLWS(s[eq+1 : i]), true, next
}

// Get returns the value of the first parameter called name. ok reports whether
// it is present; a parameter without "=" has an empty value.
func (p Params) Get(name string) (value string, ok bool) {
	s := string(p)
	for i := 0; i < len(s); {
		n, v, _, next := nextParam(s, i)
		if equalFold(n, name) {
			return v, true
		}
		i = next
	}
	return "", false
}

// Value returns the value of parameter name, "" when absent.
func (p Params) Value(name string) string {
	v, _ := p.Get(name)
	return v
}

// Has reports whether parameter name is present.
func (p Params) Has(name string) bool {
	_, ok := p.Get(name)
	return ok
}

// All yields each parameter's name and value in order.
func (p Params) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		s := string(p)
		for i := 0; i < len(s); {
			n, v, _, next := nextParam(s, i)
			if !yield(n, v) {
				return
			}
			i = next
		}
	}
}

// With returns p with parameter name set to value, replacing an existing one
// in place or appending it. An empty value writes the bare name ("lr").
func (p Params) With(name, value string) Params {
	s := string(p)
	for i := 0; i < len(s); {
		n, _, _, next := nextParam(s, i)
		if equalFold(n, name) {
			end := next
			if end < len(s) || (end == len(s) && end > 0 && s[end-1] == ';') {
				end-- // keep the separator that follows
			}
			return Params(s[:i] + formatParam(name, value) + s[end:])
		}
		i = next
	}
	if s == "" {
		return Params(formatParam(name, value))
	}
	return Params(s + ";" + formatParam(name, value))
}

// Without returns p with every parameter called name removed.
func (p Params) Without(name string) Params {
	s := string(p)
	var out strings.Builder
	changed := false
	for i := 0; i < len(s); {
		n, _, _, next := nextParam(s, i)
		end := next
		if end > i && end <= len(s) && s[end-1] == ';' {
			end--
		}
		if equalFold(n, name) {
			changed = true
		} else {
			if out.Len() > 0 {
				out.WriteByte(';')
			}
			out.WriteString(s[i:end])
		}
		i = next
	}
	if !changed {
		return p
	}
	return Params(out.String())
}

func formatParam(name, value string) string {
	if value == "" {
		return name
	}
	return name + "=" + value
}

// checkHeaderParams validates the header parameter list that follows a ';'
// (generic-param: token [ "=" ( token / host / quoted-string ) ]); it must
// not be empty (RFC 3261 §25.1: SEMI is always followed by a parameter).
func checkHeaderParams(s string) error { return walkHeaderParams(s, nil) }

// walkHeaderParams is checkHeaderParams that also hands each parameter to
// each (if not nil) for checks of its own, in one pass.
func walkHeaderParams(s string, each func(name, value string) error) error {
	if s == "" {
		return errorf("parameter list ends with ';'")
	}
	for i := 0; i < len(s); {
		n, v, hasValue, next := nextParam(s, i)
		if !isTokenString(n) {
			return errorf("empty or malformed parameter name %q", n)
		}
		if hasValue && !validGenValue(v) {
			return errorf("malformed value for parameter %q", n)
		}
		if next == len(s) && s[next-1] == ';' {
			return errorf("parameter list ends with ';'")
		}
		if each != nil {
			if err := each(n, v); err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}
func validGenValue(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == '"' {
		return scanQuoted(v, 0) == len(v)
	}
	if v[0] == '[' { // IPv6 reference (RFC 5118 §4.5 allows it in received)
		return v[len(v)-1] == ']' && validIPv6(v[1:len(v)-1])
	}
	for i := 0; i < len(v); i++ {
		if !isToken(v[i]) && v[i] != ':' { // ':' for bare IPv6 in received
			return false
		}
	}
	return true
}
