package sdp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	pion "github.com/pion/sdp/v3"
)

// ErrNotAcceptable wraps every reason an offer or answer cannot be used: no
// common codec, no usable audio stream, RTP/SAVP required but not offered or
// no usable a=crypto line, RTP/SAVP offered while SRTP is off, and malformed
// SDP (the message says what was malformed). A UA answers an offer refused
// with it with 488 Not Acceptable Here (RFC 3261 §13.3.1.4). Test with
// errors.Is; the package never assigns to it.
var ErrNotAcceptable = errors.New("sdp: not acceptable")

// Format is one RTP payload format of an audio stream (RFC 4566 §6 rtpmap
// and fmtp, RFC 3551 §6 for the static payload types).
type Format struct {
	// PayloadType is the RTP payload type number, 0..127.
	PayloadType uint8
	// Name is the encoding name, e.g. "PCMU", "PCMA", "telephone-event".
	// It is compared case-insensitively. Empty for a dynamic payload type
	// that has no a=rtpmap.
	Name string
	// ClockRate is the RTP clock rate in Hz, e.g. 8000. In Endpoint.Formats
	// 0 means 8000.
	ClockRate uint32
	// Channels is the a=rtpmap encoding parameter (channel count) when it
	// is more than one, e.g. 2 for "opus/48000/2"; 0 means mono and is
	// omitted from a=rtpmap. It is not used to match formats.
	Channels uint8
	// Fmtp is the a=fmtp parameter string, e.g. "0-16" for
	// telephone-event; empty when there is none.
	Fmtp string
}

// rtpmap is the a=rtpmap value of f without the payload type
// ("PCMU/8000", "opus/48000/2").
func (f Format) rtpmap() string {
	s := f.Name + "/" + strconv.FormatUint(uint64(f.ClockRate), 10)
	if f.Channels > 1 {
		s += "/" + strconv.FormatUint(uint64(f.Channels), 10)
	}
	return s
}

// same reports whether f and g are the same encoding (name case-insensitive
// and clock rate); payload types, channels and fmtp are not compared.
func (f Format) same(g Format) bool {
	return f.Name != "" && strings.EqualFold(f.Name, g.Name) && f.ClockRate == g.ClockRate
}

// isDTMF reports whether f is an RFC 4733 telephone-event format.
func (f Format) isDTMF() bool { return strings.EqualFold(f.Name, telephoneEvent) }

const telephoneEvent = "telephone-event"

// staticFormat returns the RFC 3551 §6 (Table 4) default mapping of a static
// audio payload type, used when an m= line lists it without a=rtpmap
// (RFC 3264 §5.1).
func staticFormat(pt uint8) (Format, bool) {
	f := Format{PayloadType: pt, ClockRate: 8000}
	switch pt {
	case 0:
		f.Name = "PCMU"
	case 3:
		f.Name = "GSM"
	case 4:
		f.Name = "G723"
	case 5:
		f.Name = "DVI4"
	case 6:
		f.Name, f.ClockRate = "DVI4", 16000
	case 7:
		f.Name = "LPC"
	case 8:
		f.Name = "PCMA"
	case 9:
		f.Name = "G722" // RTP clock 8000 although sampled at 16000 (RFC 3551 §4.5.2)
	case 10:
		f.Name, f.ClockRate, f.Channels = "L16", 44100, 2
	case 11:
		f.Name, f.ClockRate = "L16", 44100
	case 12:
		f.Name = "QCELP"
	case 13:
		f.Name = "CN"
	case 14:
		f.Name, f.ClockRate = "MPA", 90000
	case 15:
		f.Name = "G728"
	case 16:
		f.Name, f.ClockRate = "DVI4", 11025
	case 17:
		f.Name, f.ClockRate = "DVI4", 22050
	case 18:
		f.Name = "G729"
	default:
		return Format{}, false
	}
	return f, true
}

// Crypto is one SDES a=crypto attribute (RFC 4568 §4, §9.2) as written; only
// its first key parameter is decoded.
type Crypto struct {
	// Tag is the tag as written (RFC 4568 §4.1); the answer echoes it.
	Tag string
	// Suite is the crypto-suite, e.g. "AES_CM_128_HMAC_SHA1_80".
	Suite string
	// Key is the base64-decoded master key||salt of the first inline key
	// (RFC 4568 §6.1), nil when that is missing or not valid base64.
	Key []byte
	// Lifetime is the key's lifetime field as written ("2^20"), or "".
	Lifetime string
	// MKI is the key's "value:length" MKI field as written, or "".
	MKI string
	// KeyParams is the whole key-params field as written.
	KeyParams string
	// Params are the session parameters (RFC 4568 §6.3), e.g. "WSH=64".
	Params []string
}

