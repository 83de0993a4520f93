package sip

import (
	"net/netip"
	"strings"
)

// URI is a SIP, SIPS or tel URI, or an absolute URI of any other scheme
// (RFC 3261 §19.1, §25.1; RFC 3966). Fields hold the text as written, %-escapes
// included, so a parsed URI serializes back to the same bytes (the port is
// kept as a number, so leading zeros are not). Parsing never allocates.
type URI struct {
	Scheme   string // as written: "sip", "sips", "tel" or another scheme
	User     string // user or telephone-subscriber, still %-escaped; tel: the number
	Password string // still %-escaped
	Host     string // hostname, IPv4 address or IPv6 reference with brackets
	Port     int    // 0 when absent
	Params   Params // uri-parameters, without the leading ';'
	Headers  string // hname=hvalue pairs joined by '&', without the '?'
	Opaque   string // for other schemes: everything after "scheme:"
}

// IsSIP reports whether the scheme is sip or sips.
func (u *URI) IsSIP() bool { return equalFold(u.Scheme, "sip") || equalFold(u.Scheme, "sips") }

// IsSecure reports whether the scheme is sips.
func (u *URI) IsSecure() bool { return equalFold(u.Scheme, "sips") }

// IsTel reports whether the scheme is tel (RFC 3966).
func (u *URI) IsTel() bool { return equalFold(u.Scheme, "tel") }

// IsZero reports whether u is the zero URI.
func (u *URI) IsZero() bool { return u.Scheme == "" }

// ParseURI parses an absolute URI. sip and sips URIs are checked against the
// full RFC 3261 grammar, tel URIs against RFC 3966 loosely; other schemes need
// only a valid scheme and a non-empty opaque part without white space.
func ParseURI(s string) (URI, error) {
	var u URI
	if err := u.parse(s); err != nil {
		return URI{}, err
	}
	return u, nil
}

// parse fills the zero URI u from s; on error u is left partly filled.
func (u *URI) parse(s string) error {
	i := 0
	for i < len(s) && s[i] != ':' {
		c := s[i]
		alpha := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !(alpha || (i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.'))) {
			return &SyntaxError{What: "URI", Msg: "malformed scheme in " + quoteShort(s)}
		}
		i++
	}
	if i == 0 || i == len(s) {
		return &SyntaxError{What: "URI", Msg: "missing scheme in " + quoteShort(s)}
	}
	u.Scheme = s[:i]
	rest := s[i+1:]
	switch {
	case u.IsSIP():
		if err := parseSIPURI(u, rest); err != nil {
			return &SyntaxError{What: "URI", Msg: err.(*SyntaxError).Msg + " in " + quoteShort(s)}
		}
	case u.IsTel():
		j := strings.IndexByte(rest, ';')
		if j < 0 {
			j = len(rest)
		}
		u.User = rest[:j]
		if u.User == "" || !validTelNumber(u.User) {
			return &SyntaxError{What: "URI", Msg: "malformed telephone number in " + quoteShort(s)}
		}
		if j < len(rest) {
			u.Params = Params(rest[j+1:])
			if err := checkURIParams(string(u.Params)); err != nil {
				return &SyntaxError{What: "URI", Msg: err.(*SyntaxError).Msg + " in " + quoteShort(s)}
			}
		}
	default:
		if rest == "" {
			return &SyntaxError{What: "URI", Msg: "empty URI " + quoteShort(s)}
		}
		for k := 0; k < len(rest); k++ {
			if c := rest[k]; c <= ' ' || c == '<' || c == '>' || c == '"' || c >= 0x7f {
				return &SyntaxError{What: "URI", Msg: "illegal character in " + quoteShort(s)}
			}
		}
		u.Opaque = rest
	}
	return nil
}

func parseSIPURI(u *URI, s string) error {
	// userinfo: everything up to '@'. '@' cannot occur unescaped later in a
	// valid URI, and the user part may hold ';' and '?' (RFC 4475 §3.1.1.9).
	if at := strings.IndexByte(s, '@'); at >= 0 {
		ui := s[:at]
		s = s[at+1:]
		user, pass, hasPass := strings.Cut(ui, ":")
		if user == "" {
			return errorf("empty user part")
		}
		for i := 0; i < len(user); i++ {
			c := user[i]
			if c == '%' {
				if !validEscape(user, i) {
					return errorf("bad %%-escape in user part")
				}
				continue
			}
			if charClass[c]&(cUnres|cUserUnr) == 0 {
				return errorf("illegal character %q in user part", c)
			}
		}
		if hasPass {
			for i := 0; i < len(pass); i++ {
				c := pass[i]
				if c == '%' {
					if !validEscape(pass, i) {
						return errorf("bad %%-escape in password")
					}
					continue
				}
				if charClass[c]&(cUnres|cPassUnr) == 0 {
					return errorf("illegal character %q in password", c)
				}
			}
		}
		u.User, u.Password = user, pass
	}
	// hostport
	i := 0
	if i < len(s) && s[i] == '[' {
		j := strings.IndexByte(s, ']')
		if j < 0 || !validIPv6(s[1:j]) {
			return errorf("malformed IPv6 reference")
		}
		i = j + 1
	} else {
		for i < len(s) && charClass[s[i]]&cHost != 0 {
			i++
		}
		if i == 0 {
			return errorf("missing host")
		}
	}
	u.Host = s[:i]
	if i < len(s) && s[i] == ':' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		p, ok := parseUint(s[i+1:j], 65535)
		if !ok {
			return errorf("malformed port")
		}
		u.Port = int(p)
		i = j
	}
	if i < len(s) && s[i] == ';' {
		j := i + 1
		for j < len(s) && s[j] != '?' {
			j++
		}
		u.Params = Params(s[i+1 : j])
		if err := checkURIParams(string(u.Params)); err != nil {
			return err
		}
		i = j
	}
	if i < len(s) && s[i] == '?' {
		u.Headers = s[i+1:]
		if err := checkURIHeaders(u.Headers); err != nil {
			return err
		}
		i = len(s)
	}
	if i != len(s) {
		return errorf("unexpected %q after host", s[i])
	}
	return nil
}

