package media

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWAVWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tone.wav")
	w, err := CreateWAV(path, SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	tone := Tone(440, 12000, SampleRate, 500*time.Millisecond)
	if err := w.Write(tone[:1000]); err != nil {
		t.Fatal(err)
	}
	// The header is valid after every Write, before Close.
	got, err := ReadWAV(path)
	if err != nil {
		t.Fatalf("reading an unclosed file: %v", err)
	}
	if !slices.Equal(got, tone[:1000]) {
		t.Fatalf("unclosed file read back %d samples, want the 1000 written", len(got))
	}
	w.WriteFrame(tone[1000:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Write(tone); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close = %v, want os.ErrClosed", err)
	}
	got, err = ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, tone) {
		t.Fatalf("read back %d samples, want the %d written", len(got), len(tone))
	}
	info, _ := os.Stat(path)
	if info.Size() != int64(44+2*len(tone)) {
		t.Fatalf("file size %d, want %d", info.Size(), 44+2*len(tone))
	}
}

// wavFile builds a RIFF/WAVE file from chunks, each padded to even length.
func wavFile(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
		if len(c)%2 == 1 {
			body = append(body, 0)
		}
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(out, body...)
}

func chunk(id string, data []byte) []byte {
	out := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	return append(out, data...)
}

func fmtChunk(tag uint16, channels, rate, bits int) []byte {
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	return chunk("fmt ", b)
}

func extensibleChunk(sub uint16, channels, rate, bits int) []byte {
	c := fmtChunk(waveExtensible, channels, rate, bits)
	data := c[8:]
	data = binary.LittleEndian.AppendUint16(data, 22)           // cbSize
	data = binary.LittleEndian.AppendUint16(data, uint16(bits)) // valid bits
	data = binary.LittleEndian.AppendUint32(data, 4)            // channel mask: front centre
	data = binary.LittleEndian.AppendUint16(data, sub)
	data = append(data, ksdataformatTail[:]...)
	return chunk("fmt ", data)
}

func pcmBytes(s []int16) []byte {
	var b []byte
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Chunks in any order, an odd-sized chunk with its pad byte, LIST chunks
// and WAVE_FORMAT_EXTENSIBLE with a PCM sub-format are all read.
func TestReadWAVLayouts(t *testing.T) {
	samples := []int16{0, 1, -1, 32767, -32768, 1234}
	data := chunk("data", pcmBytes(samples))
	list := chunk("LIST", append([]byte("INFOISFT"), binary.LittleEndian.AppendUint32(nil, 5)...))
	list = append(list[:len(list)-0], []byte("sox\x00\x00")...)
	binary.LittleEndian.PutUint32(list[4:], uint32(len(list)-8))
	odd := chunk("junk", []byte{1, 2, 3}) // odd size, padded
	tests := map[string][]byte{
		"canonical":      wavFile(fmtChunk(wavePCM, 1, 8000, 16), data),
		"data first":     wavFile(data, fmtChunk(wavePCM, 1, 8000, 16)),
		"LIST and odd":   wavFile(list, odd, fmtChunk(wavePCM, 1, 8000, 16), odd, data, list),
		"extensible PCM": wavFile(extensibleChunk(wavePCM, 1, 8000, 16), data),
		"streamed size":  wavFile(fmtChunk(wavePCM, 1, 8000, 16), append(chunk("data", nil)[:4], append([]byte{0xFF, 0xFF, 0xFF, 0xFF}, pcmBytes(samples)...)...)),
		"trailing junk":  append(wavFile(fmtChunk(wavePCM, 1, 8000, 16), data), 0, 0, 0),
		"big RIFF length": func() []byte {
			f := wavFile(fmtChunk(wavePCM, 1, 8000, 16), data)
			binary.LittleEndian.PutUint32(f[4:], 1<<30)
			return f
		}(),
	}
	for name, file := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ReadWAV(writeFile(t, "x.wav", file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, samples) {
				t.Fatalf("got %v, want %v", got, samples)
			}
		})
	}
}

