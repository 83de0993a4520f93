package sip

import "strings"

// BranchMagic is the prefix of every RFC 3261 branch (§8.1.1.7).
const BranchMagic = "z9hG4bK"

// Via is one Via header field value (RFC 3261 §20.42).
type Via struct {
	Protocol  string // protocol name, "SIP"
	Version   string // "2.0"
	Transport string // "UDP", "TCP", "TLS", "SCTP", "WS", "WSS" or an extension token
	Host      string // sent-by host; IPv6 references keep their brackets
	Port      int    // sent-by port, 0 when absent
	Params    Params // via-params: branch, received, rport, maddr, ttl …
}

// Branch returns the branch parameter.
func (v *Via) Branch() string { return v.Params.Value("branch") }

// ParseVia parses a single Via value: sent-protocol LWS sent-by *(;via-params).
// LWS is allowed around '/' and ':' (RFC 3261 §25.1 SLASH, COLON).
func ParseVia(s string) (Via, error) {
	v, i, err := parseSentBy(s)
	if err != nil {
		return v, err
	}
	if i < len(s) {
		if s[i] != ';' {
			return v, errorf("unexpected %q after sent-by", s[i])
		}
		v.Params = Params(s[i+1:])
		if err := checkViaParams(string(v.Params)); err != nil {
			return v, err
		}
	}
	return v, nil
}

// parseSentBy reads sent-protocol and sent-by, which is all a response needs
// to be routed, and returns the offset where the parameters start.
func parseSentBy(s string) (v Via, end int, err error) {
	i := skipLWS(s, 0)
	var parts [3]string
	for n := 0; n < 3; n++ {
		j := scanToken(s, i)
		if j == i {
			return v, 0, errorf("malformed sent-protocol")
		}
		parts[n] = s[i:j]
		i = skipLWS(s, j)
		if n < 2 {
			if i >= len(s) || s[i] != '/' {
				return v, 0, errorf("malformed sent-protocol")
			}
			i = skipLWS(s, i+1)
		}
	}
	v.Protocol, v.Version, v.Transport = parts[0], parts[1], parts[2]
	// sent-by
	start := i
	if i < len(s) && s[i] == '[' {
		j := strings.IndexByte(s[i:], ']')
		if j < 0 || !validIPv6(s[i+1:i+j]) {
			return v, 0, errorf("malformed IPv6 sent-by")
		}
		i += j + 1
	} else {
		for i < len(s) && charClass[s[i]]&cHost != 0 {
			i++
		}
	}
	if i == start {
		return v, 0, errorf("missing sent-by host")
	}
	v.Host = s[start:i]
	i = skipLWS(s, i)
	if i < len(s) && s[i] == ':' {
		i = skipLWS(s, i+1)
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		p, ok := parseUint(s[i:j], 65535)
		if !ok {
			return v, 0, errorf("malformed sent-by port")
		}
		v.Port = int(p)
		i = skipLWS(s, j)
	}
	return v, i, nil
}

// checkViaParams checks via-params in one pass: the generic-param grammar
// and the value grammar of ttl, rport, received and branch (RFC 3261 §20.42,
// RFC 3581, RFC 5118 §4.5).
func checkViaParams(s string) error { return walkHeaderParams(s, checkViaParam) }

func checkViaParam(n, v string) error {
	switch {
	case equalFold(n, "branch"):
		if !isTokenString(v) {
			return errorf("malformed branch")
		}
	case equalFold(n, "ttl"):
		if _, ok := parseUint(v, 255); !ok {
			return errorf("ttl must be 0-255")
		}
	case equalFold(n, "rport"):
		if _, ok := parseUint(v, 65535); !ok && v != "" {
			return errorf("malformed rport")
		}
	case equalFold(n, "received"):
		if _, ok := HostAddr(v); !ok {
			return errorf("received is not an IP address")
		}
	}
	return nil
}

// String returns the wire form of v.
func (v Via) String() string { return string(v.AppendTo(nil)) }

// AppendTo appends the wire form of v to b.
func (v *Via) AppendTo(b []byte) []byte {
	b = append(b, v.Protocol...)
	b = append(b, '/')
	b = append(b, v.Version...)
	b = append(b, '/')
	b = append(b, v.Transport...)
	b = append(b, ' ')
	b = append(b, v.Host...)
	if v.Port != 0 {
		b = append(b, ':')
		b = appendUint(b, uint64(v.Port))
	}
	if v.Params != "" {
		b = append(b, ';')
		b = append(b, v.Params...)
	}
	return b
}
