package media

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// Known code words and their 16-bit decoded values (ITU-T G.711 tables 1a
// and 2a, scaled to 16 bits).
func TestG711DecodeVectors(t *testing.T) {
	tests := []struct {
		c    Codec
		code byte
		want int16
	}{
		{PCMU, 0xFF, 0},
		{PCMU, 0x7F, 0}, // "negative zero"
		{PCMU, 0x00, -32124},
		{PCMU, 0x80, 32124},
		{PCMU, 0xFE, 8},
		{PCMU, 0x7E, -8},
		{PCMU, 0xEF, 132}, // segment 1, step 0
		{PCMA, 0xD5, 8},
		{PCMA, 0x55, -8},
		{PCMA, 0xAA, 32256},
		{PCMA, 0x2A, -32256},
		{PCMA, 0xD4, 24},
		{PCMA, 0xC5, 264},
	}
	for _, tt := range tests {
		got := tt.c.Decode(nil, []byte{tt.code})
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s decode 0x%02X = %v, want %d", tt.c, tt.code, got, tt.want)
		}
	}
}

func TestG711EncodeVectors(t *testing.T) {
	tests := []struct {
		c    Codec
		in   int16
		want byte
	}{
		{PCMU, 0, 0xFF},
		{PCMU, 32767, 0x80},
		{PCMU, -32768, 0x00},
		{PCMU, 32124, 0x80},
		{PCMU, -32124, 0x00},
		{PCMA, 0, 0xD5},
		{PCMA, -1, 0x55},
		{PCMA, 32767, 0xAA},
		{PCMA, -32768, 0x2A},
	}
	for _, tt := range tests {
		got := tt.c.Encode(nil, []int16{tt.in})
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s encode %d = %X, want %02X", tt.c, tt.in, got, tt.want)
		}
	}
}

// Every code word decodes to a value that encodes back to the same code
// word, except µ-law 0x7F (negative zero), which encodes as 0xFF.
func TestG711RoundTripAllCodes(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		for i := range 256 {
			code := byte(i)
			pcm := c.Decode(nil, []byte{code})
			back := c.Encode(nil, pcm)
			want := code
			if c == PCMU && code == 0x7F {
				want = 0xFF
			}
			if back[0] != want {
				t.Errorf("%s: 0x%02X -> %d -> 0x%02X, want 0x%02X", c, code, pcm[0], back[0], want)
			}
		}
	}
}

// Quantization is monotonic and each sample lands within the step of its
// segment: |decode(encode(x)) - x| is at most half a step, plus the
// clipping at the ends of the range.
func TestG711QuantizationError(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		prev := int16(math.MinInt16)
		for x := math.MinInt16; x <= math.MaxInt16; x++ {
			y := c.Decode(nil, c.Encode(nil, []int16{int16(x)}))[0]
			if y < prev {
				t.Fatalf("%s: not monotonic at %d: %d after %d", c, x, y, prev)
			}
			prev = y
			mag := math.Abs(float64(x))
			// Step size of the segment, in 16-bit units.
			var step float64
			if c == PCMU {
				step = 8 * math.Pow(2, math.Floor(math.Log2((mag+132)/128))) // 2 << seg, scaled by 4
			} else {
				step = 16 * math.Pow(2, math.Max(0, math.Floor(math.Log2(math.Max(mag, 1)/256))))
			}
			limit := step/2 + 8
			if c == PCMU && mag > 32124 {
				limit = mag - 32124 + step/2
			}
			if c == PCMA && mag > 32256 {
				limit = mag - 32256 + step/2
			}
			if d := math.Abs(float64(y) - float64(x)); d > limit {
				t.Fatalf("%s: %d decodes to %d, error %.0f > %.0f", c, x, y, d, limit)
			}
		}
	}
}

// A sine through each law keeps a signal-to-quantization-noise ratio
// above 35 dB (G.711 gives about 38 dB over its useful range).
func TestG711SineSNR(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		for _, amp := range []int16{2000, 8000, 30000} {
			x := Tone(1004, amp, SampleRate, time.Second)
			y := c.Decode(nil, c.Encode(nil, x))
			var sig, noise float64
			for i := range x {
				sig += float64(x[i]) * float64(x[i])
				e := float64(y[i]) - float64(x[i])
				noise += e * e
			}
			snr := 10 * math.Log10(sig/noise)
			if snr < 35 {
				t.Errorf("%s amplitude %d: SNR %.1f dB, want > 35", c, amp, snr)
			}
		}
	}
}

func TestG711AppendsAndUnknownCodec(t *testing.T) {
	dst := []byte{1, 2}
	got := PCMU.Encode(dst, []int16{0, 0})
	if fmt.Sprint(got) != "[1 2 255 255]" {
		t.Errorf("Encode appended %v", got)
	}
	pcm := PCMA.Decode([]int16{7}, []byte{0xD5})
	if fmt.Sprint(pcm) != "[7 8]" {
		t.Errorf("Decode appended %v", pcm)
	}
	if got := Codec(9).Encode(nil, []int16{1}); len(got) != 0 {
		t.Errorf("unknown codec encoded %v", got)
	}
	if got := Codec(9).Decode(nil, []byte{1}); len(got) != 0 {
		t.Errorf("unknown codec decoded %v", got)
	}
}

func TestCodecNames(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    Codec
		ok   bool
	}{{"PCMU", PCMU, true}, {"pcmu", PCMU, true}, {"PcmA", PCMA, true}, {"G722", 0, false}, {"", 0, false}} {
		c, ok := CodecByName(tt.name)
		if c != tt.c || ok != tt.ok {
			t.Errorf("CodecByName(%q) = %v, %v", tt.name, c, ok)
		}
	}
	if PCMU.Name() != "PCMU" || PCMA.Name() != "PCMA" || Codec(18).Name() != "PT18" {
		t.Error("Name")
	}
	if PCMU.PayloadType() != 0 || PCMA.PayloadType() != 8 || PCMA.ClockRate() != 8000 {
		t.Error("PayloadType/ClockRate")
	}
}

func ExampleCodec_Encode() {
	payload := PCMU.Encode(nil, []int16{0, 1000, -1000})
	fmt.Printf("% X\n", payload)
	fmt.Println(PCMU.Decode(nil, payload))
	// Output:
	// FF CE 4E
	// [0 988 -988]
}

func BenchmarkG711(b *testing.B) {
	frame := Tone(440, 8000, SampleRate, frameDuration)
	for _, c := range []Codec{PCMU, PCMA} {
		payload := c.Encode(nil, frame)
		b.Run(c.Name()+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, FrameSamples)
			for b.Loop() {
				buf = c.Encode(buf[:0], frame)
			}
		})
		b.Run(c.Name()+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]int16, 0, FrameSamples)
			for b.Loop() {
				buf = c.Decode(buf[:0], payload)
			}
		})
	}
}
