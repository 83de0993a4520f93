package sip

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// NewResponse builds a response to req as RFC 3261 §8.2.6 prescribes: the Via
// headers (all of them, in order), From, To, Call-ID and CSeq are copied;
// Timestamp is copied into 100 Trying (§8.2.6.1); Record-Route is copied into
// 101-299 responses to INVITE, SUBSCRIBE and REFER, which create dialogs
// (§12.1.1, RFC 6665, RFC 3515).
// When To has no tag and code is above 100 a tag is added (§8.2.6.2). The tag
// is derived from the request's transaction identifiers, so every response
// to the same request carries the same tag. An empty reason uses StatusText.
func NewResponse(req *Message, code int, reason string) *Message {
	res := new(Message)
	res.InitResponse(req, code, reason)
	return res
}

// InitResponse makes m the response NewResponse would build, reusing m's
// own storage: whatever m held before is dropped. It lets a server recycle
// response messages once they are sent.
func (m *Message) InitResponse(req *Message, code int, reason string) {
	if reason == "" {
		reason = StatusText(code)
	}
	*m = Message{StatusCode: code, Reason: reason, Version: "SIP/2.0"}
	m.Headers = m.inline[:0]
	dialog := code > 100 && code < 300 && (req.Method == "INVITE" || req.Method == "SUBSCRIBE" || req.Method == "REFER")
	for _, h := range req.Headers {
		switch h.k() {
		case hVia, hFrom, hCallID, hCSeq:
		case hTo:
			if code > 100 && !toHasTag(h.Value) {
				var tag [16]byte
				responseTag(req, &tag)
				h.Value = h.Value + ";tag=" + string(tag[:])
			}
		case hRecordRoute:
			if !dialog {
				continue
			}
		case hTimestamp:
			if code != 100 {
				continue
			}
		default:
			continue
		}
		m.Headers = append(m.Headers, h)
	}
}

// toHasTag reports whether a To value carries a tag parameter. Only the
// parameters after the URI are looked at; the URI itself is not parsed.
func toHasTag(v string) bool {
	if sp, err := splitAddress(v); err == nil {
		return Params(sp.params).Has("tag")
	}
	// Malformed: look for a tag parameter after the URI rather than add a
	// second one.
	if i := strings.LastIndexByte(v, '>'); i >= 0 {
		v = v[i:]
	}
	return strings.Contains(strings.ToLower(v), ";tag=")
}

// responseTag derives a To tag from the request's transaction identity
// (Call-ID, From tag, CSeq, top Via branch and sent-by) with a keyed hash:
// the first 64 bits of SHA-256 over a per-process random key followed by
// those values. It is the same for every response to a request and its
// retransmissions, different for other requests, and unpredictable without
// the key (§19.3 asks for cryptographically random tags); the truncation
// leaves nothing to extend. It returns 16 hex digits in buf.
func responseTag(req *Message, buf *[16]byte) {
	var in [512]byte
	b := append(in[:0], tagKey[:]...)
	add := func(s string) {
		b = append(b, s...)
		b = append(b, 0)
	}
	add(req.CallID())
	if h := req.find(hFrom); h != nil {
		if sp, err := splitAddress(h.Value); err == nil {
			add(Params(sp.params).Value("tag"))
		}
	}
	if h := req.find(hCSeq); h != nil {
		add(h.Value)
	}
	if h := req.find(hVia); h != nil {
		item, _, _ := nextListItem(h.Value, 0)
		if v, end, err := parseSentBy(item); err == nil {
			if end < len(item) && item[end] == ';' {
				add(Params(item[end+1:]).Value("branch"))
			} else {
				add("")
			}
			add(v.Host)
			b = appendUint(b, uint64(v.Port))
		}
	}
	sum := sha256.Sum256(b)
	hex.Encode(buf[:], sum[:8])
}

// tagKey is drawn once per process and never written again.
var tagKey = func() (k [32]byte) {
	rand.Read(k[:])
	return k
}()

// NewRequest builds a request with the headers RFC 3261 §8.1.1 requires of a
// UAC except Via, which the transport adds, and Contact, which a request that
// can create a dialog needs (§8.1.1.8) and the caller adds: To, From,
// Call-ID, CSeq and Max-Forwards (70). from should carry a tag (NewTag).
func NewRequest(method string, target URI, from, to Address, callID string, seq uint32) *Message {
	m := &Message{Method: method, RequestURI: target, Version: "SIP/2.0"}
	m.Headers = m.inline[:0]
	m.Headers = append(m.Headers,
		NewHeader("To", to.String()),
		NewHeader("From", from.String()),
		NewHeader("Call-ID", callID),
		NewHeader("CSeq", CSeq{Seq: seq, Method: method}.String()),
		NewHeader("Max-Forwards", "70"),
	)
	return m
}

// NewBranch returns a fresh RFC 3261 branch: the magic cookie and 26 random
// characters (§8.1.1.7).
func NewBranch() string { return BranchMagic + rand.Text() }

// NewTag returns a fresh random tag for From or To (§19.3).
func NewTag() string { return rand.Text()[:16] }

// NewCallID returns a fresh, globally unique Call-ID (§8.1.1.4).
func NewCallID() string { return rand.Text() }

// StatusText returns the RFC reason phrase for a status code, or a generic
// one for its class.
func StatusText(code int) string {
	if t, ok := statusText[code]; ok {
		return t
	}
	switch {
	case code < 200:
		return "Trying"
	case code < 300:
		return "OK"
	case code < 400:
		return "Redirection"
	case code < 500:
		return "Client Error"
	case code < 600:
		return "Server Error"
	}
	return "Global Failure"
}

var statusText = map[int]string{
	100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
	183: "Session Progress", 199: "Early Dialog Terminated",
	200: "OK", 202: "Accepted", 204: "No Notification",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
	305: "Use Proxy", 380: "Alternative Service",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
	412: "Conditional Request Failed", 413: "Request Entity Too Large",
	414: "Request-URI Too Long", 415: "Unsupported Media Type",
	416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
	421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
	428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
	433: "Anonymity Disallowed", 436: "Bad Identity-Info", 437: "Unsupported Certificate",
	438: "Invalid Identity Header", 439: "First Hop Lacks Outbound Support",
	440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
	480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
	482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
	485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
	493: "Undecipherable", 494: "Security Agreement Required",
	500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
	513: "Message Too Large", 555: "Push Notification Service Not Supported",
	580: "Precondition Failure",
	600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
	606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}
