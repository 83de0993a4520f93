// Package siptest holds SIP messages and helpers shared by tests and
// benchmarks: typical messages as a phone sends them, so that every
// benchmark, ours and the side-by-side ones under bench/, parses the same
// bytes.
package siptest

// Invite is a typical INVITE with an SDP offer, as a softphone sends it to
// a proxy: 9 headers that matter plus a few others, and a 2-codec SDP body.
const Invite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n" +
	"Supported: replaces, timer\r\n" +
	"User-Agent: Switchboard-Bench/1.0\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: " + inviteSDPLen + "\r\n" +
	"\r\n" + InviteSDP

// InviteSDP is the body of Invite.
const InviteSDP = "v=0\r\n" +
	"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.101\r\n" +
	"t=0 0\r\n" +
	"m=audio 49172 RTP/AVP 0 8 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=sendrecv\r\n"

const inviteSDPLen = "241"

// Register is a REGISTER carrying digest credentials (RFC 3261 §10.2,
// RFC 7616 with SHA-256).
const Register = "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n" +
	"Call-ID: 843817637684230@998sdasdh09\r\n" +
	"CSeq: 1826 REGISTER\r\n" +
	"Contact: <sip:bob@192.0.2.4;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n" +
	"Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", " +
	"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:registrar.biloxi.example.com\", " +
	"response=\"245f23415f11432b3434341c022\", algorithm=SHA-256, qop=auth, nc=00000001, " +
	"cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n" +
	"User-Agent: Switchboard-Bench/1.0\r\n" +
	"Expires: 3600\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"

// OK is a 200 OK to Invite, with Record-Route and an SDP answer's headers
// but no body, as a proxy relays it.
const OK = "SIP/2.0 200 OK\r\n" +
	"Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5060\r\n" +
	"Record-Route: <sip:server10.biloxi.example.com;lr>\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:bob@192.0.2.4>\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"
