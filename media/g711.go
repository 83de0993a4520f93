package media

import (
	"math/bits"
	"strconv"
	"strings"
)

// Codec is a G.711 codec identified by its static RTP payload type
// (RFC 3551 §6, table 4). Only PCMU and PCMA are valid; the methods of any
// other value behave as documented for an unknown codec.
type Codec uint8

const (
	// PCMU is G.711 µ-law, static payload type 0 (RFC 3551 §4.5.14).
	PCMU Codec = 0
	// PCMA is G.711 A-law, static payload type 8 (RFC 3551 §4.5.14).
	PCMA Codec = 8
)

// SampleRate is the sampling rate of G.711 and of every frame a Source or
// Sink handles, in Hz (RFC 3551 §4.5.14).
const SampleRate = 8000

// FrameSamples is the number of samples in one 20 ms frame at SampleRate,
// the packetization interval used for sending (RFC 3551 §4.2 default ptime).
const FrameSamples = 160

// Name returns the RTP encoding name used in SDP rtpmap ("PCMU", "PCMA"),
// or "PT<n>" for a value that is not a known codec.
func (c Codec) Name() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "PT" + strconv.Itoa(int(c))
}

// String returns Name, so a Codec prints readably.
func (c Codec) String() string { return c.Name() }

// PayloadType returns the static RTP payload type of the codec (0 or 8).
func (c Codec) PayloadType() uint8 { return uint8(c) }

// ClockRate returns the RTP clock rate of the codec: 8000 for G.711
// (RFC 3551 §4.5.14).
func (c Codec) ClockRate() int { return SampleRate }

// valid reports whether c is PCMU or PCMA.
func (c Codec) valid() bool { return c == PCMU || c == PCMA }

// CodecByName returns the codec whose RTP encoding name is name, compared
// case-insensitively ("PCMU", "pcma"); ok is false for any other name.
func CodecByName(name string) (c Codec, ok bool) {
	switch {
	case strings.EqualFold(name, "PCMU"):
		return PCMU, true
	case strings.EqualFold(name, "PCMA"):
		return PCMA, true
	}
	return 0, false
}

// Encode appends the G.711 encoding of pcm (16-bit linear samples, one byte
// per sample) to dst and returns the extended slice. An unknown codec
// appends nothing.
func (c Codec) Encode(dst []byte, pcm []int16) []byte {
	n := len(dst)
	dst = growBytes(dst, len(pcm))
	out := dst[n:]
	switch c {
	case PCMU:
		for i, s := range pcm {
			out[i] = ulawEncode(s)
		}
	case PCMA:
		for i, s := range pcm {
			out[i] = alawEncode(s)
		}
	default:
		return dst[:n]
	}
	return dst
}

// Decode appends the 16-bit linear samples of a G.711 payload (one sample
// per byte) to dst and returns the extended slice. An unknown codec appends
// nothing.
func (c Codec) Decode(dst []int16, payload []byte) []int16 {
	if c != PCMU && c != PCMA {
		return dst
	}
	n := len(dst)
	dst = growSamples(dst, len(payload))
	c.decodeInto(dst[n:], payload)
	return dst
}

// decodeInto writes the decoded samples of payload into out, which must be
// at least len(payload) long. It is the allocation-free form of Decode used
// by the jitter buffer.
func (c Codec) decodeInto(out []int16, payload []byte) {
	table := &ulawTable
	if c == PCMA {
		table = &alawTable
	}
	out = out[:len(payload)]
	for i, b := range payload {
		out[i] = table[b]
	}
}

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*len(b)+n)
	copy(nb, b)
	return nb
}

func growSamples(s []int16, n int) []int16 {
	if cap(s)-len(s) >= n {
		return s[:len(s)+n]
	}
	ns := make([]int16, len(s)+n, 2*len(s)+n)
	copy(ns, s)
	return ns
}

// Decode tables, computed once at package initialisation and only read
// afterwards.
var (
	ulawTable = makeTable(ulawDecode)
	alawTable = makeTable(alawDecode)
)

func makeTable(decode func(byte) int16) (t [256]int16) {
	for i := range t {
		t[i] = decode(byte(i))
	}
	return t
}

// ulawDecode expands one µ-law code word to a 16-bit sample (the 14-bit
// G.711 value shifted left by 2).
//
// ITU-T G.711 table 2a: the code word is transmitted with all bits
// inverted; the remaining fields are a sign bit, a 3-bit segment (exponent)
// and a 4-bit step (mantissa). The magnitude is ((step*2 + 33) << segment)
// - 33 in 14-bit units, i.e. with the bias of 33 (132 in 16-bit units)
// removed after expansion.
func ulawDecode(code byte) int16 {
	u := ^code
	seg := (u >> 4) & 0x07
	step := int32(u & 0x0F)
	mag := ((step << 3) + ulawBias) << seg
	mag -= ulawBias
	if u&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// ulawBias is the G.711 µ-law bias (33 in 14-bit units) scaled to 16 bits.
const ulawBias = 0x84

// ulawClip is the largest 16-bit magnitude that µ-law can represent
// before the top segment overflows (8159 in 14-bit units, scaled).
const ulawClip = 32635

// ulawEncode compresses a 16-bit sample to µ-law (ITU-T G.711 table 2a).
// The bias is added to the magnitude so that the segment is simply the
// position of its leading one above bit 7; the four bits after the leading
// one are the step. The result is inverted for transmission.
func ulawEncode(s int16) byte {
	mag := int32(s)
	var sign byte
	if mag < 0 {
		mag = -mag
		sign = 0x80
	}
	if mag > ulawClip {
		mag = ulawClip
	}
	mag += ulawBias // now in [0x84, 0x7FFF]
	seg := bits.Len32(uint32(mag)>>7) - 1
	step := byte(mag>>(uint(seg)+3)) & 0x0F
	return ^(sign | byte(seg)<<4 | step)
}

// alawDecode expands one A-law code word to a 16-bit sample (the 13-bit
// G.711 value shifted left by 3).
//
// ITU-T G.711 table 1a: the even bits of the code word are inverted for
// transmission (XOR 0x55); the sign bit is 1 for positive values. Segment 0
// is linear (step*2 + 1, in 13-bit half-steps); segment n ≥ 1 is
// (step*2 + 33) << (n-1). The decoded value is the middle of the interval.
func alawDecode(code byte) int16 {
	a := code ^ 0x55
	seg := (a >> 4) & 0x07
	step := int32(a & 0x0F)
	var mag int32
	if seg == 0 {
		mag = step<<4 + 8
	} else {
		mag = (step<<4 + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// alawEncode compresses a 16-bit sample to A-law (ITU-T G.711 table 1a).
// The sample is reduced to 13 bits; negative values use the one's
// complement, as the standard's decision levels are symmetric around -½.
// The segment is the position of the leading one above bit 4.
func alawEncode(s int16) byte {
	var mag int32
	var sign byte
	if s >= 0 {
		mag = int32(s) >> 3
		sign = 0x80
	} else {
		mag = int32(^s) >> 3
	}
	// mag is in [0, 4095].
	var seg, step int32
	if mag < 32 {
		step = mag >> 1
	} else {
		seg = int32(bits.Len32(uint32(mag))) - 5 // 1..7
		step = (mag >> uint(seg)) & 0x0F
	}
	return (sign | byte(seg)<<4 | byte(step)) ^ 0x55
}
