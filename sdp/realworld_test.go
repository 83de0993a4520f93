package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// Keys for a=crypto lines: 30 bytes (the RFC 4568 §6.1 example), 20 bytes
// (too short) and 46 bytes (an AES-256 key||salt).
const (
	key30 = "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"
	key20 = "ZGVmZ2hpamtsbW5vcHFyc3R1dnc="
	key46 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ=="
)

// crlf turns a body written with LF line ends into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// baresipOffer is shaped after baresip 3.x with video enabled: IPv6, a
// session-level a=tool, b= lines, dynamic opus, rtcp-mux, ssrc and label.
const baresipOffer = `v=0
o=- 1529390588 2862145711 IN IP6 2001:db8::10
s=-
c=IN IP6 2001:db8::10
t=0 0
a=tool:baresip 3.10.1
m=audio 10176 RTP/AVP 96 9 0 8 101
b=AS:125
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=128000
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp-mux
a=ssrc:1502362034 cname:b3f5b0ad-a7cd-4ef8-9a50-19d6bc0c6d40
a=label:1
a=sendrecv
a=ptime:20
m=video 10178 RTP/AVP 97 98
b=AS:1000
a=rtpmap:97 H264/90000
a=fmtp:97 packetization-mode=0
a=rtpmap:98 VP8/90000
a=rtcp-mux
a=label:2
a=sendrecv
`

// sippOffer is SIPp's built-in uac scenario body, minus its a=rtpmap.
const sippOffer = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"

// asteriskOffer is shaped after chan_pjsip.
const asteriskOffer = `v=0
o=- 1742467382 1742467382 IN IP4 203.0.113.5
s=Asterisk
c=IN IP4 203.0.113.5
t=0 0
m=audio 17424 RTP/AVP 8 0 3 9 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendrecv
`

// linphoneOffer is shaped after Linphone: static payload types without
// a=rtpmap, three telephone-event clock rates, a=rtcp, rtcp-fb, session
// attributes. LF line ends.
const linphoneOffer = `v=0
o=alice 3012 1785 IN IP4 192.168.1.20
s=Talk
c=IN IP4 192.168.1.20
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
a=record:off
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=fmtp:98 vbr=on
a=fmtp:18 annexb=yes
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=rtcp:7079
a=rtcp-fb:* trr-int 1000
a=rtcp-fb:* ccm tmmbr
`

// srtpOffer has two crypto lines; the first has a suite we do not support.
const srtpOffer = `v=0
o=- 20518 0 IN IP4 198.51.100.7
s=SDP Data
c=IN IP4 198.51.100.7
t=0 0
m=audio 40376 RTP/SAVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:` + key46 + `
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:` + key30 + `|2^31
a=ptime:30
a=sendrecv
`

func callee() *Endpoint {
	return &Endpoint{Addr: netip.MustParseAddrPort("192.0.2.2:5000"), DTMF: 101}
}

