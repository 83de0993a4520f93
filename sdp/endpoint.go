package sdp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// defaultPtime is the packetization interval we ask for and assume when the
// peer gives no a=ptime (RFC 3551 §4.5: 20 ms for the sample-based codecs).
const defaultPtime = 20

// sessionName is the s= line of the bodies we send (RFC 4566 §5.3).
const sessionName = "switchboard"

// Endpoint is our side of one audio session across all its offers and
// answers (RFC 3264). Fill in the exported fields, then call Offer (and
// Accept with the answer) or Answer as the SIP dialog requires; the fields
// may change between calls (a new Addr after a network change...).
//
// The o= line's session id is chosen at random on first use and never
// changes; its version is 1 in the first body and increments by one
// whenever a body we produce differs from the previous one (RFC 3264 §8).
// With SRTP, our master key is made once (crypto/rand) and used in every
// offer and answer.
//
// An Endpoint must not be copied after first use, and its methods must not
// be called concurrently: the UA serialises offer/answer exchanges anyway
// (RFC 3264 §4, RFC 3261 §14.1).
type Endpoint struct {
	// Addr is our RTP address for the c= and m= lines (c=IN IP4 or IN IP6
	// by its family); RTCP is on port+1. It must be valid with a non-zero
	// port.
	Addr netip.AddrPort
	// Formats are the audio codecs we support in preference order; nil
	// means PCMU (0) then PCMA (8). PayloadType is what we offer (a
	// dynamic one may be renumbered to keep the session's payload type
	// mapping stable, RFC 3264 §8.3.2); ClockRate 0 means 8000. It must
	// not contain telephone-event: use DTMF.
	Formats []Format
	// DTMF is the RFC 4733 telephone-event payload type we offer, 0 for
	// none (typically 101), at the clock rate of the first format with
	// fmtp 0-16. In answers we use the offerer's number; any non-zero
	// value enables telephone-event there.
	DTMF uint8
	// SRTP selects RTP/SAVP with an a=crypto AES_CM_128_HMAC_SHA1_80 inline
	// key (RFC 4568) in our offers, and refuses offers and answers without
	// a usable one. Off: RTP/AVP, and RTP/SAVP offers are refused.
	SRTP bool
	// Username is the o= username; "-" when empty. White space and control
	// characters are replaced by "_".
	Username string

	sessionID uint64           // o= <sess-id>, 0 until first use
	version   uint64           // o= <sess-version> of the last body, 0 before any
	lastBody  string           // the last body without its v= and o= lines
	key       []byte           // our SRTP master key||salt, made once
	pending   *offerState      // our last offer, for Accept
	peerPT    map[uint8]Format // payload type mappings the peer has used
}

// offerState is what Accept needs to know about our last offer.
type offerState struct {
	proto   string
	codecs  []Format // with the payload types offered
	dtmf    Format
	hasDTMF bool
	dir     Direction
	tag     string // our a=crypto tag, "" without SRTP
}

// Negotiated is what one completed offer/answer exchange decided, from our
// side.
type Negotiated struct {
	// Remote is where to send RTP: the peer's c= address and m= port. It
	// is the zero value when the peer's address is 0.0.0.0 or :: (RFC 3264
	// §8.4 hold: send neither RTP nor RTCP).
	Remote netip.AddrPort
	// RemoteRTCP is where to send RTCP: a=rtcp (RFC 3605) when present,
	// else Remote's port+1 (RFC 3264 §5.1); zero when Remote is.
	RemoteRTCP netip.AddrPort
	// Codec is the codec we send with: the first format of the answer that
	// we support, with the peer's payload type number (RFC 3264 §5.1, §7)
	// and Fmtp, and the Name spelled as in our Formats.
	Codec Format
	// DTMF is the telephone-event payload type to send with (the peer's
	// number), 0 when not agreed.
	DTMF uint8
	// Direction is OUR direction: whether we send and/or receive.
	Direction Direction
	// SendKey and RecvKey are the SRTP master key||salt (KeyLen bytes
	// each) for what we send (ours, from our a=crypto) and what we receive
	// (the peer's); nil with plain RTP. The suite is CryptoSuite.
	SendKey, RecvKey []byte
	// Ptime is the packetization interval to send with in ms: the peer's
	// a=ptime, else 20.
	Ptime int
	// RecvFormats are the formats the peer may send us, with the payload
	// type numbers that will be in the packets (RFC 3264 §6.1: the
	// answerer sends with the offer's numbers): Codec's format first,
	// telephone-event last when agreed.
	RecvFormats []Format
}

