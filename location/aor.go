package location

import (
	"strconv"
	"strings"

	"github.com/switchboard-sip/switchboard/sip"
)

// CanonicalAOR returns the index form of an address-of-record (§10.3 step
// 5): "sip:" + user + "@" + host, with URI parameters dropped, the host in
// lower case, escapes of characters that need none resolved and the rest
// written as upper-case %XX, so that equal AORs give equal strings. sips
// and sip name the same AOR.
func CanonicalAOR(u *sip.URI) string {
	var b strings.Builder
	b.Grow(len(u.User) + len(u.Host) + 5)
	b.WriteString("sip:")
	if u.User != "" {
		raw := sip.Unescape(u.User)
		for i := 0; i < len(raw); i++ {
			c := raw[i]
			if userChar(c) {
				b.WriteByte(c)
				continue
			}
			const hexd = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
		b.WriteByte('@')
	}
	b.WriteString(strings.ToLower(u.Host))
	return b.String()
}

// userChar reports whether c may stand unescaped in a SIP URI user part
// (RFC 3261 §25.1: unreserved / user-unreserved).
func userChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0
}

// FormatQ writes a Binding's Q (thousandths) as a q-value (RFC 3261
// §20.10): 1000 → "1", 500 → "0.5", 125 → "0.125", 0 → "0".
func FormatQ(q int) string {
	if q >= 1000 {
		return "1"
	}
	s := strconv.Itoa(1000 + max(q, 0))[1:] // three digits
	s = strings.TrimRight(s, "0")
	if s == "" {
		return "0"
	}
	return "0." + s
}