// Media is one m= section of a Description (RFC 4566 §5.14) with the
// session-level defaults applied.
type Media struct {
	// Type is the media type as written: "audio", "video", "image"...
	Type string
	// Port is the m= port; 0 means the stream is rejected or disabled
	// (RFC 3264 §5.1, §8.2).
	Port int
	// Proto is the transport protocol as written: "RTP/AVP", "RTP/SAVP"...
	Proto string
	// RawFormats are the m= line's <fmt> tokens as written.
	RawFormats []string
	// Formats are the RTP payload formats in m= order with their
	// a=rtpmap and a=fmtp, or the RFC 3551 default for a static payload
	// type without a=rtpmap. A dynamic payload type without a=rtpmap has an
	// empty Name. Tokens that are not payload type numbers are left out.
	Formats []Format
	// Addr is the c= connection address, media-level winning over
	// session-level (RFC 4566 §5.7); 0.0.0.0 means RFC 2543 hold (RFC 3264
	// §8.4). Invalid when there is no c= line or it is not an IP literal.
	Addr netip.Addr
	// Direction is the direction attribute, media-level winning over
	// session-level; SendRecv when there is none (RFC 3264 §5.1).
	Direction Direction
	// Crypto are the media-level a=crypto lines in order (RFC 4568).
	Crypto []Crypto
	// Ptime is a=ptime in milliseconds (RFC 4566 §6), 0 when absent or
	// not a positive number.
	Ptime int
	// RTCP is the a=rtcp address (RFC 3605 §2.1), its address defaulting
	// to Addr; the zero value when there is no a=rtcp.
	RTCP netip.AddrPort
	// RTCPMux reports a=rtcp-mux (RFC 5761 §5.1.1).
	RTCPMux bool
}

// IsAudio reports whether m is an audio stream.
func (m *Media) IsAudio() bool { return strings.EqualFold(m.Type, "audio") }

// Description is a parsed SDP body: its origin and its media streams in
// order.
type Description struct {
	// Username, SessionID and Version are the o= line's fields
	// (RFC 4566 §5.2).
	Username  string
	SessionID uint64
	Version   uint64
	// Timing is the first t= line's value, e.g. "0 0" (RFC 4566 §5.9).
	Timing string
	// Media are the m= sections in order.
	Media []Media
	// Audio is a copy of the first audio stream with a non-zero port, else
	// of the first audio stream; the zero Media (empty Type) when there is
	// no audio stream.
	Audio Media
}

// audio returns the Description.Audio stream of ms.
func audio(ms []Media) Media {
	first := -1
	for i := range ms {
		if !ms[i].IsAudio() {
			continue
		}
		if ms[i].Port != 0 {
			return ms[i]
		}
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return Media{}
	}
	return ms[first]
}

// Parse parses an SDP body (RFC 4566) with pion/sdp after normalising what
// real-world bodies get wrong: LF or CRLF line endings, blank lines, a
// missing final newline, trailing white space, missing s= or t= lines,
// session lines out of order, and m= lines with a media type or transport
// pion does not know (m=image ... udptl, kept as written). Lines this
// package has no use for (i=, u=, e=, p=, b=, r=, z=, k=) are dropped before
// parsing. Every error wraps ErrNotAcceptable and says what was malformed.
func Parse(b []byte) (*Description, error) {
	text, raws, err := normalize(b)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed SDP: %s", ErrNotAcceptable, err)
	}
	var sd pion.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: malformed SDP: %w", ErrNotAcceptable, err)
	}
	if len(sd.MediaDescriptions) != len(raws) {
		return nil, fmt.Errorf("%w: malformed SDP: m= lines do not parse", ErrNotAcceptable)
	}
	d := &Description{
		Username:  sd.Origin.Username,
		SessionID: sd.Origin.SessionID,
		Version:   sd.Origin.SessionVersion,
	}
	if len(sd.TimeDescriptions) > 0 {
		t := sd.TimeDescriptions[0].Timing
		d.Timing = strconv.FormatUint(t.StartTime, 10) + " " + strconv.FormatUint(t.StopTime, 10)
	}
	sessAddr := connAddr(sd.ConnectionInformation)
	sessDir := findDirection(sd.Attributes)
	for i, md := range sd.MediaDescriptions {
		m := Media{
			Type:       raws[i].media,
			Port:       md.MediaName.Port.Value,
			Proto:      raws[i].proto,
			RawFormats: raws[i].fmts,
			Addr:       sessAddr,
			Direction:  SendRecv,
		}
		// RFC 4566 §5.7: a media-level c= overrides the session-level one.
		if md.ConnectionInformation != nil {
			m.Addr = connAddr(md.ConnectionInformation)
		}
		// RFC 3264 §5.1: a direction attribute applies at media or session
		// level, media level first; sendrecv by default.
		if dir := findDirection(md.Attributes); dir != "" {
			m.Direction = dir
		} else if sessDir != "" {
			m.Direction = sessDir
		}
		m.parseAttributes(md.Attributes)
		d.Media = append(d.Media, m)
	}
	d.Audio = audio(d.Media)
	return d, nil
}

