package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// lines returns the lines of body starting with prefix.
func lines(body []byte, prefix string) []string {
	var out []string
	for _, l := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// mlines returns the m= lines of body.
func mlines(body []byte) []string { return lines(body, "m=") }

func mustParse(t *testing.T, body []byte) *Description {
	t.Helper()
	d, err := Parse(body)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, body)
	}
	return d
}

func pair() (a, b *Endpoint) {
	a = &Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), DTMF: 101, Username: "alice"}
	b = &Endpoint{Addr: netip.MustParseAddrPort("192.0.2.2:5000"), DTMF: 101, Username: "bob"}
	return a, b
}

// exchange runs one offer/answer from a to b.
func exchange(t *testing.T, a, b *Endpoint, offerDir, answerDir Direction) (offer, answer []byte, na, nb Negotiated) {
	t.Helper()
	offer, err := a.Offer(offerDir)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	answer, nb, err = b.Answer(offer, answerDir)
	if err != nil {
		t.Fatalf("Answer: %v\n%s", err, offer)
	}
	na, err = a.Accept(answer)
	if err != nil {
		t.Fatalf("Accept: %v\n%s", err, answer)
	}
	return offer, answer, na, nb
}

func TestOfferWireFormat(t *testing.T) {
	a, _ := pair()
	offer, err := a.Offer(SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, offer)
	want := "v=0\r\n" +
		"o=alice " + strconv.FormatUint(d.SessionID, 10) + " 1 IN IP4 192.0.2.1\r\n" +
		"s=switchboard\r\n" +
		"c=IN IP4 192.0.2.1\r\n" +
		"t=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-16\r\n" +
		"a=ptime:20\r\n" +
		"a=sendrecv\r\n"
	if string(offer) != want {
		t.Errorf("offer =\n%s\nwant\n%s", offer, want)
	}
}

func TestRoundTripPlain(t *testing.T) {
	a, b := pair()
	offer, answer, na, nb := exchange(t, a, b, SendRecv, SendRecv)
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 0 101"}) {
		t.Errorf("answer m= lines %q", got)
	}
	if !bytes.HasSuffix(answer, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(answer, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("answer not CRLF-terminated:\n%q", answer)
	}
	pcmu := Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	wantA := Negotiated{
		Remote:      netip.MustParseAddrPort("192.0.2.2:5000"),
		RemoteRTCP:  netip.MustParseAddrPort("192.0.2.2:5001"),
		Codec:       pcmu,
		DTMF:        101,
		Direction:   SendRecv,
		Ptime:       20,
		RecvFormats: []Format{pcmu, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}},
	}
	if !equalNegotiated(na, wantA) {
		t.Errorf("offerer got %+v\nwant %+v", na, wantA)
	}
	wantB := wantA
	wantB.Remote = netip.MustParseAddrPort("192.0.2.1:4000")
	wantB.RemoteRTCP = netip.MustParseAddrPort("192.0.2.1:4001")
	if !equalNegotiated(nb, wantB) {
		t.Errorf("answerer got %+v\nwant %+v", nb, wantB)
	}
	if a.Key() != nil || b.Key() != nil {
		t.Error("Key() != nil without SRTP")
	}
	if do, da := mustParse(t, offer), mustParse(t, answer); do.SessionID == da.SessionID {
		t.Error("offerer and answerer share a session id")
	}
}

func equalNegotiated(x, y Negotiated) bool {
	return x.Remote == y.Remote && x.RemoteRTCP == y.RemoteRTCP && x.Codec == y.Codec &&
		x.DTMF == y.DTMF && x.Direction == y.Direction && x.Ptime == y.Ptime &&
		bytes.Equal(x.SendKey, y.SendKey) && bytes.Equal(x.RecvKey, y.RecvKey) &&
		slices.Equal(x.RecvFormats, y.RecvFormats)
}