// Key returns a copy of our SRTP master key||salt (KeyLen bytes), making it
// if need be, or nil when SRTP is off.
func (e *Endpoint) Key() []byte {
	if !e.SRTP {
		return nil
	}
	e.init()
	return slices.Clone(e.key)
}

// init makes the session id and, with SRTP, the master key on first use.
func (e *Endpoint) init() {
	for e.sessionID == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		// RFC 4566 §5.2: a numeric string; keep it below 2^62 so that
		// agents parsing it as a signed 64-bit number are happy.
		e.sessionID = binary.BigEndian.Uint64(b[:]) >> 2
	}
	if e.SRTP && e.key == nil {
		e.key = newKey()
	}
}

// codecs validates the configuration and returns our codecs with defaults
// applied.
func (e *Endpoint) codecs() ([]Format, error) {
	if !e.Addr.IsValid() || e.Addr.Port() == 0 {
		return nil, fmt.Errorf("sdp: endpoint address %q is not an IP address with a non-zero port", e.Addr)
	}
	fs := slices.Clone(e.Formats)
	if fs == nil {
		fs = []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, {PayloadType: 8, Name: "PCMA", ClockRate: 8000}}
	}
	if len(fs) == 0 {
		return nil, errors.New("sdp: endpoint has no formats")
	}
	seen := map[uint8]bool{}
	for i := range fs {
		f := &fs[i]
		if f.ClockRate == 0 {
			f.ClockRate = 8000
		}
		switch {
		case f.PayloadType > 127:
			return nil, fmt.Errorf("sdp: format %q: payload type %d is above 127", f.Name, f.PayloadType)
		case f.Name == "" || strings.ContainsAny(f.Name, "/ \t\r\n"):
			return nil, fmt.Errorf("sdp: format %d: invalid encoding name %q", f.PayloadType, f.Name)
		case f.isDTMF():
			return nil, fmt.Errorf("sdp: format %d: telephone-event belongs in Endpoint.DTMF", f.PayloadType)
		case strings.ContainsAny(f.Fmtp, "\r\n"):
			return nil, fmt.Errorf("sdp: format %q: fmtp contains a line break", f.Name)
		case seen[f.PayloadType]:
			return nil, fmt.Errorf("sdp: payload type %d used twice", f.PayloadType)
		}
		seen[f.PayloadType] = true
	}
	if e.DTMF != 0 && (e.DTMF > 127 || seen[e.DTMF]) {
		return nil, fmt.Errorf("sdp: DTMF payload type %d is invalid or already used by a codec", e.DTMF)
	}
	return fs, nil
}

// assign picks the payload types of our offer: those configured, except
// that a dynamic one the peer has bound to another encoding in this session
// is replaced by the peer's number for the same encoding or a free one
// (RFC 3264 §8.3.2: a dynamic payload type's mapping must not change).
func (e *Endpoint) assign(codecs []Format) (out []Format, dtmf Format, hasDTMF bool) {
	want := slices.Clone(codecs)
	if e.DTMF != 0 {
		// RFC 4733 §2.1: the telephone-event clock rate should be the
		// audio codec's.
		want = append(want, Format{PayloadType: e.DTMF, Name: telephoneEvent, ClockRate: codecs[0].ClockRate, Fmtp: "0-16"})
	}
	used := map[uint8]bool{}
	keep := make([]bool, len(want))
	for i, f := range want {
		p, bound := e.peerPT[f.PayloadType]
		if f.PayloadType < 96 || !bound || p.same(f) {
			keep[i] = true
			used[f.PayloadType] = true
		}
	}
	for i := range want {
		if keep[i] {
			continue
		}
		want[i].PayloadType = e.freePT(want[i], used)
		used[want[i].PayloadType] = true
	}
	if e.DTMF != 0 {
		return want[:len(want)-1], want[len(want)-1], true
	}
	return want, Format{}, false
}

// freePT returns the lowest unused payload type the peer has bound to f's
// encoding, else the lowest dynamic one neither side uses, else f's own.
func (e *Endpoint) freePT(f Format, used map[uint8]bool) uint8 {
	for pt := range uint8(128) {
		if p, ok := e.peerPT[pt]; ok && !used[pt] && p.same(f) {
			return pt
		}
	}
	for pt := uint8(96); pt < 128; pt++ {
		if _, ok := e.peerPT[pt]; !ok && !used[pt] {
			return pt
		}
	}
	return f.PayloadType
}

// learn records the payload type mappings the peer used.
func (e *Endpoint) learn(fs []Format) {
	if e.peerPT == nil {
		e.peerPT = map[uint8]Format{}
	}
	for _, f := range fs {
		if f.Name != "" {
			e.peerPT[f.PayloadType] = f
		}
	}
}