// Each unsupported file is rejected with one line that names the file and
// what it is.
func TestReadWAVUnsupported(t *testing.T) {
	pcm := chunk("data", make([]byte, 64))
	tests := []struct {
		name, file string
		data       []byte
		format     string
	}{
		{"stereo", "hello.wav", wavFile(fmtChunk(wavePCM, 2, 44100, 16), pcm), "44100 Hz stereo 16-bit PCM"},
		{"8-bit", "u8.wav", wavFile(fmtChunk(wavePCM, 1, 8000, 8), pcm), "8000 Hz mono 8-bit PCM"},
		{"24-bit", "s24.wav", wavFile(fmtChunk(wavePCM, 1, 48000, 24), pcm), "48000 Hz mono 24-bit PCM"},
		{"32-bit", "s32.wav", wavFile(fmtChunk(wavePCM, 1, 16000, 32), pcm), "16000 Hz mono 32-bit PCM"},
		{"float", "f.wav", wavFile(fmtChunk(waveFloat, 1, 16000, 32), pcm), "16000 Hz mono 32-bit IEEE float"},
		{"A-law", "a.wav", wavFile(fmtChunk(waveALaw, 1, 8000, 8), pcm), "8000 Hz mono 8-bit A-law"},
		{"mu-law", "u.wav", wavFile(fmtChunk(waveMuLaw, 1, 8000, 8), pcm), "8000 Hz mono 8-bit µ-law"},
		{"extensible float", "xf.wav", wavFile(extensibleChunk(waveFloat, 1, 8000, 32), pcm), "8000 Hz mono 32-bit extensible IEEE float"},
		{"too fast", "hi.wav", wavFile(fmtChunk(wavePCM, 1, 96000, 16), pcm), "96000 Hz mono 16-bit PCM"},
		{"too slow", "lo.wav", wavFile(fmtChunk(wavePCM, 1, 4000, 16), pcm), "4000 Hz mono 16-bit PCM"},
		{"not RIFF", "song.mp3", []byte("ID3\x03\x00\x00\x00\x00\x00\x00\x00\x00garbage"), `not a RIFF/WAVE file (starts with "ID3\x03")`},
		{"empty", "empty.wav", nil, "empty file"},
		{"AVI", "movie.avi", append([]byte("RIFF\x04\x00\x00\x00"), "AVI "...), `RIFF file of form "AVI ", not WAVE`},
		{"truncated data", "cut.wav", wavFile(fmtChunk(wavePCM, 1, 8000, 16), pcm)[:80], "truncated RIFF/WAVE file (data chunk says 64 bytes, 36 present)"},
		{"truncated header", "cut2.wav", []byte("RIFF\x00"), "truncated RIFF header (5 bytes)"},
		{"no fmt", "nofmt.wav", wavFile(pcm), "RIFF/WAVE file without a fmt chunk"},
		{"no data", "nodata.wav", wavFile(fmtChunk(wavePCM, 1, 8000, 16)), "RIFF/WAVE file without a data chunk (8000 Hz mono 16-bit PCM)"},
		{"odd data", "odd.wav", wavFile(fmtChunk(wavePCM, 1, 8000, 16), chunk("data", []byte{1, 2, 3})), "odd data size 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file, tt.data)
			_, err := ReadWAV(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
			if !strings.HasPrefix(msg, "media: "+path+": ") {
				t.Errorf("error %q does not start with the file name", msg)
			}
			if !strings.Contains(msg, tt.format) {
				t.Errorf("error %q does not say %q", msg, tt.format)
			}
			if !strings.Contains(msg, "want mono 16-bit PCM at 8000 or 16000 Hz (convert with: sox "+path+" -r 8000 -c 1 -b 16") {
				t.Errorf("error %q does not say what is wanted", msg)
			}
			var fe *WAVFormatError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Errorf("error %T is not a *WAVFormatError for the path", err)
			}
		})
	}
	t.Run("spec example", func(t *testing.T) {
		err := &WAVFormatError{Path: "hello.wav", Format: "44100 Hz stereo 16-bit PCM"}
		want := "media: hello.wav: 44100 Hz stereo 16-bit PCM; want mono 16-bit PCM at 8000 or 16000 Hz (convert with: sox hello.wav -r 8000 -c 1 -b 16 out.wav)"
		if err.Error() != want {
			t.Errorf("got  %s\nwant %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := ReadWAV(filepath.Join(t.TempDir(), "nope.wav"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "media: ") || !strings.Contains(err.Error(), "nope.wav") {
			t.Errorf("got %v", err)
		}
	})
}

