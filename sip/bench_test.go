package sip

import (
	"bytes"
	"strings"
	"testing"

	"github.com/switchboard-sip/switchboard/sip/siptest"
)

func benchParse(b *testing.B, msg string) {
	data := []byte(msg)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		m, err := Parse(data)
		if err != nil || m.Defect() != nil {
			b.Fatal(err, m.Defect())
		}
	}
}

// BenchmarkParseInvite parses a typical INVITE with SDP (the issue's
// allocation target: at most 4).
func BenchmarkParseInvite(b *testing.B)   { benchParse(b, siptest.Invite) }
func BenchmarkParseRegister(b *testing.B) { benchParse(b, siptest.Register) }
func BenchmarkParseOK(b *testing.B)       { benchParse(b, siptest.OK) }

// BenchmarkParseInviteHeaders parses the INVITE and reads what a proxy
// reads: top Via, From and To tags, Call-ID, CSeq, Max-Forwards.
func BenchmarkParseInviteHeaders(b *testing.B) {
	data := []byte(siptest.Invite)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		v, err1 := m.Via()
		f, err2 := m.From()
		t, err3 := m.To()
		c, err4 := m.CSeq()
		mf, err5 := m.MaxForwards()
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil ||
			v.Branch() == "" || f.Tag() == "" || t.Tag() != "" || c.Seq == 0 || mf != 70 || m.CallID() == "" {
			b.Fatal("bad values")
		}
	}
}

// BenchmarkValidateInvite runs the proxy's validator over a parsed INVITE.
func BenchmarkValidateInvite(b *testing.B) {
	m, err := Parse([]byte(siptest.Invite))
	if err != nil {
		b.Fatal(err)
	}
	p := Policy{Role: RoleProxy}
	b.ReportAllocs()
	for b.Loop() {
		if v := p.Check(m); !v.OK() {
			b.Fatal(v.Err)
		}
	}
}

// BenchmarkResponse builds a 200 OK from a parsed INVITE and serializes it
// into a reused buffer.
func BenchmarkResponse(b *testing.B) {
	req, err := Parse([]byte(siptest.Invite))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		res := NewResponse(req, 200, "")
		res.Add("Contact", "<sip:bob@192.0.2.4>")
		buf = res.AppendTo(buf[:0])
	}
	if _, err := Parse(buf); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMarshalInvite serializes a parsed INVITE (a proxy forwarding it).
func BenchmarkMarshalInvite(b *testing.B) {
	m, err := Parse([]byte(siptest.Invite))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendTo(buf[:0])
	}
}

// BenchmarkStreamTrickle reads a 60 KiB message that arrives one byte per
// read, as a slow or hostile TCP peer sends it: framing must stay linear in
// the message size, not quadratic.
func BenchmarkStreamTrickle(b *testing.B) {
	msg := []byte("MESSAGE sip:a@b SIP/2.0\r\n" + strings.Repeat("X-A: b\r\n", 4000) +
		"Content-Length: 30000\r\n\r\n" + strings.Repeat("x", 30000))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		m, err := NewStreamReader(&chunkReader{data: msg, n: 1}).ReadMessage()
		if err != nil || len(m.Body) != 30000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamMessages frames back-to-back INVITEs from a TCP stream.
func BenchmarkStreamMessages(b *testing.B) {
	one := []byte(siptest.Invite)
	stream := bytes.Repeat(one, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		sr := NewStreamReader(bytes.NewReader(stream))
		for range 100 {
			if _, err := sr.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkStreamTrickleCR: a header value of 60 000 CRs arriving a byte at
// a time must not make framing rescan the run on every read.
func BenchmarkStreamTrickleCR(b *testing.B) {
	msg := []byte("INVITE sip:a@b SIP/2.0\r\nSubject: x" + strings.Repeat("\r", 60000))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := NewStreamReader(&chunkReader{data: msg, n: 1}).ReadMessage(); err == nil {
			b.Fatal("an unterminated message was accepted")
		}
	}
}
