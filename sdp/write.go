package sdp

import (
	"strconv"
	"strings"
)

// stream is one m= section of a body we send.
type stream struct {
	media string
	port  int // 0: rejected, only the m= line is written (RFC 3264 §6)
	proto string
	fmts  []string // the m= formats of a rejected stream, as offered

	formats []Format // accepted or offered stream
	ptime   int
	dir     Direction
	crypto  string // a=crypto value, "" for none
}

// write appends the m= section to b.
func (s stream) write(b *strings.Builder) {
	b.WriteString("m=" + s.media + " " + strconv.Itoa(s.port) + " " + s.proto)
	if s.port == 0 {
		// RFC 3264 §6: formats of a rejected stream are ignored but at
		// least one must be present (RFC 4566 §5.14).
		fmts := s.fmts
		if len(fmts) == 0 {
			fmts = []string{"0"}
		}
		b.WriteString(" " + strings.Join(fmts, " ") + "\r\n")
		return
	}
	for _, f := range s.formats {
		b.WriteString(" " + strconv.Itoa(int(f.PayloadType)))
	}
	b.WriteString("\r\n")
	// RFC 3264 §5.1, §6.1: rtpmap for every format, static ones included.
	for _, f := range s.formats {
		pt := strconv.Itoa(int(f.PayloadType))
		b.WriteString("a=rtpmap:" + pt + " " + f.rtpmap() + "\r\n")
		if f.Fmtp != "" {
			b.WriteString("a=fmtp:" + pt + " " + f.Fmtp + "\r\n")
		}
	}
	b.WriteString("a=ptime:" + strconv.Itoa(s.ptime) + "\r\n")
	b.WriteString("a=" + string(s.dir) + "\r\n")
	if s.crypto != "" {
		b.WriteString("a=crypto:" + s.crypto + "\r\n")
	}
}

// render builds a body with our o=, s=, c= and the given t= value and
// streams, CRLF-terminated. RFC 3264 §8: the o= version increments exactly
// when the body differs from the previous one we produced.
func (e *Endpoint) render(timing string, streams []stream) []byte {
	addr := e.Addr.Addr().Unmap().WithZone("")
	family := "IP4"
	if addr.Is6() {
		family = "IP6"
	}
	var b strings.Builder
	b.WriteString("s=" + sessionName + "\r\n")
	b.WriteString("c=IN " + family + " " + addr.String() + "\r\n")
	b.WriteString("t=" + timing + "\r\n")
	for _, s := range streams {
		s.write(&b)
	}
	rest := b.String()
	if e.version == 0 || rest != e.lastBody {
		e.version++
		e.lastBody = rest
	}
	user := e.Username
	if user == "" {
		user = "-"
	}
	user = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, user)
	head := "v=0\r\no=" + user + " " + strconv.FormatUint(e.sessionID, 10) + " " +
		strconv.FormatUint(e.version, 10) + " IN " + family + " " + addr.String() + "\r\n"
	return []byte(head + rest)
}
