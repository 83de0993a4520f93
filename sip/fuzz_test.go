package sip

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/switchboard-sip/switchboard/sip/siptest"
)

// addSeeds adds every torture message and the benchmark messages.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/rfc4475/*.dat")
	wire, _ := filepath.Glob("testdata/rfc5118/wire/*.dat")
	for _, name := range append(files, wire...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, m := range []string{siptest.Invite, siptest.Register, siptest.OK} {
		f.Add([]byte(m))
	}
}

// FuzzParse checks the properties of Parse on any datagram:
//   - it never panics, and neither do Check, Describe or the accessors;
//   - what it allocates is bounded by a small multiple of the input;
//   - Parse → AppendTo → Parse gives the same message, and AppendTo of that
//     gives the same bytes again (the serialized form is a fixed point);
//   - MarshalSize is exact.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := Parse(data)
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > uint64(8*len(data)+64<<10) {
			t.Fatalf("Parse of %d bytes allocated %d bytes", len(data), grown)
		}
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		for _, r := range []Role{RoleUAS, RoleProxy, RoleRegistrar} {
			p := Policy{Role: r}
			if v := p.Check(m); v.Code != 0 && m.IsRequest() {
				if res := v.Response(m); res == nil {
					t.Fatal("rejection without a response")
				} else if _, err := Parse(res.Bytes()); err != nil {
					t.Fatalf("response to a rejected request does not parse: %v", err)
				}
			}
		}
		_ = Describe(m)
		exerciseAccessors(m)

		wire := m.Bytes()
		if len(wire) != m.MarshalSize() {
			t.Fatalf("MarshalSize %d, AppendTo wrote %d", m.MarshalSize(), len(wire))
		}
		back, err := Parse(wire)
		if err != nil {
			t.Fatalf("re-Parse of serialized message failed: %v\n%q", err, wire)
		}
		if m.Defect() == nil {
			if diff := compareMessages(m, back); diff != "" {
				t.Fatalf("round trip changed the message: %s\nin:  %q\nout: %q", diff, data, wire)
			}
		}
		if again := back.Bytes(); !bytes.Equal(again, wire) && back.Defect() == nil {
			t.Fatalf("serialization is not a fixed point:\n%q\n%q", wire, again)
		}
	})
}

// exerciseAccessors calls every typed accessor; only panics matter here.
func exerciseAccessors(m *Message) {
	_, _ = m.Via()
	for range m.Vias() {
	}
	_, _ = m.From()
	_, _ = m.To()
	_, _ = m.CSeq()
	_, _ = m.MaxForwards()
	_, _ = m.Expires()
	_, _ = m.ContentLength()
	_ = m.ContentType()
	for range m.Contacts() {
	}
	for range m.Routes() {
	}
	for range m.RecordRoutes() {
	}
	for range m.Values("Supported") {
	}
	if a, err := ParseAuth(m.Get("Authorization")); err == nil {
		_, _ = a.Param("nonce")
	}
	_ = m.Clone()
}

// FuzzStream feeds the input to a StreamReader in chunks of every size from
// 1 to 7 bytes and checks that framing does not depend on how the stream is
// cut, that the reader never buffers beyond its bound, and that every
// message it returns survives a round trip.
func FuzzStream(f *testing.F) {
	addSeeds(f)
	f.Add([]byte("\r\n\r\n" + siptest.Invite + siptest.OK))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ref []string
		var refErr error
		for chunk := 1; chunk <= 7; chunk++ {
			sr := NewStreamReader(&chunkReader{data: data, n: chunk})
			sr.MaxSize = 4096
			var got []string
			var err error
			for i := 0; i < 1000; i++ {
				var m *Message
				m, err = sr.ReadMessage()
				if cap(sr.buf) > sr.MaxSize+4096 {
					t.Fatalf("buffer grew to %d", cap(sr.buf))
				}
				if err != nil {
					break
				}
				wire := m.Bytes()
				back, perr := ParseStream(wire)
				if perr != nil {
					t.Fatalf("re-parse: %v\n%q", perr, wire)
				}
				if m.Defect() == nil {
					if diff := compareMessages(m, back); diff != "" {
						t.Fatalf("round trip: %s", diff)
					}
				}
				got = append(got, string(wire))
			}
			if chunk == 1 {
				ref, refErr = got, err
				continue
			}
			if len(got) != len(ref) || errors.Is(err, io.EOF) != errors.Is(refErr, io.EOF) {
				t.Fatalf("chunk %d: %d messages (%v), chunk 1: %d (%v)", chunk, len(got), err, len(ref), refErr)
			}
			for i := range got {
				if got[i] != ref[i] {
					t.Fatalf("chunk %d: message %d differs", chunk, i)
				}
			}
		}
	})
}

type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