func validEscape(s string, i int) bool {
	return i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])
}

// checkURIParams validates uri-parameters: pname [ "=" pvalue ], both made of
// paramchar (RFC 3261 §25.1).
func checkURIParams(s string) error {
	for rest := s; ; {
		p, more, found := strings.Cut(rest, ";")
		rest = more
		name, value, hasValue := strings.Cut(p, "=")
		if name == "" {
			return errorf("empty URI parameter")
		}
		if !validParamChars(name) || (hasValue && (value == "" || !validParamChars(value))) {
			return errorf("malformed URI parameter %q", p)
		}
		if !found {
			return nil
		}
	}
}

func validParamChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if !validEscape(s, i) {
				return false
			}
			continue
		}
		if charClass[c]&(cUnres|cParamUnr) == 0 {
			return false
		}
	}
	return true
}

func checkURIHeaders(s string) error {
	for rest := s; ; {
		h, more, found := strings.Cut(rest, "&")
		rest = more
		name, value, ok := strings.Cut(h, "=")
		if name == "" || !ok {
			return errorf("malformed URI header %q", h)
		}
		for _, part := range [2]string{name, value} {
			for i := 0; i < len(part); i++ {
				c := part[i]
				if c == '%' {
					if !validEscape(part, i) {
						return errorf("bad %%-escape in URI header %q", h)
					}
					continue
				}
				if charClass[c]&(cUnres|cHnvUnr) == 0 {
					return errorf("illegal character %q in URI header", c)
				}
			}
		}
		if !found {
			return nil
		}
	}
}

func validTelNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isHex(c) || strings.IndexByte("+-.()*#%", c) >= 0) {
			return false
		}
	}
	return true
}

// validIPv6 checks the text between the brackets of an IPv6 reference. It
// tolerates the three-colon form that RFC 3261's ABNF admits (RFC 5118 §4.10).
func validIPv6(s string) bool {
	_, ok := parseIPv6(s)
	return ok
}

