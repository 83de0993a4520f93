package location

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// The SQLite store keeps the bindings of an AOR in one row, encoded in a
// BLOB: one statement with two arguments per update instead of a DELETE
// and an INSERT of sixteen columns per binding, which is what the store's
// writer spent most of its time on.
//
// The encoding is a format byte (bindingsFormat) and the number of
// bindings, then for each binding, in order: Contact, Params, Q, a flags
// varint (bit 0: Expires set, bit 1: Updated set, bit 2: Path not nil),
// Expires and Updated as unix nanoseconds when set, CallID, CSeq, Path
// (a count, then each value) when not nil, Instance, RegID, Transport,
// Source and Local as netip.AddrPort text ("" for none), Conn and
// UserAgent. Strings are a uvarint length and the bytes; integers are
// varints (signed) or uvarints (unsigned). The AOR is the row's key, not
// repeated.

// bindingsFormat is the first byte of an encoded row; a later format
// takes the next number, so that rows of both can be read.
const bindingsFormat = 1

const (
	flagExpires = 1 << iota
	flagUpdated
	flagPath
)

// appendBindings appends the encoding of bs, which normalise has
// accepted, to dst.
func appendBindings(dst []byte, bs []Binding) []byte {
	dst = append(dst, bindingsFormat)
	dst = binary.AppendUvarint(dst, uint64(len(bs)))
	for i := range bs {
		b := &bs[i]
		dst = appendString(dst, b.Contact)
		dst = appendString(dst, b.Params)
		dst = binary.AppendVarint(dst, int64(b.Q))
		var flags uint64
		if !b.Expires.IsZero() {
			flags |= flagExpires
		}
		if !b.Updated.IsZero() {
			flags |= flagUpdated
		}
		if b.Path != nil {
			flags |= flagPath
		}
		dst = binary.AppendUvarint(dst, flags)
		if flags&flagExpires != 0 {
			dst = binary.AppendVarint(dst, b.Expires.UnixNano())
		}
		if flags&flagUpdated != 0 {
			dst = binary.AppendVarint(dst, b.Updated.UnixNano())
		}
		dst = appendString(dst, b.CallID)
		dst = binary.AppendUvarint(dst, uint64(b.CSeq))
		if b.Path != nil {
			dst = binary.AppendUvarint(dst, uint64(len(b.Path)))
			for _, p := range b.Path {
				dst = appendString(dst, p)
			}
		}
		dst = appendString(dst, b.Instance)
		dst = binary.AppendVarint(dst, int64(b.RegID))
		dst = appendString(dst, b.Transport)
		dst = appendAddrPort(dst, b.Source)
		dst = appendAddrPort(dst, b.Local)
		dst = binary.AppendUvarint(dst, b.Conn)
		dst = appendString(dst, b.UserAgent)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// errCorrupt is wrapped by decodeBindings' errors.
var errCorrupt = errors.New("corrupt bindings")

// decoder reads an encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint undoes binary.AppendVarint's zig-zag over a uvarint.
func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) string(what string) string {
	n := d.uvarint(what)
	if n > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// decodeBindings is the inverse of appendBindings; each binding gets aor
// as its AOR.
func decodeBindings(aor string, data []byte) ([]Binding, error) {
	if len(data) == 0 || data[0] != bindingsFormat {
		return nil, fmt.Errorf("%w: unknown format", errCorrupt)
	}
	d := &decoder{b: data[1:]}
	n := d.uvarint("count")
	if d.err != nil {
		return nil, d.err
	}
	if n > uint64(len(d.b)) { // every binding takes more than a byte
		return nil, fmt.Errorf("%w: bad count", errCorrupt)
	}
	bs := make([]Binding, 0, n)
	for range n {
		b := Binding{AOR: aor}
		b.Contact = d.string("contact")
		b.Params = d.string("params")
		b.Q = int(d.varint("q"))
		flags := d.uvarint("flags")
		if flags&flagExpires != 0 {
			b.Expires = time.Unix(0, d.varint("expires")).UTC()
		}
		if flags&flagUpdated != 0 {
			b.Updated = time.Unix(0, d.varint("updated")).UTC()
		}
		b.CallID = d.string("call-id")
		b.CSeq = uint32(d.uvarint("cseq"))
		if flags&flagPath != 0 {
			np := d.uvarint("path")
			if np > uint64(len(d.b)) {
				d.fail("path")
			}
			b.Path = make([]string, 0, np)
			for range np {
				b.Path = append(b.Path, d.string("path"))
			}
		}
		b.Instance = d.string("instance")
		b.RegID = int(d.varint("reg-id"))
		b.Transport = d.string("transport")
		var err error
		if b.Source, err = parseAddrPort(d.string("source")); err != nil {
			d.fail("source")
		}
		if b.Local, err = parseAddrPort(d.string("local")); err != nil {
			d.fail("local")
		}
		b.Conn = d.uvarint("conn")
		b.UserAgent = d.string("user-agent")
		if d.err != nil {
			return nil, d.err
		}
		bs = append(bs, b)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last binding", errCorrupt, len(d.b))
	}
	return bs, nil
}

// appendAddrPort appends ap as text ("" for the zero AddrPort).
func appendAddrPort(dst []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return binary.AppendUvarint(dst, 0)
	}
	var tmp [64]byte
	t := ap.AppendTo(tmp[:0])
	dst = binary.AppendUvarint(dst, uint64(len(t)))
	return append(dst, t...)
}