// A 16 kHz file is resampled to 8 kHz: a 1 kHz tone comes through at the
// same level, and a 5 kHz tone, which would alias to 3 kHz, is attenuated
// by more than 30 dB.
func TestReadWAV16kResampled(t *testing.T) {
	const amp = 10000
	low := Tone(1000, amp, 16000, time.Second)
	high := Tone(5000, amp, 16000, time.Second)
	mix := make([]int16, len(low))
	for i := range mix {
		mix[i] = low[i]/2 + high[i]/2
	}
	path := filepath.Join(t.TempDir(), "wide.wav")
	w, err := CreateWAV(path, 16000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(mix); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(mix)/2 {
		t.Fatalf("%d samples, want %d", len(got), len(mix)/2)
	}
	body := got[400 : len(got)-400] // away from the filter's edge effects
	keep := goertzel(body, 1000, SampleRate)
	alias := goertzel(body, 3000, SampleRate)
	if d := db(keep / (amp / 2)); d < -0.5 || d > 0.5 {
		t.Errorf("1 kHz tone level changed by %.2f dB", d)
	}
	if d := db(alias / (amp / 2)); d > -30 {
		t.Errorf("5 kHz tone aliased to 3 kHz at %.1f dB, want below -30 dB", d)
	} else {
		t.Logf("1 kHz kept at %+.2f dB; 5 kHz alias at %.1f dB", db(keep/(amp/2)), d)
	}
}

func TestResample(t *testing.T) {
	const amp = 10000
	t.Run("rates", func(t *testing.T) {
		for _, from := range []int{8000, 11025, 16000, 22050, 32000, 44100, 48000} {
			in := Tone(697, amp, from, 500*time.Millisecond)
			out := Resample(in, from, SampleRate)
			if want := (len(in)*SampleRate + from - 1) / from; len(out) != want {
				t.Errorf("%d Hz: %d samples, want %d", from, len(out), want)
			}
			body := out[400 : len(out)-400]
			if d := db(goertzel(body, 697, SampleRate) / amp); d < -0.5 || d > 0.5 {
				t.Errorf("%d Hz: 697 Hz level changed by %.2f dB", from, d)
			}
			if f := dominantFreq(body); f != 700 && f != 690 {
				t.Errorf("%d Hz: dominant frequency %v, want 697", from, f)
			}
		}
	})
	t.Run("stopband", func(t *testing.T) {
		// From 48 kHz, tones between 4.4 and 20 kHz would alias into the
		// telephone band.
		for _, f := range []float64{4400, 6000, 9000, 15000, 19000} {
			in := Tone(f, amp, 48000, 500*time.Millisecond)
			out := Resample(in, 48000, SampleRate)
			var peak float64
			for _, v := range out[400 : len(out)-400] {
				peak = max(peak, float64(max(v, -v)))
			}
			if d := db(peak / amp); d > -40 {
				t.Errorf("%v Hz from 48 kHz: residue at %.1f dB, want < -40", f, d)
			}
		}
	})
	t.Run("up", func(t *testing.T) {
		in := Tone(1000, amp, SampleRate, 250*time.Millisecond)
		out := Resample(in, SampleRate, 16000)
		if len(out) != 2*len(in) {
			t.Fatalf("%d samples, want %d", len(out), 2*len(in))
		}
		body := out[400 : len(out)-400]
		if d := db(goertzel(body, 1000, 16000) / amp); d < -0.5 || d > 0.5 {
			t.Errorf("1 kHz level changed by %.2f dB", d)
		}
		if d := db(goertzel(body, 7000, 16000) / amp); d > -40 {
			t.Errorf("image at 7 kHz: %.1f dB", d)
		}
	})
	t.Run("edge cases", func(t *testing.T) {
		in := []int16{1, 2, 3}
		if got := Resample(in, 8000, 8000); !slices.Equal(got, in) || &got[0] == &in[0] {
			t.Errorf("equal rates: %v", got)
		}
		if Resample(in, 0, 8000) != nil || Resample(in, 8000, -1) != nil {
			t.Error("bad rate not nil")
		}
		if got := Resample(nil, 16000, 8000); len(got) != 0 {
			t.Errorf("empty input: %v", got)
		}
	})
}

func BenchmarkResample16kTo8k(b *testing.B) {
	in := Tone(1000, 10000, 16000, time.Second)
	b.ReportAllocs()
	for b.Loop() {
		Resample(in, 16000, SampleRate)
	}
}
