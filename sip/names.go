package sip

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
	'a' - 'a': hAcceptContact,
	'b' - 'a': hReferredBy,
	'c' - 'a': hContentType,
	'd' - 'a': hRequestDisposition,
	'e' - 'a': hContentEncoding,
	'f' - 'a': hFrom,
	'i' - 'a': hCallID,
	'j' - 'a': hRejectContact,
	'k' - 'a': hSupported,
	'l' - 'a': hContentLength,
	'm' - 'a': hContact,
	'o' - 'a': hEvent,
	'r' - 'a': hReferTo,
	's' - 'a': hSubject,
	't' - 'a': hTo,
	'u' - 'a': hAllowEvents,
	'v' - 'a': hVia,
	'x' - 'a': hSessionExpires,
	'y' - 'a': hIdentity,
}

// byLength buckets the known names by length for a quick lookup.
var byLength = func() (t [24][]hkind) {
	for k := hkind(hAccept); k < numKinds; k++ {
		n := len(canonicalNames[k])
		t[n] = append(t[n], k)
	}
	return t
}()

// kindOf classifies a header name, long or compact, in any letter case.
func kindOf(name string) hkind {
	if len(name) == 1 {
		c := name[0] | 0x20
		if c >= 'a' && c <= 'z' {
			if k := compactForms[c-'a']; k != hNone {
				return k
			}
		}
		return hOther
	}
	if len(name) >= len(byLength) {
		return hOther
	}
	for _, k := range byLength[len(name)] {
		if equalFold(name, canonicalNames[k]) {
			return k
		}
	}
	return hOther
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
