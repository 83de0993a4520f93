// Package sip is Switchboard's SIP wire format: it parses, validates, builds
// and serializes SIP messages (RFC 3261 §7, §19, §20, §25) and nothing else —
// no sockets, goroutines or clocks.
//
// # Parsing
//
// Parse frames one datagram; StreamReader (or FrameStream and ParseStream)
// frames messages arriving over TCP or TLS by their Content-Length, answers
// nothing itself but reports CRLF keep-alives. Both refuse anything longer
// than MaxMessageSize (64 KiB) without buffering it.
//
//	m, err := sip.Parse(datagram)
//	if err != nil {
//		// not a SIP message at all: drop it
//	}
//
// Parsing works on offsets into the received buffer, which the Message takes
// over: it splits it into a start line, headers in their original order and a
// body without copying, so parsing a typical INVITE takes one allocation. Headers
// keep their names and values as written (compact forms, case, folding),
// so a proxy forwards the header values it does not touch byte for byte
// (AppendTo normalises only the separators to "Name: value" CRLF, the
// Request-URI's port and Content-Length). Typed accessors
// read the headers the stack needs on demand, without allocating:
//
//	via, err := m.Via()          // top Via: transport, sent-by, branch …
//	from, err := m.From()        // Address: display name, URI, tag
//	cseq, err := m.CSeq()        // {Seq, Method}
//	for c, err := range m.Contacts() { … }
//
// URI, Address, Via, CSeq and Auth (digest challenges and credentials, RFC
// 7616 and RFC 8760) have parsers of their own for use elsewhere. URI.Equal
// implements the comparison rules of RFC 3261 §19.1.4.
//
// # Validating
//
// Parse rejects only what it cannot frame. Whether a framed message is
// acceptable is a separate decision, made by Policy.Check for an element in
// a given Role (user agent, proxy or registrar): it returns the response RFC
// 3261 owes the message — 400, 416, 420, 483, 505, 501 … — or tells a
// response or ACK to be dropped. This is where the RFC 4475 and RFC 5118
// torture messages get their verdicts.
//
//	p := sip.Policy{Role: sip.RoleProxy}
//	if v := p.Check(m); !v.OK() {
//		if res := v.Response(m); res != nil {
//			send(res.Bytes())
//		}
//		return
//	}
//
// # Building
//
// NewResponse builds a response from a request as RFC 3261 §8.2.6 says
// (Via, From, To with a tag, Call-ID and CSeq copied); NewRequest builds a
// request with the headers §8.1.1 requires. AppendTo serializes into a
// caller's buffer without allocating, always stating the true
// Content-Length; MarshalSize tells how many bytes that takes.
package sip