// connAddr is the IP address of a c= line without the multicast /ttl and
// /range suffixes; invalid when absent or not an IP literal.
func connAddr(c *pion.ConnectionInformation) netip.Addr {
	if c == nil || c.Address == nil {
		return netip.Addr{}
	}
	s, _, _ := strings.Cut(c.Address.Address, "/")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// findDirection returns the first direction attribute of attrs, or "".
func findDirection(attrs []pion.Attribute) Direction {
	for _, a := range attrs {
		switch d := Direction(strings.ToLower(a.Key)); d {
		case SendRecv, SendOnly, RecvOnly, Inactive:
			return d
		}
	}
	return ""
}

// parseAttributes fills in the formats, crypto lines, ptime and RTCP fields
// of m from its media-level attributes.
func (m *Media) parseAttributes(attrs []pion.Attribute) {
	rtpmaps := map[uint8]Format{}
	fmtps := map[uint8]string{}
	for _, a := range attrs {
		key := strings.ToLower(a.Key)
		val := strings.TrimSpace(a.Value)
		switch key {
		case "rtpmap": // RFC 4566 §6: a=rtpmap:<pt> <name>/<rate>[/<params>]
			if f, ok := parseRtpmap(val); ok {
				if _, dup := rtpmaps[f.PayloadType]; !dup {
					rtpmaps[f.PayloadType] = f
				}
			}
		case "fmtp": // RFC 4566 §6: a=fmtp:<format> <format specific parameters>
			pt, rest, _ := strings.Cut(strings.ReplaceAll(val, "\t", " "), " ")
			if n, ok := parsePT(pt); ok {
				if _, dup := fmtps[n]; !dup {
					fmtps[n] = strings.TrimSpace(rest)
				}
			}
		case "ptime": // RFC 4566 §6: a=ptime:<packet time>
			if m.Ptime == 0 {
				m.Ptime = parsePtime(val)
			}
		case "crypto":
			if c, ok := parseCrypto(val); ok {
				m.Crypto = append(m.Crypto, c)
			}
		case "rtcp": // RFC 3605 §2.1: a=rtcp:<port> [<nettype> <addrtype> <addr>]
			if !m.RTCP.IsValid() {
				m.RTCP = parseRTCP(val, m.Addr)
			}
		case "rtcp-mux":
			m.RTCPMux = true
		}
	}
	for _, tok := range m.RawFormats {
		pt, ok := parsePT(tok)
		if !ok {
			continue
		}
		f, ok := rtpmaps[pt]
		if !ok {
			f, ok = staticFormat(pt)
		}
		if !ok {
			f = Format{PayloadType: pt}
		}
		f.Fmtp = fmtps[pt]
		m.Formats = append(m.Formats, f)
	}
}

// parseRtpmap parses the value of a=rtpmap.
func parseRtpmap(v string) (Format, bool) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return Format{}, false
	}
	n, ok := parsePT(f[0])
	if !ok {
		return Format{}, false
	}
	parts := strings.Split(f[1], "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return Format{}, false
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || rate == 0 {
		return Format{}, false
	}
	fm := Format{PayloadType: n, Name: parts[0], ClockRate: uint32(rate)}
	if len(parts) == 3 {
		ch, err := strconv.ParseUint(parts[2], 10, 8)
		if err != nil {
			return Format{}, false
		}
		if ch > 1 {
			fm.Channels = uint8(ch)
		}
	}
	return fm, true
}

