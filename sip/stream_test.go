package sip

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/switchboard-sip/switchboard/sip/siptest"
)

// TestStreamFraming reads several messages, with keep-alives and leading
// CRLFs between them, through readers that split the stream anywhere.
func TestStreamFraming(t *testing.T) {
	stream := "\r\n\r\n" + siptest.Invite + "\r\n" + siptest.OK + "\r\n\r\n\r\n\r\n" + siptest.Register
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			pings := 0
			sr := NewStreamReader(wrap(strings.NewReader(stream)))
			sr.KeepAlive = func() { pings++ }
			var got []string
			for {
				m, err := sr.ReadMessage()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if m.Defect() != nil {
					t.Fatalf("defect: %v", m.Defect())
				}
				c, _ := m.CSeq()
				got = append(got, c.String()+"/"+string(appendUint(nil, uint64(len(m.Body)))))
			}
			want := []string{"314159 INVITE/241", "314159 INVITE/0", "1826 REGISTER/0"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("messages = %q, want %q", got, want)
			}
			if pings != 3 {
				t.Errorf("keep-alive pings = %d, want 3", pings)
			}
		})
	}
}

// countingReader counts the bytes handed out.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless yields an unending header section: it never contains an empty line.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "X-Filler: abcdefghijklmnopqrstuvwxyz\r\n"[i%38]
	}
	return len(p), nil
}

// TestStreamBounded: an unending header section or a huge Content-Length
// fails with ErrMessageTooLarge without reading without bound.
func TestStreamBounded(t *testing.T) {
	cr := &countingReader{r: io.MultiReader(strings.NewReader("OPTIONS sip:a@b SIP/2.0\r\n"), endless{})}
	_, err := NewStreamReader(cr).ReadMessage()
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("endless headers: err = %v, want ErrMessageTooLarge", err)
	}
	if cr.n > MaxMessageSize+8192 {
		t.Errorf("read %d bytes before giving up; want at most about %d", cr.n, MaxMessageSize)
	}

	big := "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 10000000\r\n\r\n"
	cr = &countingReader{r: io.MultiReader(strings.NewReader(big), endless{})}
	if _, err := NewStreamReader(cr).ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("huge Content-Length: err = %v", err)
	}
	if cr.n > 8192 {
		t.Errorf("read %d bytes of a body it was going to refuse", cr.n)
	}
}

// TestStreamFramingErrors: framing that cannot be trusted closes the stream
// (RFC 4475 §3.1.2.3, §3.3.9); a stream that ends mid-message reports it.
func TestStreamFramingErrors(t *testing.T) {
	for _, name := range []string{"ncl", "mcl01"} {
		data := readTorture(t, "rfc4475/"+name+".dat")
		_, err := NewStreamReader(bytes.NewReader(data)).ReadMessage()
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s over a stream: err = %v, want a framing error", name, err)
		}
	}
	// clerr: Content-Length 9999 with 154 octets; the stream then ends.
	_, err := NewStreamReader(bytes.NewReader(readTorture(t, "rfc4475/clerr.dat"))).ReadMessage()
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("clerr over a stream: err = %v, want ErrIncomplete", err)
	}
}

func readTorture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := readFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMessageSizeLimit: 64 KiB parses, one byte more is refused.
func TestMessageSizeLimit(t *testing.T) {
	head := "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n" +
		"From: <sip:a@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n" +
		"CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: "
	build := func(total int) []byte {
		for n := total - len(head) - 4 - 5; n > 0; n-- {
			msg := head + string(appendUint(nil, uint64(n))) + "\r\n\r\n" + strings.Repeat("x", n)
			if len(msg) == total {
				return []byte(msg)
			}
		}
		t.Fatalf("cannot build a %d-byte message", total)
		return nil
	}
	ok := build(MaxMessageSize)
	m, err := Parse(ok)
	if err != nil || len(m.Body) < 60000 {
		t.Fatalf("64 KiB datagram: %v", err)
	}
	if v := (&Policy{}).Check(m); !v.OK() {
		t.Fatalf("64 KiB message rejected: %v", v.Err)
	}
	if m, err := NewStreamReader(bytes.NewReader(ok)).ReadMessage(); err != nil || len(m.Body) != len(ok)-bytes.Index(ok, []byte("\r\n\r\n"))-4 {
		t.Fatalf("64 KiB over a stream: %v", err)
	}
	tooBig := build(MaxMessageSize + 1)
	if _, err := Parse(tooBig); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("64 KiB + 1 datagram: err = %v", err)
	}
	if _, err := NewStreamReader(bytes.NewReader(tooBig)).ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("64 KiB + 1 over a stream: err = %v", err)
	}
}