// Offer returns an SDP offer (RFC 3264 §5) for one audio stream in
// direction dir ("" = SendRecv; SendOnly to put the peer on hold, RFC 3264
// §8.4) and remembers it for Accept. Its formats are Formats then
// telephone-event when DTMF is set, with a=ptime:20 and, with SRTP, RTP/SAVP
// and a=crypto:1. It fails only on an invalid dir or configuration.
func (e *Endpoint) Offer(dir Direction) ([]byte, error) {
	d, ok := dir.norm()
	if !ok {
		return nil, fmt.Errorf("sdp: invalid direction %q", dir)
	}
	codecs, err := e.codecs()
	if err != nil {
		return nil, err
	}
	e.init()
	st := &offerState{proto: "RTP/AVP", dir: d}
	st.codecs, st.dtmf, st.hasDTMF = e.assign(codecs)
	s := stream{media: "audio", port: int(e.Addr.Port()), formats: slices.Clone(st.codecs), ptime: defaultPtime, dir: d}
	if st.hasDTMF {
		s.formats = append(s.formats, st.dtmf)
	}
	if e.SRTP {
		// RFC 4568 §7.1.1: RTP/SAVP with our crypto line.
		st.proto, st.tag = "RTP/SAVP", "1"
		s.crypto = cryptoLine(st.tag, e.key)
	}
	s.proto = st.proto
	body := e.render("0 0", []stream{s})
	e.pending = st
	return body, nil
}

// choice is how we would accept an offered audio stream.
type choice struct {
	codec   Format // as offered
	name    string // our spelling of codec.Name
	dtmf    Format // as offered
	hasDTMF bool
	crypto  *Crypto // the offered line we accept; nil with plain RTP
}

// evalOffer decides whether and how we can accept the offered audio stream
// m, or says why not.
func (e *Endpoint) evalOffer(m *Media, codecs []Format) (choice, error) {
	var ch choice
	if m.Port == 0 {
		return ch, errors.New("stream is disabled (port 0)")
	}
	var secure bool
	switch strings.ToUpper(m.Proto) {
	case "RTP/AVP", "RTP/AVPF":
	case "RTP/SAVP", "RTP/SAVPF":
		secure = true
	default:
		return ch, fmt.Errorf("transport %q is not supported", clip(m.Proto))
	}
	if secure && !e.SRTP {
		return ch, fmt.Errorf("%s offered but SRTP is off", clip(m.Proto))
	}
	// An SRTP endpoint takes RTP/AVP only with a=crypto lines ("best
	// effort" SRTP as some agents offer it); a plain one ignores them.
	if !secure && e.SRTP && len(m.Crypto) == 0 {
		return ch, fmt.Errorf("SRTP is required but %s without a=crypto offered", clip(m.Proto))
	}
	if !m.Addr.IsValid() {
		return ch, errors.New("no c= line with an IP address")
	}
	if m.Addr.IsMulticast() {
		return ch, errors.New("multicast streams are not supported")
	}
	// RFC 3264 §6.1: use the offerer's most preferred format we support,
	// with its payload type number.
	found := false
	for _, f := range m.Formats {
		if f.isDTMF() {
			continue
		}
		if i := slices.IndexFunc(codecs, f.same); i >= 0 {
			ch.codec, ch.name, found = f, codecs[i].Name, true
			break
		}
	}
	if !found {
		return ch, fmt.Errorf("no common codec (offered %s)", formatList(m.Formats))
	}
	if e.DTMF != 0 {
		ch.dtmf, ch.hasDTMF = pickDTMF(m.Formats, ch.codec.ClockRate)
	}
	if e.SRTP {
		// RFC 4568 §7.1.2: accept the first valid line we support.
		var why []string
		for i := range m.Crypto {
			c := &m.Crypto[i]
			if err := c.usable(); err != nil {
				if len(why) < 4 { // keep the message short
					why = append(why, "a=crypto:"+c.Tag+": "+err.Error())
				}
				continue
			}
			ch.crypto = c
			break
		}
		if ch.crypto == nil {
			if len(why) == 0 {
				return ch, errors.New("no a=crypto line")
			}
			return ch, fmt.Errorf("no usable a=crypto line (%s)", strings.Join(why, "; "))
		}
	}
	return ch, nil
}

