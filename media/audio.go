package media

import (
	"math"
	"sync"
	"time"
)

// Source gives a Session the audio to send, one frame at a time.
//
// ReadFrame fills all of dst (FrameSamples samples at SampleRate) and never
// blocks for long: a Session calls it from its media clock goroutine every
// 20 ms while it is sending audio. A source with nothing to say fills dst
// with zeros (silence). ReadFrame must not keep dst after returning.
type Source interface {
	ReadFrame(dst []int16)
}

// Sink takes the audio a Session plays out, one frame at a time.
//
// WriteFrame receives FrameSamples samples at SampleRate every 20 ms of
// playout time, from the Session's media clock goroutine; it must return
// quickly and must not keep frame after returning (copy it).
type Sink interface {
	WriteFrame(frame []int16)
}

// fileSource plays a fixed buffer of samples. mu guards pos, because a
// Source may be shared between a Session and the code that started it.
type fileSource struct {
	samples []int16 // read-only after construction
	loop    bool    // read-only after construction

	mu  sync.Mutex
	pos int // next sample to play; guarded by mu
}

// NewFileSource returns a Source that plays samples (at SampleRate) once and
// then silence, or, when loop is true, repeats them forever. The source
// keeps samples; the caller must not modify them afterwards. An empty or
// nil samples plays silence.
func NewFileSource(samples []int16, loop bool) Source {
	return &fileSource{samples: samples, loop: loop}
}

// ReadFrame implements Source.
func (f *fileSource) ReadFrame(dst []int16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := 0; n < len(dst); {
		if f.pos >= len(f.samples) {
			if !f.loop || len(f.samples) == 0 {
				clear(dst[n:])
				return
			}
			f.pos = 0
		}
		c := copy(dst[n:], f.samples[f.pos:])
		f.pos += c
		n += c
	}
}

// echoDepth is the number of frames an Echo holds: 200 ms.
const echoDepth = 10

// Echo is a Sink that feeds what it receives back as a Source: attach the
// same Echo as both Config.Sink and Config.Source and the caller hears
// themselves after the jitter buffer delay. It holds at most 200 ms of
// audio; when the writer runs ahead, the oldest frames are dropped. A frame
// it has not got yet reads as silence. Echo is safe for concurrent use; the
// zero value is not usable, call NewEcho.
type Echo struct {
	mu     sync.Mutex
	frames [echoDepth][FrameSamples]int16 // ring of queued frames; guarded by mu
	head   int                            // index of the oldest queued frame; guarded by mu
	n      int                            // number of queued frames; guarded by mu
}

// NewEcho returns an empty Echo.
func NewEcho() *Echo { return &Echo{} }

// WriteFrame queues a copy of frame (up to FrameSamples samples; a shorter
// frame is padded with silence), dropping the oldest queued frame when 200
// ms are already queued.
func (e *Echo) WriteFrame(frame []int16) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == echoDepth {
		e.head = (e.head + 1) % echoDepth
		e.n--
	}
	slot := &e.frames[(e.head+e.n)%echoDepth]
	c := copy(slot[:], frame)
	clear(slot[c:])
	e.n++
}

// ReadFrame fills dst with the oldest queued frame, or silence when none is
// queued. A dst longer than FrameSamples is padded with silence.
func (e *Echo) ReadFrame(dst []int16) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		clear(dst)
		return
	}
	c := copy(dst, e.frames[e.head][:])
	clear(dst[c:])
	e.head = (e.head + 1) % echoDepth
	e.n--
}

// Tone returns dur of a sine wave of freq Hz and peak amplitude amp
// (0..32767) sampled at rate Hz, starting at phase 0. A non-positive rate
// or duration gives nil.
func Tone(freq float64, amp int16, rate int, dur time.Duration) []int16 {
	if rate <= 0 || dur <= 0 {
		return nil
	}
	n := int(int64(dur) * int64(rate) / int64(time.Second))
	out := make([]int16, n)
	w := 2 * math.Pi * freq / float64(rate)
	a := float64(amp)
	for i := range out {
		out[i] = int16(math.Round(a * math.Sin(w*float64(i))))
	}
	return out
}