func TestRoundTripSRTP(t *testing.T) {
	a, b := pair()
	a.SRTP, b.SRTP = true, true
	offer, answer, na, nb := exchange(t, a, b, SendRecv, SendRecv)
	if got := mlines(offer); !slices.Equal(got, []string{"m=audio 4000 RTP/SAVP 0 8 101"}) {
		t.Errorf("offer m= lines %q", got)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/SAVP 0 101"}) {
		t.Errorf("answer m= lines %q", got)
	}
	ka, kb := a.Key(), b.Key()
	if len(ka) != KeyLen || len(kb) != KeyLen || bytes.Equal(ka, kb) {
		t.Fatalf("keys %x %x", ka, kb)
	}
	if c := lines(offer, "a=crypto:"); !slices.Equal(c, []string{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(ka)}) {
		t.Errorf("offer crypto %q", c)
	}
	if c := lines(answer, "a=crypto:"); !slices.Equal(c, []string{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(kb)}) {
		t.Errorf("answer crypto %q", c)
	}
	if !bytes.Equal(na.SendKey, ka) || !bytes.Equal(na.RecvKey, kb) {
		t.Errorf("offerer keys send %x recv %x", na.SendKey, na.RecvKey)
	}
	// The keys cross over: what A sends with, B receives with.
	if !bytes.Equal(na.SendKey, nb.RecvKey) || !bytes.Equal(nb.SendKey, na.RecvKey) {
		t.Errorf("keys do not cross: A %x/%x B %x/%x", na.SendKey, na.RecvKey, nb.SendKey, nb.RecvKey)
	}
	// The key stays across re-offers, and Key returns a copy.
	a.Key()[0] ^= 0xff
	_, _, na2, _ := exchange(t, a, b, SendOnly, SendRecv)
	if !bytes.Equal(na2.SendKey, ka) || !bytes.Equal(a.Key(), ka) {
		t.Error("key changed across re-offer")
	}
}

func TestDTMF(t *testing.T) {
	t.Run("both", func(t *testing.T) {
		a, b := pair()
		a.DTMF = 96
		_, answer, na, nb := exchange(t, a, b, SendRecv, SendRecv)
		if na.DTMF != 96 || nb.DTMF != 96 {
			t.Errorf("DTMF %d %d, want the offered 96", na.DTMF, nb.DTMF)
		}
		if got := lines(answer, "a=fmtp:"); !slices.Equal(got, []string{"a=fmtp:96 0-16"}) {
			t.Errorf("answer fmtp %q", got)
		}
	})
	t.Run("answerer without", func(t *testing.T) {
		a, b := pair()
		b.DTMF = 0
		_, answer, na, nb := exchange(t, a, b, SendRecv, SendRecv)
		if na.DTMF != 0 || nb.DTMF != 0 || strings.Contains(string(answer), "telephone-event") {
			t.Errorf("DTMF %d %d\n%s", na.DTMF, nb.DTMF, answer)
		}
	})
	t.Run("offerer without", func(t *testing.T) {
		a, b := pair()
		a.DTMF = 0
		offer, _, na, nb := exchange(t, a, b, SendRecv, SendRecv)
		if na.DTMF != 0 || nb.DTMF != 0 || strings.Contains(string(offer), "telephone-event") {
			t.Errorf("DTMF %d %d\n%s", na.DTMF, nb.DTMF, offer)
		}
	})
}

func TestCodecPreference(t *testing.T) {
	pcmu := Format{PayloadType: 0, Name: "PCMU"}
	pcma := Format{PayloadType: 8, Name: "PCMA"}
	a, b := pair()
	a.Formats = []Format{pcma, pcmu}
	b.Formats = []Format{pcmu, pcma}
	_, answer, na, nb := exchange(t, a, b, SendRecv, SendRecv)
	// RFC 3264 §6.1: the answerer uses the offerer's preference.
	if na.Codec.Name != "PCMA" || nb.Codec.Name != "PCMA" {
		t.Errorf("codec %v / %v, want PCMA", na.Codec, nb.Codec)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 8 101"}) {
		t.Errorf("answer m= lines %q", got)
	}
	// The answerer does not support the offerer's first choice.
	b.Formats = []Format{pcmu}
	_, _, na, nb = exchange(t, a, b, SendRecv, SendRecv)
	if na.Codec.Name != "PCMU" || nb.Codec.Name != "PCMU" {
		t.Errorf("codec %v / %v, want PCMU", na.Codec, nb.Codec)
	}
}

