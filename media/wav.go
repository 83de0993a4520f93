package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// WAVE format tags (Microsoft RIFF specification; RFC 2361 lists them).
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

// Rates ReadWAV accepts; anything in between is resampled to SampleRate.
const (
	wavMinRate = 8000
	wavMaxRate = 48000
)

// ksdataformatTail is bytes 2..15 of every KSDATAFORMAT_SUBTYPE GUID whose
// first two bytes are a WAVE format tag (PCM, IEEE float, ...).
var ksdataformatTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// WAVFormatError reports a file that ReadWAV cannot use. Its message is one
// line naming the file, what it is and what is wanted, with a sox command
// that converts it.
type WAVFormatError struct {
	Path   string // the file, as passed to ReadWAV
	Format string // what the file is, e.g. "44100 Hz stereo 16-bit PCM"
}

// Error implements error.
func (e *WAVFormatError) Error() string {
	enc := ""
	if !strings.HasSuffix(e.Format, "-bit PCM") {
		enc = " -e signed-integer"
	}
	return fmt.Sprintf("media: %s: %s; want mono 16-bit PCM at 8000 or 16000 Hz (convert with: sox %s -r 8000 -c 1 -b 16%s out.wav)",
		e.Path, e.Format, shellQuote(e.Path), enc)
}

// shellQuote quotes p for a POSIX shell when it needs quoting.
func shellQuote(p string) string {
	if p != "" && strings.IndexFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%", r))
	}) < 0 {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// wavFormat is the content of a fmt chunk that matters here.
type wavFormat struct {
	tag      uint16 // format tag, the sub-format tag for WAVE_FORMAT_EXTENSIBLE
	ext      bool   // the file used WAVE_FORMAT_EXTENSIBLE
	channels int
	rate     int
	bits     int
}

func (f wavFormat) String() string {
	var ch string
	switch f.channels {
	case 1:
		ch = "mono"
	case 2:
		ch = "stereo"
	default:
		ch = strconv.Itoa(f.channels) + "-channel"
	}
	var enc string
	switch f.tag {
	case wavePCM:
		enc = "PCM"
	case waveFloat:
		enc = "IEEE float"
	case waveALaw:
		enc = "A-law"
	case waveMuLaw:
		enc = "µ-law"
	default:
		enc = fmt.Sprintf("format 0x%04X", f.tag)
	}
	if f.ext && f.tag != wavePCM {
		enc = "extensible " + enc
	}
	return fmt.Sprintf("%d Hz %s %d-bit %s", f.rate, ch, f.bits, enc)
}

// ReadWAV reads a RIFF/WAVE file of 16-bit signed PCM, mono, at a rate from
// 8000 to 48000 Hz, and returns its samples at SampleRate (resampling with
// Resample when needed). Chunks may come in any order; odd-sized chunks
// are padded (RIFF), LIST and other unknown chunks are skipped, and
// WAVE_FORMAT_EXTENSIBLE with a PCM sub-format is accepted. A data chunk
// size of 0xFFFFFFFF (written by streaming tools) means "to the end of the
// file".
//
// Any other content (stereo, 8/24/32-bit, float, A-law or µ-law WAVE, not
// RIFF, truncated) gives a *WAVFormatError whose one-line message names the
// file, what it is, what is wanted and how to convert it. Errors opening or
// reading the file are returned wrapped.
func ReadWAV(path string) ([]int16, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("media: read WAV file: %w; check the path and its permissions", err)
	}
	bad := func(format string, args ...any) error {
		return &WAVFormatError{Path: path, Format: fmt.Sprintf(format, args...)}
	}
	if len(data) == 0 {
		return nil, bad("empty file")
	}
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		switch {
		case len(data) >= 4 && string(data[0:4]) == "RIFX":
			return nil, bad("big-endian RIFX file")
		case len(data) >= 4 && string(data[0:4]) == "RF64":
			return nil, bad("RF64 (64-bit RIFF) file")
		case len(data) >= 12 && string(data[0:4]) == "RIFF":
			return nil, bad("RIFF file of form %q, not WAVE", data[8:12])
		case len(data) < 12 && bytes.HasPrefix([]byte("RIFF"), data[:min(4, len(data))]):
			return nil, bad("truncated RIFF header (%d bytes)", len(data))
		}
		return nil, bad("not a RIFF/WAVE file (starts with %q)", data[:min(4, len(data))])
	}

	// The RIFF size is often wrong in files written by careless tools; trust
	// it only when it fits in the file.
	end := len(data)
	if riff := int64(binary.LittleEndian.Uint32(data[4:8])) + 8; riff >= 12 && riff < int64(end) {
		end = int(riff)
	}

	var (
		format  *wavFormat
		pcm     []byte
		haveDat bool
	)
	for off := 12; off < end; {
		if end-off < 8 {
			if format != nil && haveDat {
				break // trailing junk after complete chunks
			}
			return nil, bad("truncated RIFF/WAVE file (partial chunk header at byte %d)", off)
		}
		id := string(data[off : off+4])
		size := int64(binary.LittleEndian.Uint32(data[off+4 : off+8]))
		body := off + 8
		avail := int64(end - body)
		if id == "data" && size == 0xFFFFFFFF {
			size = avail &^ 1
		}
		if size > avail {
			if format != nil && haveDat {
				break // a damaged chunk after everything we need
			}
			if id == "data" {
				return nil, bad("truncated RIFF/WAVE file (data chunk says %d bytes, %d present)", size, avail)
			}
			return nil, bad("truncated RIFF/WAVE file (%q chunk says %d bytes, %d present)", id, size, avail)
		}
		chunk := data[body : body+int(size)]
		switch id {
		case "fmt ":
			f, err := parseWAVFormat(chunk)
			if err != nil {
				return nil, bad("%v", err)
			}
			format = &f
		case "data":
			pcm = chunk
			haveDat = true
		}
		off = body + int(size) + int(size&1) // RIFF chunks are padded to even length
	}
	if format == nil {
		return nil, bad("RIFF/WAVE file without a fmt chunk")
	}
	if !haveDat {
		return nil, bad("RIFF/WAVE file without a data chunk (%s)", format)
	}
	if format.tag != wavePCM || format.bits != 16 || format.channels != 1 ||
		format.rate < wavMinRate || format.rate > wavMaxRate {
		return nil, bad("%s", format)
	}
	if len(pcm)%2 != 0 {
		return nil, bad("truncated RIFF/WAVE file (odd data size %d for 16-bit samples)", len(pcm))
	}
	samples := make([]int16, len(pcm)/2)
	for i := range samples {
		samples[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
	}
	if format.rate != SampleRate {
		samples = Resample(samples, format.rate, SampleRate)
	}
	return samples, nil
}

