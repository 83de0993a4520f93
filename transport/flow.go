// Package transport moves SIP messages over UDP, TCP, TLS and WebSocket
// (RFC 3261 §18, RFC 7118): listeners, outbound connections and their
// reuse, stream framing, keep-alives, and the response routing rules of
// §18.2.2 with RFC 3581 rport. It knows nothing of SIP semantics beyond Via.
package transport

import (
	"net/netip"
	"strings"
)

// Protocol names as they appear in a Via sent-protocol.
const (
	UDP = "UDP"
	TCP = "TCP"
	TLS = "TLS"
	WS  = "WS"
	WSS = "WSS"
)

// Flow names one path a message travels: the transport protocol, the remote
// and local addresses, and for stream transports the connection it uses.
// A Flow of a received request is where its responses go back (§18.2.2); a
// Flow given to SendRequest is where a request should go.
type Flow struct {
	Proto  string // UDP, TCP, TLS, WS or WSS
	Remote netip.AddrPort
	Local  netip.AddrPort
	// Conn identifies the stream connection a message arrived on or left
	// by; 0 for UDP, or when any connection to Remote will do.
	Conn uint64
	// Name is, for a TLS or WSS connection opened toward this flow, the
	// host name the peer's certificate must match (RFC 5922 §7.2: the
	// domain of the SIP URI, or the SRV target's domain, not the address
	// it resolved to). Empty means Remote's address is checked instead.
	Name string
}

// Reliable reports whether the protocol is a stream (no retransmissions,
// §17.1.1.2, §17.1.2.2).
func (f Flow) Reliable() bool { return Reliable(f.Proto) }

// Reliable reports whether a transport protocol name is reliable.
func Reliable(proto string) bool { return !strings.EqualFold(proto, UDP) && proto != "" }

// String returns "UDP 192.0.2.1:5060".
func (f Flow) String() string { return f.Proto + " " + f.Remote.String() }
