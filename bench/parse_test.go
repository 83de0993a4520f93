// Package bench measures Switchboard's SIP parser side by side with
// github.com/emiago/sipgo's, on the same bytes in the same process. It is a
// module of its own so that the product's go.mod never depends on sipgo.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 5
package bench

import (
	"bytes"
	"testing"

	"github.com/emiago/sipgo/sip"
	sb "github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/sip/siptest"
)

var cases = []struct{ name, msg string }{
	{"Invite", siptest.Invite},
	{"Register", siptest.Register},
	{"OK", siptest.OK},
}

// TestSameMessages makes sure both parsers accept every benchmark message,
// so neither side is measured on an early error.
func TestSameMessages(t *testing.T) {
	p := sip.NewParser()
	for _, c := range cases {
		if _, err := p.ParseSIP([]byte(c.msg)); err != nil {
			t.Errorf("sipgo %s: %v", c.name, err)
		}
		m, err := sb.Parse([]byte(c.msg))
		if err != nil || m.Defect() != nil {
			t.Errorf("switchboard %s: %v %v", c.name, err, m.Defect())
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range cases {
		data := []byte(c.msg)
		b.Run(c.name+"/switchboard", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := sb.Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Parse takes ownership of its input; a transport that reads into
		// a shared buffer copies each datagram first. This is that cost.
		b.Run(c.name+"/switchboard+copy", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := sb.Parse(bytes.Clone(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/sipgo", func(b *testing.B) {
			p := sip.NewParser()
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := p.ParseSIP(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