// parseWAVFormat decodes a fmt chunk (WAVEFORMATEX, possibly extensible).
func parseWAVFormat(b []byte) (wavFormat, error) {
	if len(b) < 16 {
		return wavFormat{}, fmt.Errorf("fmt chunk of %d bytes (want at least 16)", len(b))
	}
	f := wavFormat{
		tag:      binary.LittleEndian.Uint16(b[0:2]),
		channels: int(binary.LittleEndian.Uint16(b[2:4])),
		rate:     int(binary.LittleEndian.Uint32(b[4:8])),
		bits:     int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.tag == waveExtensible {
		f.ext = true
		if len(b) < 40 {
			return f, fmt.Errorf("WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes (want 40)", len(b))
		}
		sub := b[24:40]
		if !bytes.Equal(sub[2:], ksdataformatTail[:]) {
			return f, fmt.Errorf("%d Hz %d-channel %d-bit extensible with unknown sub-format GUID", f.rate, f.channels, f.bits)
		}
		f.tag = binary.LittleEndian.Uint16(sub[0:2])
	}
	return f, nil
}

// wavHeaderSize is the size of the canonical 44-byte header CreateWAV writes.
const wavHeaderSize = 44

// WAVWriter writes a RIFF/WAVE file of 16-bit mono PCM. After every Write
// the header's sizes are brought up to date, so a recording cut short by a
// crash is still a valid file; Close does it a last time. WAVWriter is safe
// for concurrent use and is a Sink, so it can record a Session's playout.
type WAVWriter struct {
	path string // read-only

	mu     sync.Mutex
	f      *os.File            // nil after Close; guarded by mu
	n      int64               // data bytes written; guarded by mu
	buf    []byte              // scratch for little-endian samples; guarded by mu
	hdr    [wavHeaderSize]byte // the header as last written; guarded by mu
	sinkEr error               // first error from WriteFrame, returned by Close; guarded by mu
}

// CreateWAV creates (or truncates) the file at path and writes a WAVE
// header for 16-bit mono PCM at rate Hz (1..192000).
func CreateWAV(path string, rate int) (*WAVWriter, error) {
	if rate <= 0 || rate > 192000 {
		return nil, fmt.Errorf("media: create %s: sample rate %d Hz; want 1..192000 (8000 for telephone audio)", path, rate)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("media: create WAV file: %w; check the directory exists and is writable", err)
	}
	w := &WAVWriter{path: path, f: f}
	h := w.hdr[:]
	copy(h[0:], "RIFF")
	copy(h[8:], "WAVE")
	copy(h[12:], "fmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavePCM)
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2)) // byte rate
	binary.LittleEndian.PutUint16(h[32:], 2)              // block align
	binary.LittleEndian.PutUint16(h[34:], 16)             // bits per sample
	copy(h[36:], "data")
	w.setSizesLocked()
	if _, err := f.Write(h); err != nil {
		f.Close()
		return nil, fmt.Errorf("media: write WAV header: %w", err)
	}
	return w, nil
}