// parsePT parses an RTP payload type number, 0..127 (RFC 3550 §5.1).
func parsePT(s string) (uint8, bool) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n > 127 {
		return 0, false
	}
	return uint8(n), true
}

// parsePtime parses a=ptime; some agents write a decimal ("20.0").
func parsePtime(v string) int {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || x < 1 || x > 10000 {
		return 0
	}
	return int(math.Round(x))
}

// parseRTCP parses the value of a=rtcp (RFC 3605 §2.1); def is the address
// used when the attribute gives only a port.
func parseRTCP(v string, def netip.Addr) netip.AddrPort {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}
	}
	addr := def
	if len(f) == 4 {
		if a, err := netip.ParseAddr(f[3]); err == nil {
			addr = a.Unmap()
		}
	}
	if !addr.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// rawMedia is an m= line's media type, transport and formats as written,
// kept aside because pion only knows some media types and transports.
type rawMedia struct {
	media, proto string
	fmts         []string
}

// pionMedia and pionProto are the media types and transport tokens pion
// accepts on an m= line; others are replaced before parsing and restored
// from rawMedia after.
func pionMedia(s string) bool {
	switch s {
	case "audio", "video", "text", "application", "message":
		return true
	}
	return false
}

func pionProto(s string) bool {
	for p := range strings.SplitSeq(s, "/") {
		switch p {
		case "UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF",
			"TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC":
		default:
			return false
		}
	}
	return true
}

// sessionRank orders the session-level lines pion needs in RFC 4566 §5 order
// (v o s c t a); the others are dropped (rank 0).
func sessionRank(t byte) int {
	switch t {
	case 'v':
		return 1
	case 'o':
		return 2
	case 's':
		return 3
	case 'c':
		return 4
	case 't':
		return 5
	case 'a':
		return 6
	}
	return 0
}

// normalize rewrites an SDP body into the strict form pion parses (see
// Parse) and returns the m= lines as written.
func normalize(b []byte) (string, []rawMedia, error) {
	var lines []string
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			continue
		}
		if len(l) < 2 || l[1] != '=' || l[0] < 'a' || l[0] > 'z' {
			return "", nil, fmt.Errorf("line %d: %q is not <type>=<value> (RFC 4566 §5)", i+1, clip(l))
		}
		if strings.ContainsAny(l, "\r\x00") {
			return "", nil, fmt.Errorf("line %d: control character", i+1)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return "", nil, errors.New("empty body")
	}
	if lines[0] != "v=0" {
		return "", nil, fmt.Errorf("first line %q is not v=0 (RFC 4566 §5.1)", clip(lines[0]))
	}
	// Session-level part: keep the first v, o, s, c, t and all a lines, in
	// RFC 4566 §5 order.
	var sess []string
	seen := map[byte]bool{}
	n := 0
	for ; n < len(lines) && lines[n][0] != 'm'; n++ {
		t := lines[n][0]
		if sessionRank(t) == 0 || (t != 'a' && seen[t]) {
			continue
		}
		seen[t] = true
		sess = append(sess, lines[n])
	}
	if !seen['o'] {
		return "", nil, errors.New("no o= line (RFC 4566 §5.2)")
	}
	if !seen['s'] {
		sess = append(sess, "s=-")
	}
	if !seen['t'] {
		sess = append(sess, "t=0 0")
	}
	slices.SortStableFunc(sess, func(x, y string) int { return sessionRank(x[0]) - sessionRank(y[0]) })

	var out strings.Builder
	for _, l := range sess {
		out.WriteString(l)
		out.WriteString("\r\n")
	}
	// Media sections: the m= line, its first c= line and its a= lines.
	var raws []rawMedia
	hasC := false
	for ; n < len(lines); n++ {
		l := lines[n]
		switch l[0] {
		case 'm':
			f := strings.Fields(l[2:])
			if len(f) < 3 {
				return "", nil, fmt.Errorf("m= line %q has no <media> <port> <proto> (RFC 4566 §5.14)", clip(l))
			}
			raws = append(raws, rawMedia{media: f[0], proto: f[2], fmts: f[3:]})
			if !pionMedia(f[0]) || !pionProto(f[2]) {
				f[0], f[2] = "application", "UDP"
				l = "m=" + strings.Join(f, " ")
			}
			hasC = false
		case 'c':
			if hasC {
				continue
			}
			hasC = true
		case 'a':
		default:
			continue
		}
		out.WriteString(l)
		out.WriteString("\r\n")
	}
	return out.String(), raws, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