func TestAnswerBaresip(t *testing.T) {
	b := callee()
	answer, n, err := b.Answer([]byte(baresipOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 0 101", "m=video 0 RTP/AVP 97 98"}) {
		t.Errorf("m= lines %q", got)
	}
	if got := lines(answer, "a="); !slices.Equal(got, []string{"a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv"}) {
		t.Errorf("attributes %q (no rtcp-mux: we do not multiplex)", got)
	}
	want := Negotiated{
		Remote:      netip.MustParseAddrPort("[2001:db8::10]:10176"),
		RemoteRTCP:  netip.MustParseAddrPort("[2001:db8::10]:10177"),
		Codec:       Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
		DTMF:        101,
		Direction:   SendRecv,
		Ptime:       20,
		RecvFormats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"}},
	}
	if !equalNegotiated(n, want) {
		t.Errorf("got %+v\nwant %+v", n, want)
	}
	// With G722 configured the answerer takes it: baresip prefers it over PCMU.
	b = callee()
	b.Formats = []Format{{PayloadType: 0, Name: "PCMU"}, {PayloadType: 9, Name: "g722"}}
	answer, n, err = b.Answer(crlf(baresipOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer)[0]; got != "m=audio 5000 RTP/AVP 9 101" || n.Codec.Name != "g722" {
		t.Errorf("m= %q codec %+v", got, n.Codec)
	}
}

func TestAnswerSIPp(t *testing.T) {
	answer, n, err := callee().Answer([]byte(sippOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 0"}) {
		t.Errorf("m= lines %q", got)
	}
	if !bytes.Contains(answer, []byte("a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n")) {
		t.Errorf("answer:\n%s", answer)
	}
	if n.Codec.Name != "PCMU" || n.DTMF != 0 || n.Remote != netip.MustParseAddrPort("127.0.0.1:6000") || n.RemoteRTCP.Port() != 6001 {
		t.Errorf("got %+v", n)
	}
}

func TestAnswerAsterisk(t *testing.T) {
	answer, n, err := callee().Answer([]byte(asteriskOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 8 101"}) {
		t.Errorf("m= lines %q", got)
	}
	if n.Codec.Name != "PCMA" || n.Codec.PayloadType != 8 || n.DTMF != 101 {
		t.Errorf("got %+v", n)
	}
}

func TestAnswerLinphone(t *testing.T) {
	answer, n, err := callee().Answer([]byte(linphoneOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	// PCMU has no a=rtpmap (RFC 3551 default); telephone-event at the
	// codec's clock rate is 100 (RFC 4733 §2.1).
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 0 100"}) {
		t.Errorf("m= lines %q", got)
	}
	if n.DTMF != 100 || n.RemoteRTCP != netip.MustParseAddrPort("192.168.1.20:7079") {
		t.Errorf("got %+v", n)
	}
}

func TestAnswerSRTPOffer(t *testing.T) {
	b := callee()
	b.SRTP = true
	answer, n, err := b.Answer([]byte(srtpOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/SAVP 0 101"}) {
		t.Errorf("m= lines %q", got)
	}
	wantLine := "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(b.Key())
	if got := lines(answer, "a=crypto"); !slices.Equal(got, []string{wantLine}) {
		t.Errorf("crypto %q, want %q", got, wantLine)
	}
	theirs, _ := base64.StdEncoding.DecodeString(key30)
	if !bytes.Equal(n.RecvKey, theirs) || !bytes.Equal(n.SendKey, b.Key()) {
		t.Errorf("keys send %x recv %x", n.SendKey, n.RecvKey)
	}
	if n.Ptime != 30 || !bytes.Contains(answer, []byte("a=ptime:30\r\n")) {
		t.Errorf("ptime %d not echoed:\n%s", n.Ptime, answer)
	}
}

func TestCryptoLineSelection(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 7000 RTP/SAVP 0\r\n"
	tests := []struct {
		name    string
		cryptos []string
		tag     string // accepted tag, "" for not acceptable
	}{
		{"plain", []string{"7 AES_CM_128_HMAC_SHA1_80 inline:" + key30}, "7"},
		{"lifetime", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20"}, "1"},
		{"decimal lifetime", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1048576"}, "1"},
		{"unpadded", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(key30, "=")}, "1"},
		{"mki skipped", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|1:4", "2 AES_CM_128_HMAC_SHA1_80 inline:" + key30}, "2"},
		{"mki only", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:4"}, ""},
		{"lifetime too big", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^49"}, ""},
		{"lifetime leading zero", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|0100"}, ""},
		{"short key", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key20}, ""},
		{"long key", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key46}, ""},
		{"bad base64", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:!!!!" + key30[4:]}, ""},
		{"32-bit tag", []string{"1 AES_CM_128_HMAC_SHA1_32 inline:" + key30, "3 AES_CM_128_HMAC_SHA1_80 inline:" + key30}, "3"},
		{"two keys", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|1:4;inline:" + key30 + "|2^20|2:4"}, ""},
		{"wsh ok", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " WSH=128"}, "1"},
		{"unencrypted", []string{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " UNENCRYPTED_SRTP"}, ""},
		{"not inline", []string{"1 AES_CM_128_HMAC_SHA1_80 uri:http://example.com/key"}, ""},
		{"no tag", []string{"AES_CM_128_HMAC_SHA1_80 inline:" + key30}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer := head
			for _, c := range tt.cryptos {
				offer += "a=crypto:" + c + "\r\n"
			}
			b := callee()
			b.SRTP = true
			answer, n, err := b.Answer([]byte(offer), SendRecv)
			if tt.tag == "" {
				if !errors.Is(err, ErrNotAcceptable) {
					t.Fatalf("err = %v, want ErrNotAcceptable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := lines(answer, "a=crypto:"); len(got) != 1 || !strings.HasPrefix(got[0], "a=crypto:"+tt.tag+" ") {
				t.Errorf("crypto %q, want tag %s", got, tt.tag)
			}
			if len(n.RecvKey) != KeyLen {
				t.Errorf("recv key %x", n.RecvKey)
			}
		})
	}
}

// TestBestEffortSRTP: RTP/AVP with a=crypto is answered with SRTP by an
// SRTP endpoint and as plain RTP otherwise.
func TestBestEffortSRTP(t *testing.T) {
	offer := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "\r\n"
	b := callee()
	b.SRTP = true
	answer, n, err := b.Answer([]byte(offer), SendRecv)
	if err != nil || n.RecvKey == nil || mlines(answer)[0] != "m=audio 5000 RTP/AVP 0" || len(lines(answer, "a=crypto:1 ")) != 1 {
		t.Errorf("SRTP endpoint: %v %+v\n%s", err, n, answer)
	}
	answer, n, err = callee().Answer([]byte(offer), SendRecv)
	if err != nil || n.RecvKey != nil || len(lines(answer, "a=crypto")) != 0 {
		t.Errorf("plain endpoint: %v %+v\n%s", err, n, answer)
	}
}

// TestSAVPWithAVPFallback: some agents offer the same audio twice, SRTP
// first; a plain endpoint takes the second and rejects the first.
func TestSAVPWithAVPFallback(t *testing.T) {
	offer := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "\r\n" +
		"m=audio 7002 RTP/AVP 0\r\n"
	answer, n, err := callee().Answer([]byte(offer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 0 RTP/SAVP 0", "m=audio 5000 RTP/AVP 0"}) {
		t.Errorf("m= lines %q", got)
	}
	if n.Remote.Port() != 7002 || n.RecvKey != nil {
		t.Errorf("got %+v", n)
	}
	b := callee()
	b.SRTP = true
	answer, n, err = b.Answer([]byte(offer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/SAVP 0", "m=audio 0 RTP/AVP 0"}) || n.Remote.Port() != 7000 {
		t.Errorf("m= lines %q remote %v", got, n.Remote)
	}
}

// TestAnswerWithT38 keeps an m=image line pion does not know, rejected.
func TestAnswerWithT38(t *testing.T) {
	offer := "v=0\r\no=- 1 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/AVP 0\r\n" +
		"m=image 7002 udptl t38\r\na=T38FaxVersion:0\r\na=T38FaxRateManagement:transferredTCF\r\n"
	answer, _, err := callee().Answer([]byte(offer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 0", "m=image 0 udptl t38"}) {
		t.Errorf("m= lines %q", got)
	}
	// A switch to fax disables audio: not acceptable.
	offer = strings.Replace(offer, "m=audio 7000", "m=audio 0", 1)
	if _, _, err := callee().Answer([]byte(offer), SendRecv); !errors.Is(err, ErrNotAcceptable) {
		t.Errorf("fax-only offer: %v", err)
	}
}

func TestParseLeniency(t *testing.T) {
	// Session-level direction and c=, media-level c= overriding, a= before
	// t=, no s=, lower-case codec names, decimal ptime, blank lines, no
	// final newline.
	body := "v=0\n" +
		"o=- 1 1 IN IP4 192.0.2.9\n" +
		"a=sendonly\n" +
		"t=0 0\n" +
		"c=IN IP4 192.0.2.9\n" +
		"\n" +
		"m=audio 7000 RTP/AVP 98 8\n" +
		"c=IN IP4 198.51.100.1\n" +
		"a=rtpmap:98 pcmu/8000\n" +
		"a=ptime:20.0\n" +
		"m=audio 7002 RTP/AVP 0\n" +
		"a=inactive"
	d, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Media) != 2 {
		t.Fatalf("media %+v", d.Media)
	}
	m0, m1 := d.Media[0], d.Media[1]
	if m0.Addr != netip.MustParseAddr("198.51.100.1") || m1.Addr != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("addresses %v %v", m0.Addr, m1.Addr)
	}
	if m0.Direction != SendOnly || m1.Direction != Inactive {
		t.Errorf("directions %s %s", m0.Direction, m1.Direction)
	}
	if m0.Ptime != 20 || m0.Formats[1] != (Format{PayloadType: 8, Name: "PCMA", ClockRate: 8000}) {
		t.Errorf("media 0 %+v", m0)
	}
	if d.Audio.Port != 7000 || d.Audio.Addr != m0.Addr {
		t.Errorf("Audio is not the first audio stream: %+v", d.Audio)
	}
	if d, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\nm=audio 0 RTP/AVP 0\r\nm=audio 7002 RTP/AVP 8\r\n")); err != nil || d.Audio.Port != 7002 {
		t.Errorf("Audio skips port 0: %v %+v", err, d)
	}
	if d, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\nm=video 0 RTP/AVP 31\r\n")); err != nil || d.Audio.Type != "" {
		t.Errorf("no audio: %v %+v", err, d)
	}
	answer, n, err := callee().Answer([]byte(body), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlines(answer); !slices.Equal(got, []string{"m=audio 5000 RTP/AVP 98", "m=audio 0 RTP/AVP 0"}) {
		t.Errorf("m= lines %q", got)
	}
	// RFC 3264 §6.1: answer with the offer's payload type and rtpmap.
	if n.Codec != (Format{PayloadType: 98, Name: "PCMU", ClockRate: 8000}) || n.Direction != RecvOnly ||
		!bytes.Contains(answer, []byte("a=rtpmap:98 pcmu/8000\r\n")) {
		t.Errorf("got %+v\n%s", n, answer)
	}
	// CRLF and LF parse alike.
	d2, err := Parse(crlf(body))
	if err != nil || len(d2.Media) != 2 || d2.Media[0].Direction != SendOnly {
		t.Errorf("CRLF: %v %+v", err, d2)
	}
}

func TestParseFields(t *testing.T) {
	d, err := Parse([]byte(srtpOffer))
	if err != nil {
		t.Fatal(err)
	}
	if d.SessionID != 20518 || d.Version != 0 || d.Username != "-" || d.Timing != "0 0" {
		t.Errorf("origin %+v", d)
	}
	a := d.Audio
	if a.Proto != "RTP/SAVP" || a.Port != 40376 || len(a.Crypto) != 2 || a.Ptime != 30 {
		t.Fatalf("audio %+v", a)
	}
	c := a.Crypto[1]
	if c.Tag != "2" || c.Suite != CryptoSuite || c.Lifetime != "2^31" || c.MKI != "" || len(c.Key) != KeyLen || c.usable() != nil {
		t.Errorf("crypto %+v (%v)", c, c.usable())
	}
	if a.Crypto[0].usable() == nil {
		t.Error("AES_256 line usable")
	}
	d, err = Parse([]byte(baresipOffer))
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Audio; !a.RTCPMux || a.Formats[0] != (Format{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "stereo=1;sprop-stereo=1;maxaveragebitrate=128000"}) {
		t.Errorf("audio %+v", a)
	}
	if v := d.Media[1]; v.Type != "video" || !slices.Equal(v.RawFormats, []string{"97", "98"}) {
		t.Errorf("video %+v", v)
	}
}
