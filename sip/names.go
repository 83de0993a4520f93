package sip

import "strings"

// hkind identifies a header the stack knows by name. The zero value means
// "not looked up yet"; hOther is any other header.
type hkind uint8

const (
	hNone hkind = iota
	hOther
	hAccept
	hAcceptContact
	hAllow
	hAllowEvents
	hAuthenticationInfo
	hAuthorization
	hCallID
	hContact
	hContentEncoding
	hContentLength
	hContentType
	hCSeq
	hDate
	hEvent
	hExpires
	hFrom
	hIdentity
	hMaxForwards
	hMinExpires
	hPath
	hProxyAuthenticate
	hProxyAuthorization
	hProxyRequire
	hRecordRoute
	hReferTo
	hReferredBy
	hRejectContact
	hRequestDisposition
	hRequire
	hRoute
	hSessionExpires
	hSubject
	hSupported
	hTimestamp
	hTo
	hUnsupported
	hVia
	hWWWAuthenticate
	numKinds
)

// canonicalNames holds the RFC spelling of each known header.
var canonicalNames = [numKinds]string{
	hAccept:             "Accept",
	hAcceptContact:      "Accept-Contact",
	hAllow:              "Allow",
	hAllowEvents:        "Allow-Events",
	hAuthenticationInfo: "Authentication-Info",
	hAuthorization:      "Authorization",
	hCallID:             "Call-ID",
	hContact:            "Contact",
	hContentEncoding:    "Content-Encoding",
	hContentLength:      "Content-Length",
	hContentType:        "Content-Type",
	hCSeq:               "CSeq",
	hDate:               "Date",
	hEvent:              "Event",
	hExpires:            "Expires",
	hFrom:               "From",
	hIdentity:           "Identity",
	hMaxForwards:        "Max-Forwards",
	hMinExpires:         "Min-Expires",
	hPath:               "Path",
	hProxyAuthenticate:  "Proxy-Authenticate",
	hProxyAuthorization: "Proxy-Authorization",
	hProxyRequire:       "Proxy-Require",
	hRecordRoute:        "Record-Route",
	hReferTo:            "Refer-To",
	hReferredBy:         "Referred-By",
	hRejectContact:      "Reject-Contact",
	hRequestDisposition: "Request-Disposition",
	hRequire:            "Require",
	hRoute:              "Route",
	hSessionExpires:     "Session-Expires",
	hSubject:            "Subject",
	hSupported:          "Supported",
	hTimestamp:          "Timestamp",
	hTo:                 "To",
	hUnsupported:        "Unsupported",
	hVia:                "Via",
	hWWWAuthenticate:    "WWW-Authenticate",
}

// compactForms maps the compact header names (RFC 3261 §7.3.3 and the
// extensions registered with IANA) to their kinds.
var compactForms = [26]hkind{
	0:  hAcceptContact,      // a
	1:  hReferredBy,         // b
	2:  hContentType,        // c
	3:  hRequestDisposition, // d
	4:  hContentEncoding,    // e
	5:  hFrom,               // f
	8:  hCallID,             // i
	9:  hRejectContact,      // j
	10: hSupported,          // k
	11: hContentLength,      // l
	12: hContact,            // m
	14: hEvent,              // o
	17: hReferTo,            // r
	18: hSubject,            // s
	19: hTo,                 // t
	20: hAllowEvents,        // u
	21: hVia,                // v
	23: hSessionExpires,     // x
	24: hIdentity,           // y
}

// byShape buckets the known long names by length and lower-cased first
// letter, at most three to a bucket, so that a lookup compares one or two
// strings. TestKindOf checks that every name finds its bucket.
var byShape = func() (t [24][26][3]hkind) {
	for k := hkind(hAccept); k < numKinds; k++ {
		n := canonicalNames[k]
		b := &t[len(n)][n[0]|0x20-'a']
		for i := range b {
			if b[i] == hNone {
				b[i] = k
				break
			}
		}
	}
	return t
}()

// kindOf classifies a header name, long or compact, in any letter case.
func kindOf(name string) hkind {
	if len(name) == 0 || len(name) >= len(byShape) {
		return hOther
	}
	c := name[0] | 0x20
	if c < 'a' || c > 'z' {
		return hOther
	}
	if len(name) == 1 {
		if k := compactForms[c-'a']; k != hNone {
			return k
		}
		return hOther
	}
	b := &byShape[len(name)][c-'a']
	for _, k := range b {
		if k == hNone {
			break
		}
		if foldedEqual(name, lowerNames[k]) {
			return k
		}
	}
	return hOther
}

// lowerNames holds canonicalNames in lower case.
var lowerNames = func() (t [numKinds]string) {
	for k, n := range canonicalNames {
		t[k] = strings.ToLower(n)
	}
	return t
}()

// foldedEqual reports whether name equals lower, a lower-case header name
// made of letters, digits and '-', ignoring the case of name. OR-ing 0x20
// lower-cases letters and leaves '-' and digits alone; no other byte can
// fold onto those, so the comparison is exact. It compares eight bytes at a
// time.
func foldedEqual(name, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	i := 0
	for ; i+8 <= len(name); i += 8 {
		if load64(name, i)|0x2020202020202020 != load64(lower, i) {
			return false
		}
	}
	for ; i < len(name); i++ {
		if name[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// CanonicalName returns the RFC spelling of a known header name, expanding
// compact forms ("v" → "Via", "cSeQ" → "CSeq"); other names are returned
// unchanged.
func CanonicalName(name string) string {
	if k := kindOf(name); k != hOther {
		return canonicalNames[k]
	}
	return name
}
