// Package sdp negotiates the single audio stream of a SIP call with the
// SDP offer/answer model (RFC 3264, RFC 4566): codecs with RTP payload types
// (RFC 3551), telephone-event for DTMF (RFC 4733), media direction and hold
// (RFC 3264 §8.4), and SRTP keys exchanged in a=crypto lines (SDES,
// RFC 4568). Bodies are parsed with github.com/pion/sdp/v3 after a lenient
// clean-up (see Parse) and written by hand with CRLF line endings.
//
// An Endpoint is our side of one session; it keeps the o= line's session id
// and version and our SRTP key across re-INVITEs. Every exchange yields a
// Negotiated: where to send RTP, with which codec and keys, in which
// direction. Offers and answers we cannot use give errors wrapping
// ErrNotAcceptable, which a UA turns into 488 Not Acceptable Here.
//
//	caller := &sdp.Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), DTMF: 101}
//	callee := &sdp.Endpoint{Addr: netip.MustParseAddrPort("192.0.2.2:5000"), DTMF: 101}
//
//	offer, err := caller.Offer(sdp.SendRecv) // the INVITE's body
//	answer, atCallee, err := callee.Answer(offer, sdp.SendRecv)
//	if errors.Is(err, sdp.ErrNotAcceptable) {
//		// reply 488 Not Acceptable Here
//	}
//	atCaller, err := caller.Accept(answer) // the 200 OK's body
//	// atCaller.Codec is PCMU (0), atCaller.Remote 192.0.2.2:5000,
//	// atCallee.Remote 192.0.2.1:4000, both Direction SendRecv, DTMF 101.
//
// To hold, offer SendOnly (the peer answers RecvOnly); to resume, offer
// SendRecv again.
package sdp
