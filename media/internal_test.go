package media

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// ramp returns n samples counting up from start, a signal in which every
// misplaced sample shows.
func ramp(start, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16((start + i) * 8)
	}
	return out
}

// lin is a PCMA round trip: what a ramp sample sounds like after G.711.
func lin(s []int16) []int16 { return PCMA.Decode(nil, PCMA.Encode(nil, s)) }

// jbHarness drives a jitter buffer with virtual time.
type jbHarness struct {
	t   *testing.T
	jb  jitterBuffer
	t0  time.Time
	out []int16
}

func newJB(t *testing.T, delay time.Duration) *jbHarness {
	h := &jbHarness{t: t, t0: time.Unix(1000, 0)}
	h.jb.init(delay)
	return h
}

func (h *jbHarness) at(ms int) time.Time { return h.t0.Add(time.Duration(ms) * time.Millisecond) }

func (h *jbHarness) put(seq uint16, ts uint32, samples []int16, ms int) {
	h.jb.insert(seq, ts, PCMA.Encode(nil, samples), h.at(ms))
}

// play plays every frame due at ms.
func (h *jbHarness) play(ms int) {
	frame := make([]int16, FrameSamples)
	for h.jb.due(h.at(ms)) {
		h.jb.pop(PCMA, frame)
		h.out = append(h.out, frame...)
	}
}

func TestJitterBufferReorderAndDelay(t *testing.T) {
	h := newJB(t, 60*time.Millisecond)
	const ts0 = 0xFFFFFF00 // wraps during the test
	// Packets 0..9 arrive in the order 0 2 1 3 5 4 ..., each within the delay.
	order := []int{0, 2, 1, 3, 5, 4, 6, 8, 7, 9}
	for i, k := range order {
		h.put(uint16(100+k), ts0+uint32(k*FrameSamples), ramp(k*FrameSamples, FrameSamples), i*20)
		h.play(i * 20)
	}
	h.play(9*20 + 60)
	if got := len(h.out) / FrameSamples; got != 10 {
		t.Fatalf("played %d frames, want 10", got)
	}
	if !slices.Equal(h.out, lin(ramp(0, 10*FrameSamples))) {
		t.Fatal("frames not played in timestamp order")
	}
	if h.jb.late != 0 || h.jb.concealed != 0 {
		t.Fatalf("late %d, concealed %d", h.jb.late, h.jb.concealed)
	}
	// Playout started one delay after the first packet, not before.
	h2 := newJB(t, 60*time.Millisecond)
	h2.put(1, 0, ramp(0, FrameSamples), 0)
	h2.play(59)
	if len(h2.out) != 0 {
		t.Fatal("played before the jitter delay")
	}
	h2.play(60)
	if len(h2.out) != FrameSamples {
		t.Fatalf("played %d samples at the delay, want one frame", len(h2.out))
	}
}

func TestJitterBufferLateAndConceal(t *testing.T) {
	h := newJB(t, 40*time.Millisecond)
	frame := ramp(0, FrameSamples)
	h.put(0, 0, frame, 0)
	h.play(40) // plays ts 0
	// ts 160 never comes; ts 320 comes in time, ts 160 shows up after its slot.
	h.put(2, 320, ramp(320, FrameSamples), 45)
	h.play(60) // conceals ts 160
	h.put(1, 160, ramp(160, FrameSamples), 61)
	h.play(80) // plays ts 320
	h.play(100)
	h.play(120)
	h.play(140)
	h.play(160)
	if h.jb.late != 1 {
		t.Errorf("late = %d, want 1", h.jb.late)
	}
	got := h.out
	if len(got) != 7*FrameSamples {
		t.Fatalf("played %d samples", len(got))
	}
	want := lin(frame)
	// Frame 2 is frame 1 at 75 %; frame 3 is ts 320; then three fading
	// repetitions of it would follow, 75 %, 50 %, 25 %, then silence.
	for i, v := range got[FrameSamples : 2*FrameSamples] {
		if e := int16(int32(want[i]) * 3 / 4); v != e {
			t.Fatalf("concealed sample %d = %d, want %d", i, v, e)
		}
	}
	if !slices.Equal(got[2*FrameSamples:3*FrameSamples], lin(ramp(320, FrameSamples))) {
		t.Fatal("frame after the gap is wrong")
	}
	last := lin(ramp(320, FrameSamples))
	for k, gain := range []int32{3, 2, 1, 0} {
		f := got[(3+k)*FrameSamples : (4+k)*FrameSamples]
		for i := range f {
			if e := int16(int32(last[i]) * gain / 4); f[i] != e {
				t.Fatalf("conceal step %d sample %d = %d, want %d", k, i, f[i], e)
			}
		}
	}
	if h.jb.concealed != 5 || h.jb.frames != 7 {
		t.Errorf("concealed %d of %d frames, want 5 of 7", h.jb.concealed, h.jb.frames)
	}
}