// pickDTMF returns the telephone-event format of fs with the given clock
// rate (RFC 4733 §2.1), else the first telephone-event format.
func pickDTMF(fs []Format, rate uint32) (Format, bool) {
	var first *Format
	for i := range fs {
		f := &fs[i]
		if !f.isDTMF() || f.PayloadType == 0 {
			continue
		}
		if f.ClockRate == rate {
			return *f, true
		}
		if first == nil {
			first = f
		}
	}
	if first == nil {
		return Format{}, false
	}
	return *first, true
}

// formatList describes formats for an error message.
func formatList(fs []Format) string {
	if len(fs) == 0 {
		return "nothing"
	}
	const most = 8
	var s []string
	for i, f := range fs {
		if i == most {
			s = append(s, "...")
			break
		}
		if f.Name == "" {
			s = append(s, strconv.Itoa(int(f.PayloadType)))
		} else {
			s = append(s, clip(f.rtpmap()))
		}
	}
	return strings.Join(s, " ")
}

// peerDirection is the direction of the peer's stream m, with an RFC 2543
// hold address (c=0.0.0.0) counting as "do not send to me" (RFC 3264 §8.4).
func peerDirection(m *Media) Direction {
	d := m.Direction
	if m.Addr.IsUnspecified() {
		d = direction(d.Sends(), false)
	}
	return d
}

// remote fills in the transport addresses of n from the peer's stream m.
func (n *Negotiated) remote(m *Media) {
	if m.Addr.IsUnspecified() || m.Port == 0 {
		return // RFC 3264 §8.4: send neither RTP nor RTCP
	}
	n.Remote = netip.AddrPortFrom(m.Addr, uint16(m.Port))
	switch {
	case m.RTCP.IsValid(): // RFC 3605 §2.1
		n.RemoteRTCP = m.RTCP
	case m.Port < 65535: // RFC 3264 §5.1: the port one higher
		n.RemoteRTCP = netip.AddrPortFrom(m.Addr, uint16(m.Port+1))
	}
}

// Answer answers a received offer (RFC 3264 §6) with direction dir ("" =
// SendRecv; SendOnly when we have put the call on hold...) intersected with
// the offered one (RFC 3264 §6.1, see Direction.Intersect). An offer with
// c=0.0.0.0 (RFC 2543 hold) counts as not receiving, so a sendrecv one is
// answered recvonly.
//
// The first offered audio stream we can accept is accepted; every other
// stream (video, further audio, ...) is rejected with port 0, its media
// type, transport and formats copied, so the answer keeps the offer's m=
// line count and order (RFC 3264 §6). The accepted stream uses the offer's
// transport and payload type numbers, and lists the chosen codec (the first
// offered format we support) then telephone-event if offered and DTMF is
// set; it echoes a=ptime (20 when the offer has none) and, with SRTP,
// answers the first offered a=crypto line with suite CryptoSuite, a
// KeyLen-byte inline key, no MKI and no session parameter we cannot honour,
// with the same tag and our own key (RFC 4568 §7.1.2).
//
// Malformed SDP and offers we cannot accept give an error wrapping
// ErrNotAcceptable (answer 488); an invalid dir or configuration gives
// another error. On error nothing changes.
func (e *Endpoint) Answer(offer []byte, dir Direction) ([]byte, Negotiated, error) {
	want, ok := dir.norm()
	if !ok {
		return nil, Negotiated{}, fmt.Errorf("sdp: invalid direction %q", dir)
	}
	codecs, err := e.codecs()
	if err != nil {
		return nil, Negotiated{}, err
	}
	d, err := Parse(offer)
	if err != nil {
		return nil, Negotiated{}, err
	}
	idx := -1
	var ch choice
	var why error
	for i := range d.Media {
		m := &d.Media[i]
		if !m.IsAudio() {
			continue
		}
		c, err := e.evalOffer(m, codecs)
		if err != nil {
			if why == nil {
				why = fmt.Errorf("%w: audio stream %d: %s", ErrNotAcceptable, i+1, err)
			}
			continue
		}
		idx, ch = i, c
		break
	}
	if idx < 0 {
		if why == nil {
			why = fmt.Errorf("%w: no audio stream offered", ErrNotAcceptable)
		}
		return nil, Negotiated{}, why
	}
	e.init()
	m := &d.Media[idx]
	n := Negotiated{
		Codec:     ch.codec,
		Direction: peerDirection(m).Intersect(want),
		Ptime:     m.Ptime,
	}
	n.Codec.Name = ch.name
	n.RecvFormats = []Format{n.Codec}
	n.remote(m)
	if n.Ptime == 0 {
		n.Ptime = defaultPtime
	}
	s := stream{
		media:   m.Type,
		port:    int(e.Addr.Port()),
		proto:   m.Proto,
		formats: []Format{ch.codec},
		ptime:   n.Ptime,
		dir:     n.Direction,
	}
	if ch.hasDTMF {
		n.DTMF = ch.dtmf.PayloadType
		n.RecvFormats = append(n.RecvFormats, ch.dtmf)
		s.formats = append(s.formats, ch.dtmf)
	}
	if ch.crypto != nil {
		s.crypto = cryptoLine(ch.crypto.Tag, e.key)
		n.SendKey, n.RecvKey = slices.Clone(e.key), slices.Clone(ch.crypto.Key)
	}
	streams := make([]stream, len(d.Media))
	for i := range d.Media {
		if i == idx {
			streams[i] = s
			continue
		}
		o := &d.Media[i]
		streams[i] = stream{media: o.Type, proto: o.Proto, fmts: o.RawFormats}
	}
	timing := d.Timing
	if timing == "" {
		timing = "0 0"
	}
	body := e.render(timing, streams) // RFC 3264 §6: t= equals the offer's
	e.learn(m.Formats)
	return body, n, nil
}

