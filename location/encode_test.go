package location

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// encodeCases are bindings that exercise every field of the encoding.
func encodeCases() []Binding {
	t0 := time.Unix(0, 1775044800123456789).UTC()
	return []Binding{
		{AOR: "sip:a@example.com", Contact: "sip:a@192.0.2.1", Q: -1, Expires: t0, CallID: "c", CSeq: 1, Transport: "UDP"},
		{AOR: "sip:a@example.com", Contact: "sips:a@[2001:db8::1]:5061;transport=tcp", Params: `+sip.instance="<urn:uuid:x>";reg-id=2`,
			Q: 1000, Expires: time.Unix(0, -5).UTC(), CallID: "ü\x00\xff", CSeq: 4294967295, Path: []string{"<sip:p;lr>", ""},
			Instance: "<urn:uuid:x>", RegID: 2, Transport: "TLS", Source: netip.MustParseAddrPort("[fe80::1%eth0]:5061"),
			Local: netip.MustParseAddrPort("192.0.2.254:5061"), Conn: 1<<64 - 1, UserAgent: "agent", Updated: t0},
		{AOR: "sip:a@example.com", Contact: "sip:a@192.0.2.3", Q: 0, Path: []string{}, Transport: "WS"},
	}
}

// TestBindingsRoundTrip: decoding the encoding gives every binding back
// exactly, nil and empty Path told apart, zero times kept zero.
func TestBindingsRoundTrip(t *testing.T) {
	bs := encodeCases()
	got, err := decodeBindings("sip:a@example.com", appendBindings(nil, bs))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, bs) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, bs)
	}
	if got[0].Path != nil || got[2].Path == nil {
		t.Errorf("Path nil-ness not kept: %#v, %#v", got[0].Path, got[2].Path)
	}
}

// TestBindingsCorrupt: every truncation of an encoding, an unknown format
// and trailing bytes are errors wrapping errCorrupt, never a panic.
func TestBindingsCorrupt(t *testing.T) {
	enc := appendBindings(nil, encodeCases())
	for n := range len(enc) {
		if _, err := decodeBindings("sip:a@example.com", enc[:n]); !errors.Is(err, errCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: %v, want errCorrupt", n, len(enc), err)
		}
	}
	bad := append([]byte{9}, enc[1:]...)
	if _, err := decodeBindings("x", bad); !errors.Is(err, errCorrupt) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := decodeBindings("x", append(enc, 0)); !errors.Is(err, errCorrupt) {
		t.Errorf("trailing byte: %v", err)
	}
}

// BenchmarkAppendBindings measures encoding one binding, as the writer
// does for each REGISTER.
func BenchmarkAppendBindings(b *testing.B) {
	bs := encodeCases()[1:2]
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendBindings(buf[:0], bs)
	}
}