// A peer sending 30 ms packets (240 samples) is played out in 20 ms frames
// without gaps.
func TestJitterBufferOtherPtime(t *testing.T) {
	h := newJB(t, 60*time.Millisecond)
	const n = 240
	for k := range 10 {
		h.put(uint16(k), uint32(k*n), ramp(k*n, n), k*30)
		h.play(k * 30)
	}
	h.play(60 + 14*20) // the 15th and last frame
	want := lin(ramp(0, 10*n))
	if len(h.out) < len(want) || !slices.Equal(h.out[:len(want)], want) {
		t.Fatalf("30 ms packets not reassembled into 20 ms frames (%d samples)", len(h.out))
	}
	if h.jb.concealed != 0 {
		t.Errorf("%d frames concealed", h.jb.concealed)
	}
}

// A timestamp jump (a peer that restarted its clock) or a run of late
// packets (a peer whose clock is slow) re-times the buffer instead of
// dropping everything from then on.
func TestJitterBufferRetime(t *testing.T) {
	h := newJB(t, 60*time.Millisecond)
	ms := 0
	for k := range 5 {
		h.put(uint16(k), uint32(k*FrameSamples), ramp(0, FrameSamples), ms)
		h.play(ms)
		ms += 20
	}
	// Jump 10 s ahead.
	for k := 5; k < 15; k++ {
		h.put(uint16(k), 80000+uint32(k*FrameSamples), ramp(0, FrameSamples), ms)
		h.play(ms)
		ms += 20
	}
	if h.jb.late != 0 {
		t.Errorf("after jump: %d late", h.jb.late)
	}
	before := h.jb.concealed
	// Now the peer's clock falls 200 ms behind ours: its packets are late.
	for k := 15; k < 40; k++ {
		h.put(uint16(k), 80000+uint32(k*FrameSamples)-1600, ramp(0, FrameSamples), ms)
		h.play(ms)
		ms += 20
	}
	if h.jb.late != jbLateResync-1 {
		t.Errorf("late = %d, want %d before re-timing", h.jb.late, jbLateResync-1)
	}
	if c := h.jb.concealed - before; c > 10 {
		t.Errorf("%d frames concealed after re-timing", c)
	}
}

func TestSeqStateRFC3550(t *testing.T) {
	var q seqState
	q.restart(65530)
	for s := 65531; s < 65536+20; s++ { // wraps
		if s == 65540 {
			continue // one lost
		}
		if !q.update(uint16(s)) {
			t.Fatalf("seq %d rejected", s)
		}
	}
	q.update(10) // a duplicate
	if q.extendedMax() != 65536+19 {
		t.Errorf("extended max = %d", q.extendedMax())
	}
	exp, rec := q.totals()
	if exp != 26 || rec != 26 { // 26 expected, 25 + 1 duplicate received
		t.Errorf("expected %d received %d, want 26 26", exp, rec)
	}
	// A stray far away is rejected, twice in a row it is a restart.
	if q.update(30000) {
		t.Error("stray accepted")
	}
	if !q.update(30001) {
		t.Error("restart not accepted")
	}
	exp, rec = q.totals()
	if exp != 27 || rec != 27 {
		t.Errorf("after restart: expected %d received %d", exp, rec)
	}
	q.update(30003) // 30002 lost
	fraction, cum := q.interval()
	if cum != 1 || fraction != 256/3 {
		t.Errorf("interval: fraction %d cumulative %d, want %d and 1", fraction, cum, 256/3)
	}
	if fraction, _ := q.interval(); fraction != 0 {
		t.Errorf("empty interval: fraction %d", fraction)
	}
}

func TestReceiveDTMFEvents(t *testing.T) {
	var r receiver
	ev := func(code byte, end bool, dur uint16) []byte {
		f := byte(10)
		if end {
			f |= 0x80
		}
		return []byte{code, f, byte(dur >> 8), byte(dur)}
	}
	var got []rune
	feed := func(ts uint32, p []byte) {
		if d := r.event(ts, p); d != 0 {
			got = append(got, d)
		}
	}
	// A full event with three end packets.
	for i := uint16(1); i <= 5; i++ {
		feed(1000, ev(1, i == 5, 160*i))
	}
	feed(1000, ev(1, true, 800))
	feed(1000, ev(1, true, 800))
	// The first packets of '#' lost: reported on the first that arrives.
	feed(3000, ev(11, false, 480))
	feed(3000, ev(11, true, 800))
	// A late end packet of the first event, after '#'.
	feed(1000, ev(1, true, 800))
	// Not DTMF, and a zero duration: ignored.
	feed(5000, ev(16, false, 160))
	feed(6000, ev(5, false, 0))
	// A long 'D' in two segments (RFC 4733 §2.5.2.3) is one digit.
	feed(7000, ev(15, false, 0xFFFF))
	feed(7000+0xFFFF, ev(15, true, 800))
	// The same digit again is a new event.
	feed(90000, ev(1, true, 800))
	if string(got) != "1#D1" || string(r.dtmfReceived) != "1#D1" {
		t.Errorf("got %q (%q), want \"1#D1\"", string(got), r.dtmfReceived)
	}
}

