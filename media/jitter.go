package media

import "time"

// Jitter buffer geometry.
const (
	jbSlots      = 64         // packets held, indexed by sequence number
	jbSlotBytes  = maxPacket  // payload bytes per packet (G.711: one per sample)
	jbAhead      = SampleRate // samples beyond the delay a packet may run ahead before a resync
	jbBehind     = SampleRate // samples a packet may lag before it means a new timeline
	jbLateResync = 5          // consecutive late packets that mean the sender's clock is slow
	concealSteps = 3          // missing frames concealed by fading repetition before silence
)

// jitterBuffer is a fixed-delay playout buffer. Packets are stored as
// received (indexed by sequence number) and decoded at playout, when the
// frame for the next timestamp is assembled from whichever packets cover
// it, so any packetization interval works. Its owner's lock guards it.
type jitterBuffer struct {
	delay       time.Duration
	delayFrames int // delay in whole frames

	meta [jbSlots]jbMeta
	data [jbSlots][jbSlotBytes]byte

	started   bool      // the first packet has arrived
	playStart time.Time // when the first frame is due
	played    int64     // frames played (or skipped) since playStart
	next      uint32    // timestamp of the next frame to play
	restartAt bool      // the next packet starts a new timeline (new source)
	lateRun   int       // consecutive packets that came too late

	last       [FrameSamples]int16 // the last frame that had audio, for concealment
	haveLast   bool
	concealRun int // consecutive frames concealed

	late      uint64 // packets dropped for arriving after their playout time
	frames    uint64 // frames given to the Sink
	concealed uint64 // of which had no audio at all
}

type jbMeta struct {
	used bool
	n    int32  // samples (bytes) held
	ts   uint32 // timestamp of the first sample
}

func (b *jitterBuffer) init(delay time.Duration) {
	b.delay = delay
	b.delayFrames = int((delay + frameDuration - 1) / frameDuration)
}

// restart makes the next packet start a new timeline (a new source).
func (b *jitterBuffer) restart() { b.restartAt = true }

// retime empties the buffer and schedules ts to play after the buffer
// delay, without interrupting the frames given to the Sink.
func (b *jitterBuffer) retime(ts uint32) {
	for i := range b.meta {
		b.meta[i].used = false
	}
	b.next = ts - uint32(b.delayFrames*FrameSamples)
	b.lateRun = 0
	b.restartAt = false
}

// insert stores one audio payload. A packet entirely before the next frame
// to play is late and dropped; one so far ahead or behind that it cannot
// belong to the current timeline, or a run of late ones (a sender whose
// clock is slower than ours), re-times the buffer.
func (b *jitterBuffer) insert(seq uint16, ts uint32, payload []byte, now time.Time) {
	if len(payload) == 0 {
		return
	}
	if len(payload) > jbSlotBytes {
		payload = payload[:jbSlotBytes]
	}
	n := int32(len(payload))
	switch {
	case !b.started:
		b.started = true
		b.playStart = now.Add(b.delay)
		b.next = ts
		b.restartAt = false
	case b.restartAt:
		b.retime(ts)
	default:
		d := int32(ts - b.next)
		switch {
		case d+n <= 0: // all of it already played
			b.lateRun++
			if d < -jbBehind || b.lateRun >= jbLateResync {
				b.retime(ts)
				break
			}
			b.late++
			return
		case d > int32(b.delayFrames*FrameSamples)+jbAhead:
			b.retime(ts)
		}
	}
	b.lateRun = 0
	i := int(seq) % jbSlots
	b.meta[i] = jbMeta{used: true, n: n, ts: ts}
	copy(b.data[i][:], payload)
}

// due reports whether a frame is due at now, skipping frames the clock
// fell too far behind on.
func (b *jitterBuffer) due(now time.Time) bool {
	if !b.started || now.Before(b.playStart) {
		return false
	}
	due := int64(now.Sub(b.playStart)/frameDuration) + 1
	if behind := due - b.played; behind > maxCatchUp {
		skip := behind - maxCatchUp
		b.played += skip
		b.next += uint32(skip * FrameSamples)
	}
	return b.played < due
}

// pop assembles the frame for the next timestamp into frame, decoding the
// packets that cover it, and conceals a frame no packet covers: the last
// frame repeated at falling volume (75 %, 50 %, 25 %), then silence.
func (b *jitterBuffer) pop(c Codec, frame []int16) {
	clear(frame)
	covered := int32(0)
	for i := range b.meta {
		m := &b.meta[i]
		if !m.used {
			continue
		}
		d := int32(m.ts - b.next) // packet start relative to the frame
		end := d + m.n
		if end <= 0 {
			m.used = false // stale
			continue
		}
		if d >= FrameSamples {
			continue // a later frame
		}
		lo, hi := max(d, 0), min(end, FrameSamples)
		c.decodeInto(frame[lo:hi], b.data[i][lo-d:hi-d])
		covered += hi - lo
		if end <= FrameSamples {
			m.used = false
		}
	}
	b.next += FrameSamples
	b.played++
	b.frames++
	if covered > 0 {
		copy(b.last[:], frame)
		b.haveLast = true
		b.concealRun = 0
		return
	}
	b.concealed++
	if b.haveLast && b.concealRun < concealSteps {
		gain := int32(concealSteps - b.concealRun) // of concealSteps+1
		for i, v := range b.last {
			frame[i] = int16(int32(v) * gain / (concealSteps + 1))
		}
	}
	b.concealRun++
}

// playout gives the Sink every frame that is due at now.
func (s *Session) playout(now time.Time) {
	for range maxCatchUp + 1 {
		s.rxMu.Lock()
		ok := s.rx.jb.due(now)
		if ok {
			s.rx.jb.pop(s.codec, s.playPCM[:])
		}
		s.rxMu.Unlock()
		if !ok {
			return
		}
		if s.sink != nil {
			s.sink.WriteFrame(s.playPCM[:])
		}
	}
}