func TestDynamicPayloadTypes(t *testing.T) {
	a, b := pair()
	a.Formats = []Format{{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}, {PayloadType: 0, Name: "PCMU"}}
	b.Formats = []Format{{PayloadType: 111, Name: "OPUS", ClockRate: 48000, Channels: 2}}
	b.DTMF = 0
	offer, answer, na, nb := exchange(t, a, b, SendRecv, SendRecv)
	if got := lines(offer, "a=rtpmap:96"); !slices.Equal(got, []string{"a=rtpmap:96 opus/48000/2"}) {
		t.Errorf("offer rtpmap %q", got)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 96"}) {
		t.Errorf("answer m= lines %q", got)
	}
	want := Format{PayloadType: 96, Name: "OPUS", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"}
	if nb.Codec != want {
		t.Errorf("answerer codec %+v, want %+v", nb.Codec, want)
	}
	want.Name = "opus"
	if na.Codec != want {
		t.Errorf("offerer codec %+v, want %+v", na.Codec, want)
	}
}

// TestAnswerPayloadTypeDiffers: an answer may use other numbers; the
// offerer sends with the answer's and receives with its own (RFC 3264 §5.1,
// §6.1).
func TestAnswerPayloadTypeDiffers(t *testing.T) {
	a, _ := pair()
	a.Formats = []Format{{PayloadType: 97, Name: "iLBC", ClockRate: 8000, Fmtp: "mode=30"}, {PayloadType: 0, Name: "PCMU"}}
	if _, err := a.Offer(SendRecv); err != nil {
		t.Fatal(err)
	}
	answer := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/AVP 98 0 100\r\na=rtpmap:98 ilbc/8000\r\na=fmtp:98 mode=30\r\na=rtpmap:100 telephone-event/8000\r\na=ptime:30\r\n"
	n, err := a.Accept([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	if n.Codec != (Format{PayloadType: 98, Name: "iLBC", ClockRate: 8000, Fmtp: "mode=30"}) || n.DTMF != 100 || n.Ptime != 30 {
		t.Errorf("got codec %+v dtmf %d ptime %d", n.Codec, n.DTMF, n.Ptime)
	}
	var pts []uint8
	for _, f := range n.RecvFormats {
		pts = append(pts, f.PayloadType)
	}
	if !slices.Equal(pts, []uint8{97, 0, 101}) {
		t.Errorf("RecvFormats payload types %v, want our 97 0 101", pts)
	}
}

func TestHoldAndResume(t *testing.T) {
	a, b := pair()
	exchange(t, a, b, SendRecv, SendRecv)

	// RFC 3264 §8.4: hold is a sendonly offer, answered recvonly.
	offer, answer, na, nb := exchange(t, a, b, SendOnly, SendRecv)
	if got := mustParse(t, offer).Audio.Direction; got != SendOnly {
		t.Errorf("hold offer direction %s", got)
	}
	if got := mustParse(t, answer).Audio.Direction; got != RecvOnly {
		t.Errorf("hold answer direction %s", got)
	}
	if na.Direction != SendOnly || nb.Direction != RecvOnly {
		t.Errorf("hold: A %s, B %s", na.Direction, nb.Direction)
	}
	if nb.Remote != a.Addr {
		t.Errorf("hold keeps the address for RTCP: %v", nb.Remote)
	}

	// Both on hold: B also wants only to send.
	_, _, na, nb = exchange(t, a, b, SendOnly, SendOnly)
	if na.Direction != Inactive || nb.Direction != Inactive {
		t.Errorf("mutual hold: A %s, B %s", na.Direction, nb.Direction)
	}

	_, answer, na, nb = exchange(t, a, b, Inactive, SendRecv)
	if na.Direction != Inactive || nb.Direction != Inactive || !strings.Contains(string(answer), "a=inactive\r\n") {
		t.Errorf("inactive: A %s, B %s", na.Direction, nb.Direction)
	}

	_, answer, na, nb = exchange(t, a, b, SendRecv, SendRecv)
	if na.Direction != SendRecv || nb.Direction != SendRecv || !strings.Contains(string(answer), "a=sendrecv\r\n") {
		t.Errorf("resume: A %s, B %s", na.Direction, nb.Direction)
	}

	// B holds A by answering sendonly to a sendrecv offer.
	_, _, na, nb = exchange(t, a, b, SendRecv, SendOnly)
	if na.Direction != RecvOnly || nb.Direction != SendOnly {
		t.Errorf("answer-side hold: A %s, B %s", na.Direction, nb.Direction)
	}
}

// TestHoldRFC2543 answers an old-style hold offer with c=0.0.0.0.
func TestHoldRFC2543(t *testing.T) {
	_, b := pair()
	offer := "v=0\r\no=- 5 6 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
	answer, n, err := b.Answer([]byte(offer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if n.Direction != RecvOnly || n.Remote.IsValid() || n.RemoteRTCP.IsValid() {
		t.Errorf("got direction %s remote %v rtcp %v", n.Direction, n.Remote, n.RemoteRTCP)
	}
	if !strings.Contains(string(answer), "a=recvonly\r\n") {
		t.Errorf("answer:\n%s", answer)
	}
}

func TestOriginVersion(t *testing.T) {
	a, b := pair()
	o1, _ := a.Offer(SendRecv)
	o2, _ := a.Offer(SendRecv)
	d1, d2 := mustParse(t, o1), mustParse(t, o2)
	if d1.Version != 1 || d2.Version != 1 || !bytes.Equal(o1, o2) {
		t.Errorf("unchanged offer: versions %d %d", d1.Version, d2.Version)
	}
	o3, _ := a.Offer(SendOnly)
	d3 := mustParse(t, o3)
	if d3.Version != 2 || d3.SessionID != d1.SessionID || d3.Username != "alice" {
		t.Errorf("changed offer: id %d->%d version %d", d1.SessionID, d3.SessionID, d3.Version)
	}
	o4, _ := a.Offer(SendOnly)
	if v := mustParse(t, o4).Version; v != 2 {
		t.Errorf("unchanged again: version %d", v)
	}
	o5, _ := a.Offer(SendRecv)
	if v := mustParse(t, o5).Version; v != 3 {
		t.Errorf("resume: version %d", v)
	}
	// Answers count too: the same offer answered twice keeps B's version;
	// a different answer increments it.
	r1, _, _ := b.Answer(o5, SendRecv)
	r2, _, _ := b.Answer(o5, SendRecv)
	r3, _, _ := b.Answer(o3, SendRecv)
	v1, v2, v3 := mustParse(t, r1), mustParse(t, r2), mustParse(t, r3)
	if v1.Version != 1 || v2.Version != 1 || v3.Version != 2 || v3.SessionID != v1.SessionID {
		t.Errorf("answer versions %d %d %d ids %d %d", v1.Version, v2.Version, v3.Version, v1.SessionID, v3.SessionID)
	}
	// A new address is a change.
	a.Addr = netip.MustParseAddrPort("192.0.2.1:4002")
	o6, _ := a.Offer(SendRecv)
	if d := mustParse(t, o6); d.Version != 4 || d.Audio.Port != 4002 {
		t.Errorf("new port: version %d port %d", d.Version, d.Audio.Port)
	}
}

func TestIPv6(t *testing.T) {
	a, b := pair()
	a.Addr = netip.MustParseAddrPort("[2001:db8::1]:4000")
	offer, _, na, nb := exchange(t, a, b, SendRecv, SendRecv)
	if got := lines(offer, "c="); !slices.Equal(got, []string{"c=IN IP6 2001:db8::1"}) {
		t.Errorf("c= %q", got)
	}
	if !strings.Contains(string(offer), " IN IP6 2001:db8::1\r\n") {
		t.Errorf("o= not IP6:\n%s", offer)
	}
	if nb.Remote != netip.MustParseAddrPort("[2001:db8::1]:4000") || na.Remote != b.Addr {
		t.Errorf("remotes %v %v", nb.Remote, na.Remote)
	}
}

// TestReofferKeepsPeerPayloadTypes: after answering an offer that bound 101
// to telephone-event/48000 and 100 to telephone-event/8000, our own re-offer
// must not rebind 101 (RFC 3264 §8.3.2).
func TestReofferKeepsPeerPayloadTypes(t *testing.T) {
	_, b := pair()
	if _, _, err := b.Answer([]byte(linphoneOffer), SendRecv); err != nil {
		t.Fatal(err)
	}
	offer, err := b.Offer(SendOnly)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(offer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 0 8 100"}) {
		t.Errorf("re-offer m= %q", got)
	}
	// The peer answers with its numbers; we send DTMF with 100.
	answer := "v=0\r\no=alice 3012 1786 IN IP4 192.168.1.20\r\ns=Talk\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n" +
		"m=audio 7078 RTP/AVP 0 100\r\na=rtpmap:100 telephone-event/8000\r\na=recvonly\r\n"
	n, err := b.Accept([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	if n.DTMF != 100 || n.Direction != SendOnly || n.RemoteRTCP.Port() != 7079 {
		t.Errorf("got %+v", n)
	}
}

func TestAcceptErrors(t *testing.T) {
	base := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
	tests := []struct {
		name   string
		srtp   bool
		answer string
		want   string
	}{
		{"rejected", false, base + "m=audio 0 RTP/AVP 0\r\n", "port 0"},
		{"no media", false, base, "no m= line"},
		{"video", false, base + "m=video 7000 RTP/AVP 31\r\n", "not audio"},
		{"transport", false, base + "m=audio 7000 RTP/SAVP 0\r\n", "transport"},
		{"codec", false, base + "m=audio 7000 RTP/AVP 18\r\n", "none of the offered codecs"},
		{"no crypto", true, base + "m=audio 7000 RTP/SAVP 0\r\n", "no a=crypto line with tag 1"},
		{"wrong tag", true, base + "m=audio 7000 RTP/SAVP 0\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "\r\n", "tag 1"},
		{"short key", true, base + "m=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key20 + "\r\n", "20 bytes"},
		{"no address", false, "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n", "c= line"},
		{"malformed", false, "v=0\r\nbogus\r\n", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := pair()
			a.SRTP = tt.srtp
			if _, err := a.Offer(SendRecv); err != nil {
				t.Fatal(err)
			}
			_, err := a.Accept([]byte(tt.answer))
			if !errors.Is(err, ErrNotAcceptable) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sdp: ") {
				t.Errorf("err = %v, want ErrNotAcceptable mentioning %q", err, tt.want)
			}
		})
	}
	a, _ := pair()
	if _, err := a.Accept([]byte(base + "m=audio 7000 RTP/AVP 0\r\n")); err == nil || errors.Is(err, ErrNotAcceptable) {
		t.Errorf("Accept without offer: %v", err)
	}
}

func TestAcceptHoldAnswer(t *testing.T) {
	a, _ := pair()
	if _, err := a.Offer(SendRecv); err != nil {
		t.Fatal(err)
	}
	answer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=rtcp:9000 IN IP4 192.0.2.9\r\n"
	n, err := a.Accept([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	if n.Direction != RecvOnly || n.Remote.IsValid() || n.RemoteRTCP.IsValid() {
		t.Errorf("got %+v", n)
	}
}

func TestConfigErrors(t *testing.T) {
	offer := []byte(sippOffer)
	tests := []struct {
		name string
		ep   Endpoint
		dir  Direction
	}{
		{"no address", Endpoint{}, SendRecv},
		{"port 0", Endpoint{Addr: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 0)}, SendRecv},
		{"direction", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000")}, "sideways"},
		{"duplicate", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []Format{{Name: "PCMU"}, {Name: "GSM"}}}, SendRecv},
		{"dtmf clash", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), DTMF: 8}, SendRecv},
		{"dtmf format", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []Format{{PayloadType: 101, Name: "telephone-event"}}}, SendRecv},
		{"pt range", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []Format{{PayloadType: 200, Name: "X"}}}, SendRecv},
		{"empty", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []Format{}}, SendRecv},
		{"name", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []Format{{Name: "PC MU"}}}, SendRecv},
		{"fmtp", Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Formats: []Format{{Name: "PCMU", Fmtp: "a\r\nb=c"}}}, SendRecv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := tt.ep
			if _, err := ep.Offer(tt.dir); err == nil || errors.Is(err, ErrNotAcceptable) || !strings.HasPrefix(err.Error(), "sdp: ") {
				t.Errorf("Offer: %v", err)
			}
			if _, _, err := ep.Answer(offer, tt.dir); err == nil || errors.Is(err, ErrNotAcceptable) {
				t.Errorf("Answer: %v", err)
			}
		})
	}
}

func TestUsernameSanitised(t *testing.T) {
	a := &Endpoint{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Username: "Alice Smith\r\n"}
	offer, err := a.Offer("")
	if err != nil {
		t.Fatal(err)
	}
	if d := mustParse(t, offer); d.Username != "Alice_Smith__" || d.Audio.Direction != SendRecv {
		t.Errorf("username %q direction %s", d.Username, d.Audio.Direction)
	}
}