func TestNTPTime(t *testing.T) {
	if got := ntpTime(time.Unix(0, 0)); got != 2208988800<<32 {
		t.Errorf("Unix epoch = %#x", got)
	}
	if got := ntpTime(time.Unix(0, 500_000_000)); got&0xFFFFFFFF != 1<<31 {
		t.Errorf("half second fraction = %#x", got&0xFFFFFFFF)
	}
	if got := ntpShort(65536 + 32768); got != 1500*time.Millisecond {
		t.Errorf("ntpShort = %v", got)
	}
}

func TestEstimateMOS(t *testing.T) {
	best := EstimateMOS(0, 0)
	if best < 4.3 || best > 4.5 {
		t.Errorf("no impairment: MOS %.2f, want about 4.4", best)
	}
	prev := best
	for _, loss := range []float64{1, 5, 10, 20} {
		m := EstimateMOS(loss, 80*time.Millisecond)
		if m >= prev {
			t.Errorf("MOS does not fall with loss: %.2f at %v%%", m, loss)
		}
		prev = m
	}
	if m := EstimateMOS(10, 80*time.Millisecond); m < 3.0 || m > 3.6 {
		t.Errorf("10%% loss: MOS %.2f, want about 3.3", m)
	}
	if EstimateMOS(0, 400*time.Millisecond) >= EstimateMOS(0, 100*time.Millisecond) {
		t.Error("MOS does not fall with delay")
	}
	if m := EstimateMOS(100, 2*time.Second); m != 1 {
		t.Errorf("hopeless call: MOS %.2f, want 1", m)
	}
}

func TestSourcesAndTone(t *testing.T) {
	tone := Tone(1000, 1000, SampleRate, 25*time.Millisecond) // 200 samples
	if len(tone) != 200 || tone[0] != 0 || tone[2] != 1000 || tone[6] != -1000 {
		t.Fatalf("Tone: len %d, %v", len(tone), tone[:8])
	}
	frame := make([]int16, FrameSamples)
	once := NewFileSource(tone, false)
	once.ReadFrame(frame)
	once.ReadFrame(frame)
	if !slices.Equal(frame[:40], tone[160:]) || slices.ContainsFunc(frame[40:], func(v int16) bool { return v != 0 }) {
		t.Error("once: second frame is not the rest then silence")
	}
	loop := NewFileSource(tone, true)
	loop.ReadFrame(frame)
	loop.ReadFrame(frame)
	if !slices.Equal(frame[:40], tone[160:]) || !slices.Equal(frame[40:], tone[:120]) {
		t.Error("loop: second frame does not wrap around")
	}
	NewFileSource(nil, true).ReadFrame(frame)
	if slices.ContainsFunc(frame, func(v int16) bool { return v != 0 }) {
		t.Error("empty looping source is not silent")
	}

	e := NewEcho()
	e.ReadFrame(frame)
	if slices.ContainsFunc(frame, func(v int16) bool { return v != 0 }) {
		t.Error("empty echo is not silent")
	}
	for i := range 15 { // 300 ms: the first 5 frames are dropped
		f := make([]int16, FrameSamples)
		f[0] = int16(i)
		e.WriteFrame(f)
	}
	for i := 5; i < 15; i++ {
		e.ReadFrame(frame)
		if frame[0] != int16(i) {
			t.Fatalf("echo frame %d, want %d", frame[0], i)
		}
	}
	e.ReadFrame(frame)
	if frame[0] != 0 {
		t.Error("drained echo not silent")
	}
}

// A sender report carries the sender's packet and octet counts and an RTP
// timestamp on the media timeline at its NTP time (RFC 3550 §6.4.1), even
// right after DTMF, whose packets carry the event's start timestamp.
func TestSenderReport(t *testing.T) {
	peer := newEndpoint(t)
	defer peer.rtp.Close()
	defer peer.rtcp.Close()
	e := newEndpoint(t)
	s, err := newSession(Config{Conn: e.rtp, RTCPConn: e.rtcp, Remote: peer.addr(), Codec: PCMU, DTMFType: 101})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts0 := s.tx.ts
	t0 := time.Unix(5000, 0)
	if err := s.SendDTMF("5"); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		s.sendFrame(t0.Add(time.Duration(k) * frameDuration))
	}
	now := t0.Add(50 * time.Millisecond)
	s.sendRTCP(now, false)
	peer.rtcp.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, err := peer.rtcp.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("first packet %T, want a sender report", pkts[0])
	}
	if sr.SSRC != s.ssrc || sr.PacketCount != 3 || sr.OctetCount != 12 || sr.NTPTime != ntpTime(now) {
		t.Errorf("SR %+v", sr)
	}
	// Frame 2 (timestamp ts0+320) was at 40 ms; 10 ms later is 80 samples on.
	if want := ts0 + 2*FrameSamples + 80; sr.RTPTime != want {
		t.Errorf("SR RTP time %d, want %d (event packets carry %d)", sr.RTPTime, want, ts0)
	}
	sdes, ok := pkts[1].(*rtcp.SourceDescription)
	if !ok || len(sdes.Chunks) != 1 || sdes.Chunks[0].Items[0].Type != rtcp.SDESCNAME || len(sdes.Chunks[0].Items[0].Text) < 16 {
		t.Errorf("second packet %v, want SDES CNAME", pkts[1])
	}
}