func parseIPv6(s string) (netip.Addr, bool) {
	// RFC 3261's hexpart "::" followed by ":" IPv4address gives three colons
	// only directly before a dotted quad (RFC 5118 §4.10); "2001:db8:::10"
	// matches neither RFC 3261 nor RFC 4291 and stays invalid.
	if k := strings.Index(s, ":::"); k >= 0 && strings.IndexByte(s[k+3:], ':') < 0 && strings.IndexByte(s[k+3:], '.') >= 0 {
		s = s[:k+2] + s[k+3:]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// HostAddr returns the IP address a host names when it is an IPv4 address or
// an IPv6 reference (brackets optional), and false for a domain name.
func HostAddr(host string) (netip.Addr, bool) {
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		return parseIPv6(host[1 : len(host)-1])
	}
	if strings.IndexByte(host, ':') >= 0 {
		return parseIPv6(host)
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// String returns the URI as it appears on the wire.
func (u URI) String() string { return string(u.AppendTo(nil)) }

// AppendTo appends the wire form of u to b.
func (u *URI) AppendTo(b []byte) []byte {
	b = append(b, u.Scheme...)
	b = append(b, ':')
	if u.Opaque != "" {
		return append(b, u.Opaque...)
	}
	if u.IsTel() {
		b = append(b, u.User...)
	} else {
		if u.User != "" {
			b = append(b, u.User...)
			if u.Password != "" {
				b = append(b, ':')
				b = append(b, u.Password...)
			}
			b = append(b, '@')
		}
		b = append(b, u.Host...)
		if u.Port != 0 {
			b = append(b, ':')
			b = appendUint(b, uint64(u.Port))
		}
	}
	if u.Params != "" {
		b = append(b, ';')
		b = append(b, u.Params...)
	}
	if u.Headers != "" {
		b = append(b, '?')
		b = append(b, u.Headers...)
	}
	return b
}

// Unescape decodes %HH escapes (RFC 3261 §19.1.2). Malformed escapes are kept
// literally. It allocates only when s holds an escape.
func Unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && validEscape(s, i) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// escapedEqual compares two escaped strings by their unescaped octets,
// optionally ignoring ASCII case, without allocating. An escaped reserved
// character is not equivalent to the character itself: only characters
// outside the RFC 2396 "reserved" set are equivalent to their "%" HEX HEX
// encoding (RFC 3261 §19.1.4), so "%3B" equals "%3b" but not ";".
func escapedEqual(a, b string, fold bool) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		var x, y byte
		var ex, ey bool
		x, ex, i = decodeAt(a, i)
		y, ey, j = decodeAt(b, j)
		if fold && x|0x20 >= 'a' && x|0x20 <= 'z' {
			x |= 0x20
			y |= 0x20
		}
		if x != y || ex != ey {
			return false
		}
	}
	return i == len(a) && j == len(b)
}

// decodeAt returns the octet at offset i of s, decoding a %-escape, whether
// it was an escaped reserved character, and the offset that follows.
func decodeAt(s string, i int) (c byte, escReserved bool, next int) {
	if s[i] == '%' && validEscape(s, i) {
		c = unhex(s[i+1])<<4 | unhex(s[i+2])
		return c, strings.IndexByte(";/?:@&=+$,", c) >= 0, i + 3
	}
	return s[i], false, i + 1
}

// Equal compares two URIs by the rules of RFC 3261 §19.1.4: user and password
// case-sensitively, everything else case-insensitively, escapes decoded
// except that an escaped reserved character ("%3B") never equals the
// character itself (";"); a port, or a user, ttl, method, maddr or transport
// parameter present in one must be present and equal in the other; other
// parameters are compared only when both carry them; URI headers must match
// in full. tel URIs and other schemes compare by their unescaped text (the
// tel rules of RFC 3966 §4, which ignore visual separators, are not applied).
func (u *URI) Equal(v *URI) bool {
	if !equalFold(u.Scheme, v.Scheme) {
		return false
	}
	if u.Opaque != "" || v.Opaque != "" {
		return escapedEqual(u.Opaque, v.Opaque, false)
	}
	if !escapedEqual(u.User, v.User, false) || !escapedEqual(u.Password, v.Password, false) {
		return false
	}
	if !escapedEqual(u.Host, v.Host, true) || u.Port != v.Port {
		return false
	}
	if !paramsMatch(u.Params, v.Params) || !paramsMatch(v.Params, u.Params) {
		return false
	}
	return headersMatch(u.Headers, v.Headers) && headersMatch(v.Headers, u.Headers)
}

func paramsMatch(a, b Params) bool {
	get := b.Get
	if len(a) > 256 && len(b) > 256 {
		// Long lists: index b once instead of scanning it per parameter.
		idx := map[string]string{}
		for n, v := range b.All() {
			if _, dup := idx[strings.ToLower(n)]; !dup {
				idx[strings.ToLower(n)] = v
			}
		}
		get = func(n string) (string, bool) { v, ok := idx[strings.ToLower(n)]; return v, ok }
	}
	for n, va := range a.All() {
		vb, ok := get(n)
		if !ok {
			switch strings.ToLower(n) {
			case "user", "ttl", "method", "maddr", "transport":
				return false
			}
			continue
		}
		if !escapedEqual(va, vb, true) {
			return false
		}
	}
	return true
}

func headersMatch(a, b string) bool {
	if a == "" {
		return true
	}
	// Split b once; index it by unescaped lower-case name when long.
	bs := strings.Split(b, "&")
	var idx map[string]string
	if len(bs) > 16 {
		idx = make(map[string]string, len(bs))
		for _, g := range bs {
			gn, vb, _ := strings.Cut(g, "=")
			k := strings.ToLower(Unescape(gn))
			if _, dup := idx[k]; !dup {
				idx[k] = vb
			}
		}
	}
	for h := range strings.SplitSeq(a, "&") {
		name, va, _ := strings.Cut(h, "=")
		found := false
		if idx != nil {
			vb, ok := idx[strings.ToLower(Unescape(name))]
			found = ok && escapedEqual(va, vb, false)
		} else {
			for _, g := range bs {
				gn, vb, _ := strings.Cut(g, "=")
				if escapedEqual(name, gn, true) {
					found = escapedEqual(va, vb, false)
					break
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "\"" + s + "\""
}
