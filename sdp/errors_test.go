package sdp

import (
	"errors"
	"strings"
	"testing"
)

func TestAnswerNotAcceptable(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
	tests := []struct {
		name  string
		srtp  bool
		offer string
		want  string // in the message
	}{
		{"only G.729", false, head + "m=audio 7000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", "no common codec (offered G729/8000)"},
		{"unknown dynamic", false, head + "m=audio 7000 RTP/AVP 96\r\n", "no common codec"},
		{"only telephone-event", false, head + "m=audio 7000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", "no common codec"},
		{"SAVP to plain", false, head + "m=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "\r\n", "SRTP is off"},
		{"AVP to SRTP", true, head + "m=audio 7000 RTP/AVP 0\r\n", "SRTP is required"},
		{"DTLS", true, head + "m=audio 7000 UDP/TLS/RTP/SAVPF 0\r\n", "transport"},
		{"SAVP without crypto", true, head + "m=audio 7000 RTP/SAVP 0\r\n", "no a=crypto line"},
		{"wrong key length", true, head + "m=audio 7000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key20 + "\r\n", "key||salt is 20 bytes, want 30"},
		{"no audio", false, head + "m=video 7000 RTP/AVP 31\r\n", "no audio stream"},
		{"no m= line", false, head, "no audio stream"},
		{"audio disabled", false, head + "m=audio 0 RTP/AVP 0\r\n", "port 0"},
		{"no address", false, "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n", "c= line"},
		{"host name", false, "v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 host.example.com\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n", "c= line"},
		{"multicast", false, "v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n", "multicast"},
		{"empty", false, "", "malformed SDP: empty body"},
		{"not SDP", false, "hello world", "malformed SDP"},
		{"version", false, "v=1\r\no=- 1 1 IN IP4 192.0.2.9\r\n", "not v=0"},
		{"no origin", false, "v=0\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n", "no o= line"},
		{"bad origin", false, "v=0\r\no=- x 1 IN IP4 192.0.2.9\r\nt=0 0\r\n", "malformed SDP"},
		{"short m= line", false, head + "m=audio 7000\r\n", "m= line"},
		{"bad port", false, head + "m=audio 70000 RTP/AVP 0\r\n", "malformed SDP"},
		{"binary", false, "v=0\r\no=\x00\x01\r\n", "malformed SDP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := callee()
			b.SRTP = tt.srtp
			answer, n, err := b.Answer([]byte(tt.offer), SendRecv)
			if !errors.Is(err, ErrNotAcceptable) {
				t.Fatalf("err = %v, want ErrNotAcceptable", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sdp: not acceptable: ") {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
			if answer != nil || n.Codec.Name != "" {
				t.Errorf("answer %q / %+v on error", answer, n)
			}
			if _, perr := Parse([]byte(tt.offer)); strings.Contains(tt.want, "malformed") && !errors.Is(perr, ErrNotAcceptable) {
				t.Errorf("Parse err = %v", perr)
			}
		})
	}
}

// TestAnswerErrorKeepsState: a refused offer does not bump the o= version.
func TestAnswerErrorKeepsState(t *testing.T) {
	b := callee()
	r1, _, err := b.Answer([]byte(sippOffer), SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Answer([]byte("v=0\r\n"), SendRecv); err == nil {
		t.Fatal("no error")
	}
	r2, _, _ := b.Answer([]byte(sippOffer), SendRecv)
	if string(r1) != string(r2) {
		t.Errorf("answer changed:\n%s\n%s", r1, r2)
	}
}
