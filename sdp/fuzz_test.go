package sdp

import (
	"errors"
	"net/netip"
	"testing"
)

// FuzzAnswer checks that Answer never panics, that it fails only with
// ErrNotAcceptable, and that an answer parses and keeps the offer's m= line
// count (RFC 3264 §6).
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{baresipOffer, sippOffer, asteriskOffer, linphoneOffer, srtpOffer, "", "v=0\r\n",
		"v=0\no=- 1 1 IN IP4 0.0.0.0\nm=image 1 udptl t38\nm=audio 1 RTP/AVP 0\nc=IN IP6 ::\n"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, offer []byte, srtp bool) {
		e := &Endpoint{Addr: netip.MustParseAddrPort("192.0.2.2:5000"), DTMF: 101, SRTP: srtp}
		answer, _, err := e.Answer(offer, SendRecv)
		if err != nil {
			if !errors.Is(err, ErrNotAcceptable) {
				t.Fatalf("error %v does not wrap ErrNotAcceptable", err)
			}
			return
		}
		od, err := Parse(offer)
		if err != nil {
			t.Fatalf("offer accepted but Parse fails: %v", err)
		}
		ad, err := Parse(answer)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%q", err, answer)
		}
		if len(ad.Media) != len(od.Media) {
			t.Fatalf("answer has %d m= lines, offer %d", len(ad.Media), len(od.Media))
		}
	})
}

// FuzzParse checks that Parse never panics and fails only with
// ErrNotAcceptable.
func FuzzParse(f *testing.F) {
	f.Add([]byte(linphoneOffer))
	f.Add([]byte(srtpOffer))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Parse(b); err != nil && !errors.Is(err, ErrNotAcceptable) {
			t.Fatal(err)
		}
	})
}