func (w *WAVWriter) setSizesLocked() {
	// The data is whole 2-byte samples: always even, never a pad byte.
	binary.LittleEndian.PutUint32(w.hdr[4:], uint32(36+w.n))
	binary.LittleEndian.PutUint32(w.hdr[40:], uint32(w.n))
}

// maxWAVData keeps the RIFF size field within 32 bits.
const maxWAVData = math.MaxUint32 - 36

// Write appends samples to the file and updates the header. Writing to a
// closed writer is an error, as is growing the file past the 4 GiB limit of
// RIFF.
func (w *WAVWriter) Write(samples []int16) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(samples)
}

func (w *WAVWriter) writeLocked(samples []int16) error {
	if w.f == nil {
		return fmt.Errorf("media: write %s: %w", w.path, os.ErrClosed)
	}
	if w.n+int64(2*len(samples)) > maxWAVData {
		return fmt.Errorf("media: write %s: WAV file would exceed 4 GiB; start a new file", w.path)
	}
	w.buf = w.buf[:0]
	for _, s := range samples {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	if _, err := w.f.WriteAt(w.buf, wavHeaderSize+w.n); err != nil {
		return fmt.Errorf("media: write WAV samples: %w", err)
	}
	w.n += int64(len(w.buf))
	w.setSizesLocked()
	// Bytes 4..43 hold both sizes; one write keeps the header consistent.
	if _, err := w.f.WriteAt(w.hdr[4:wavHeaderSize], 4); err != nil {
		return fmt.Errorf("media: update WAV header: %w", err)
	}
	return nil
}

// WriteFrame implements Sink: it writes frame like Write and keeps the first
// error for Close to return. The samples are written as they are, so use a
// writer created with rate SampleRate.
func (w *WAVWriter) WriteFrame(frame []int16) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeLocked(frame); err != nil && w.sinkEr == nil && !errors.Is(err, os.ErrClosed) {
		w.sinkEr = err
	}
}

// Close finalises the header and closes the file. It returns the first
// error WriteFrame met, if any. Closing twice returns nil the second time.
func (w *WAVWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	err := w.sinkEr
	w.setSizesLocked()
	if _, e := f.WriteAt(w.hdr[4:wavHeaderSize], 4); e != nil && err == nil {
		err = fmt.Errorf("media: update WAV header: %w", e)
	}
	if e := f.Close(); e != nil && err == nil {
		err = fmt.Errorf("media: close WAV file: %w", e)
	}
	return err
}
