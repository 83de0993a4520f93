package sip

import "strings"

// Character classes and small scanners for the RFC 3261 §25 grammar.
// Every scanner works on a string and an offset and never allocates.

const (
	cToken    = 1 << iota // token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
	cWord                 // word: token chars plus ( ) < > : \ " / [ ] ? { }
	cUnres                // unreserved: alphanum / mark
	cUserUnr              // user-unreserved: & = + $ , ; ? /
	cPassUnr              // password extra: & = + $ ,
	cParamUnr             // param-unreserved: [ ] / : & + $
	cHnvUnr               // hnv-unreserved: [ ] / ? : + $
	cHost                 // hostname chars: alphanum / "-" / "." / "_" (lenient)
)

var charClass = func() (t [256]uint8) {
	set := func(chars string, c uint8) {
		for i := 0; i < len(chars); i++ {
			t[chars[i]] |= c
		}
	}
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	set(alnum, cToken|cWord|cUnres|cHost)
	set("-.!%*_+`'~", cToken|cWord)
	set("()<>:\\\"/[]?{}", cWord)
	set("-_.!~*'()", cUnres) // RFC 3261 mark
	set("&=+$,;?/", cUserUnr)
	set("&=+$,", cPassUnr)
	set("[]/:&+$", cParamUnr)
	set("[]/?:+$", cHnvUnr)
	set("-._", cHost)
	return t
}()

func isToken(c byte) bool { return charClass[c]&cToken != 0 }
func isWordChar(c byte) bool {
	return charClass[c]&cWord != 0
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}
func isWS(c byte) bool { return c == ' ' || c == '\t' }

// isLWSByte reports whether c may appear inside linear white space, which after
// framing includes the CR and LF of folded lines.
func isLWSByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skipLWS returns the offset of the first byte at or after i that is not LWS.
func skipLWS(s string, i int) int {
	for i < len(s) && isLWSByte(s[i]) {
		i++
	}
	return i
}

// trimLWS removes leading and trailing LWS.
func trimLWS(s string) string {
	i, j := 0, len(s)
	for i < j && isLWSByte(s[i]) {
		i++
	}
	for j > i && isLWSByte(s[j-1]) {
		j--
	}
	return s[i:j]
}

// scanToken returns the end of the token starting at i (i itself if none).
func scanToken(s string, i int) int {
	for i < len(s) && isToken(s[i]) {
		i++
	}
	return i
}

// isTokenString reports whether s is a non-empty RFC 3261 token.
func isTokenString(s string) bool {
	return s != "" && scanToken(s, 0) == len(s)
}

// scanQuoted expects s[i] == '"' and returns the offset just past the closing
// quote, honouring quoted-pairs (RFC 3261 §25.1). It returns -1 if the string
// is not closed.
func scanQuoted(s string, i int) int {
	i++
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return -1
}

// Unquote returns the content of a quoted-string with quoted-pairs resolved.
// A value that is not quoted is returned unchanged. It allocates only when a
// quoted-pair is present.
func Unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	in := s[1 : len(s)-1]
	k := -1
	for i := 0; i < len(in); i++ {
		if in[i] == '\\' {
			k = i
			break
		}
	}
	if k < 0 {
		return in
	}
	b := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		if in[i] == '\\' && i+1 < len(in) {
			i++
		}
		b = append(b, in[i])
	}
	return string(b)
}

// Quote returns s as a quoted-string, escaping '"' and '\'.
func Quote(s string) string {
	return string(appendQuoted(nil, s))
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// nextListItem splits a comma-separated header value (RFC 3261 §7.3.1). It
// returns the item starting at i (untrimmed) and the offset after the comma,
// or len(s) at the end. Commas inside quoted strings and <...> are respected.
// ok is false if a quoted string or angle bracket is not closed.
func nextListItem(s string, i int) (item string, next int, ok bool) {
	start := i
	// Fast path: no quote or '<' before the next comma.
	end := len(s)
	if j := strings.IndexByte(s[i:], ','); j >= 0 {
		end = i + j
	}
	if seg := s[i:end]; strings.IndexByte(seg, '"') < 0 && strings.IndexByte(seg, '<') < 0 {
		if end < len(s) {
			return seg, end + 1, true
		}
		return seg, end, true
	}
	angle := false
	for i < len(s) {
		switch c := s[i]; c {
		case '"':
			j := scanQuoted(s, i)
			if j < 0 {
				return s[start:], len(s), false
			}
			i = j
			continue
		case '<':
			angle = true
		case '>':
			angle = false
		case ',':
			if !angle {
				return s[start:i], i + 1, true
			}
		}
		i++
	}
	return s[start:], len(s), !angle
}

// parseUint parses a decimal number of at most max. It rejects empty input,
// non-digits and overflow.
func parseUint(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 40 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}

// equalFold is an ASCII-only case-insensitive comparison.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

func appendUint(b []byte, n uint64) []byte {
	if n == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}
