package sdp

// Direction is an SDP media direction (RFC 3264 §5.1, §6.1; RFC 4566 §6).
//
// The zero value "" is treated as SendRecv, the SDP default when no
// direction attribute is present. Any other value than the four constants
// is invalid: Sends and Receives report false for it and Offer and Answer
// refuse it.
type Direction string

// The four media directions of RFC 4566 §6 / RFC 3264 §5.1.
const (
	// SendRecv: media flows both ways (the default).
	SendRecv Direction = "sendrecv"
	// SendOnly: this side only sends (e.g. it has put the peer on hold).
	SendOnly Direction = "sendonly"
	// RecvOnly: this side only receives.
	RecvOnly Direction = "recvonly"
	// Inactive: no media either way (RTCP still flows).
	Inactive Direction = "inactive"
)

// norm maps "" to SendRecv and reports whether d is one of the four
// directions.
func (d Direction) norm() (Direction, bool) {
	switch d {
	case "":
		return SendRecv, true
	case SendRecv, SendOnly, RecvOnly, Inactive:
		return d, true
	}
	return d, false
}

// Valid reports whether d is "" or one of the four direction constants.
func (d Direction) Valid() bool {
	_, ok := d.norm()
	return ok
}

// Sends reports whether the side holding direction d sends media
// (SendRecv, SendOnly, or "").
func (d Direction) Sends() bool {
	n, _ := d.norm()
	return n == SendRecv || n == SendOnly
}

// Receives reports whether the side holding direction d receives media
// (SendRecv, RecvOnly, or "").
func (d Direction) Receives() bool {
	n, _ := d.norm()
	return n == SendRecv || n == RecvOnly
}

// Reverse is the direction seen from the other side: SendOnly and RecvOnly
// swap, SendRecv and Inactive stay, "" becomes SendRecv. An invalid
// direction is returned unchanged.
func (d Direction) Reverse() Direction {
	n, ok := d.norm()
	if !ok {
		return d
	}
	switch n {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return n
}

// Intersect is the direction an answerer may answer with when d was offered
// and the answerer wants want (RFC 3264 §6.1): the answerer sends only if it
// wants to and the offerer receives, and receives only if it wants to and the
// offerer sends. So sendonly offered gives recvonly or inactive, recvonly
// offered gives sendonly or inactive, inactive offered gives inactive, and
// sendrecv offered gives want. Invalid directions count as Inactive.
//
// The same rule gives the offerer's effective direction once the answer is
// in: answered.Intersect(offered).
func (d Direction) Intersect(want Direction) Direction {
	return direction(want.Sends() && d.Receives(), want.Receives() && d.Sends())
}

// direction builds the Direction with the given send and receive flags.
func direction(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}