// Accept takes the answer to our last Offer (RFC 3264 §7) and returns what
// it decided. The answer's first m= line must accept our audio stream with
// our transport, at least one of our codecs and, with SRTP, a usable
// a=crypto line with our tag (RFC 4568 §7.1.3); otherwise the error wraps
// ErrNotAcceptable (the UA should then end or renegotiate the session).
// Calling Accept before any Offer is an error. On error nothing changes.
func (e *Endpoint) Accept(answer []byte) (Negotiated, error) {
	p := e.pending
	if p == nil {
		return Negotiated{}, errors.New("sdp: accept without an offer")
	}
	d, err := Parse(answer)
	if err != nil {
		return Negotiated{}, err
	}
	if len(d.Media) == 0 {
		return Negotiated{}, fmt.Errorf("%w: answer has no m= line", ErrNotAcceptable)
	}
	m := &d.Media[0]
	switch {
	case !m.IsAudio():
		return Negotiated{}, fmt.Errorf("%w: answer's m= line is %q, not audio", ErrNotAcceptable, clip(m.Type))
	case m.Port == 0:
		return Negotiated{}, fmt.Errorf("%w: audio stream rejected by the answerer (port 0)", ErrNotAcceptable)
	case !strings.EqualFold(m.Proto, p.proto):
		return Negotiated{}, fmt.Errorf("%w: answer's transport %q is not the offered %s", ErrNotAcceptable, clip(m.Proto), p.proto)
	case !m.Addr.IsValid():
		return Negotiated{}, fmt.Errorf("%w: answer has no c= line with an IP address", ErrNotAcceptable)
	}
	n := Negotiated{Direction: peerDirection(m).Intersect(p.dir), Ptime: m.Ptime}
	// RFC 3264 §7: send with the first format of the answer (that we
	// offered), using the answer's payload type number (§5.1).
	found := false
	for _, f := range m.Formats {
		if f.isDTMF() {
			continue
		}
		i := slices.IndexFunc(p.codecs, f.same)
		if i < 0 {
			continue
		}
		if !found {
			n.Codec, found = f, true
			n.Codec.Name = p.codecs[i].Name
		}
		if !slices.ContainsFunc(n.RecvFormats, p.codecs[i].same) {
			n.RecvFormats = append(n.RecvFormats, p.codecs[i])
		}
	}
	if !found {
		return Negotiated{}, fmt.Errorf("%w: answer has none of the offered codecs (answered %s)", ErrNotAcceptable, formatList(m.Formats))
	}
	if p.hasDTMF {
		if f, ok := pickDTMF(m.Formats, n.Codec.ClockRate); ok {
			n.DTMF = f.PayloadType
			n.RecvFormats = append(n.RecvFormats, p.dtmf)
		}
	}
	if p.tag != "" {
		i := slices.IndexFunc(m.Crypto, func(c Crypto) bool { return c.Tag == p.tag })
		if i < 0 {
			return Negotiated{}, fmt.Errorf("%w: answer has no a=crypto line with tag %s", ErrNotAcceptable, p.tag)
		}
		if err := m.Crypto[i].usable(); err != nil {
			return Negotiated{}, fmt.Errorf("%w: answer's a=crypto:%s: %s", ErrNotAcceptable, p.tag, err)
		}
		n.SendKey, n.RecvKey = slices.Clone(e.key), slices.Clone(m.Crypto[i].Key)
	}
	n.remote(m)
	if n.Ptime == 0 {
		n.Ptime = defaultPtime
	}
	e.learn(m.Formats)
	return n, nil
}
