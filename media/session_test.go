package media

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func randKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, SRTPKeyLen)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// checkHeard checks that sink heard freq from the party whose Stats are
// from: at least 95 % of the packets sent arrived and were played, and the
// dominant frequency is freq.
func checkHeard(t *testing.T, who string, from, to Stats, sink *collector, freq float64) {
	t.Helper()
	if from.PacketsSent < 50 {
		t.Errorf("%s: only %d packets sent in over a second", who, from.PacketsSent)
	}
	if float64(to.PacketsReceived) < 0.95*float64(from.PacketsSent) {
		t.Errorf("%s: received %d of %d packets sent", who, to.PacketsReceived, from.PacketsSent)
	}
	samples, voiced := sink.audio(2)
	frames := len(samples) / FrameSamples
	if frames < 40 || float64(voiced) < 0.95*float64(frames) {
		t.Errorf("%s: %d of %d frames played had audio", who, voiced, frames)
	}
	if f := dominantFreq(samples); math.Abs(f-freq) > 10 {
		t.Errorf("%s: dominant frequency %v Hz, want %v", who, f, freq)
	}
}

// Two Sessions talk to each other on loopback, in both directions, with
// each codec, plain and SRTP.
func TestSessionTalk(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec Codec
		srtp  bool
	}{
		{"pcmu", PCMU, false},
		{"pcma", PCMA, false},
		{"srtp-pcmu", PCMU, true},
		{"srtp-pcma", PCMA, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ea, eb := newEndpoint(t), newEndpoint(t)
			var keyAB, keyBA []byte
			if tc.srtp {
				keyAB, keyBA = randKey(t), randKey(t)
			}
			sinkA, sinkB := &collector{}, &collector{}
			a := ea.start(t, Config{
				Remote: eb.addr(), Codec: tc.codec, SendKey: keyAB, RecvKey: keyBA,
				Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true), Sink: sinkA,
				RTCPInterval: 300 * time.Millisecond,
			})
			b := eb.start(t, Config{
				Remote: ea.addr(), Codec: tc.codec, SendKey: keyBA, RecvKey: keyAB,
				Source: NewFileSource(Tone(1000, 8000, SampleRate, time.Second), true), Sink: sinkB,
				RTCPInterval: 300 * time.Millisecond,
			})
			time.Sleep(1200 * time.Millisecond)
			sa, sb := a.Stats(), b.Stats()
			// A loopback round trip is tens of microseconds: when a
			// report's LSR is read in the 16.16 field's resolution
			// (15 µs) it may come out 0, but not on both sides.
			if sa.RTT <= 0 && sb.RTT <= 0 {
				t.Errorf("no RTT measured on either side (%v, %v)", sa.RTT, sb.RTT)
			}
			checkHeard(t, "A→B", sa, sb, sinkB, 440)
			checkHeard(t, "B→A", sb, sa, sinkA, 1000)
			for _, st := range []Stats{sa, sb} {
				if st.Codec != tc.codec.Name() || st.SRTP != tc.srtp {
					t.Errorf("Stats say %s SRTP=%v", st.Codec, st.SRTP)
				}
				if st.PacketsLost != 0 || st.PacketsDropped != 0 || st.PacketsLate != 0 {
					t.Errorf("lost %d, dropped %d, late %d on loopback", st.PacketsLost, st.PacketsDropped, st.PacketsLate)
				}
				if st.RTCPReceived < 2 {
					t.Errorf("%d RTCP reports received", st.RTCPReceived)
				}
				if st.RTT < 0 || st.RTT > 100*time.Millisecond {
					t.Errorf("RTT %v on loopback", st.RTT)
				}
				if st.MOS < 4.2 {
					t.Errorf("MOS %.2f without loss", st.MOS)
				}
				if st.BytesReceived == 0 || st.BytesSent == 0 {
					t.Error("byte counters are zero")
				}
			}
			if want := uint64(12+160) * sa.PacketsSent; tc.srtp && sa.BytesSent != want+10*sa.PacketsSent || !tc.srtp && sa.BytesSent != want {
				t.Errorf("BytesSent %d for %d packets", sa.BytesSent, sa.PacketsSent)
			}
		})
	}
}

// With keys that do not match, nothing gets through: no packet is
// accepted, nothing is played, no RTCP is believed.
func TestSessionSRTPMismatch(t *testing.T) {
	for _, tc := range []struct {
		name             string
		sendKey, recvKey bool // whether A's sender and B's receiver use SRTP
		sameKey          bool
	}{
		{"wrong key", true, true, false},
		{"plain to SRTP", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ea, eb := newEndpoint(t), newEndpoint(t)
			cfgA := Config{Remote: eb.addr(), Codec: PCMU, Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true), RTCPInterval: 200 * time.Millisecond}
			cfgB := Config{Remote: ea.addr(), Codec: PCMU, RTCPInterval: 200 * time.Millisecond}
			if tc.sendKey {
				cfgA.SendKey, cfgA.RecvKey = randKey(t), randKey(t)
			}
			if tc.recvKey {
				cfgB.SendKey, cfgB.RecvKey = randKey(t), randKey(t)
			}
			sink := &collector{}
			cfgB.Sink = sink
			a := ea.start(t, cfgA)
			b := eb.start(t, cfgB)
			time.Sleep(600 * time.Millisecond)
			sa, sb := a.Stats(), b.Stats()
			if sa.PacketsSent < 20 {
				t.Fatalf("A sent only %d packets", sa.PacketsSent)
			}
			if sb.PacketsReceived != 0 || sb.FramesPlayed != 0 || sink.count() != 0 || sb.MOS != 0 {
				t.Errorf("B accepted %d packets and played %d frames", sb.PacketsReceived, sink.count())
			}
			if sb.PacketsDropped < sa.PacketsSent*9/10 {
				t.Errorf("B dropped %d of %d packets", sb.PacketsDropped, sa.PacketsSent)
			}
			if sb.RTCPReceived != 0 {
				t.Errorf("B believed %d RTCP packets", sb.RTCPReceived)
			}
		})
	}
}

func TestSessionDTMF(t *testing.T) {
	t.Parallel()
	const digits = "1234#*ABCD09"
	ea, eb := newEndpoint(t), newEndpoint(t)
	var mu sync.Mutex
	var heard []rune
	a := ea.start(t, Config{Remote: eb.addr(), Codec: PCMA, DTMFType: 101})
	b := eb.start(t, Config{Remote: ea.addr(), Codec: PCMA, DTMFType: 101, OnDTMF: func(d rune) {
		mu.Lock()
		heard = append(heard, d)
		mu.Unlock()
	}})
	if err := a.SendDTMF("12x"); err == nil || !strings.Contains(err.Error(), `'x'`) {
		t.Errorf("invalid digit: %v", err)
	}
	start := time.Now()
	if err := a.SendDTMF(digits[:6]); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDTMF(strings.ToLower(digits[6:])); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.WaitDTMF(ctx); err != nil {
		t.Fatal(err)
	}
	// 12 digits of 8 frames each (100 ms tone, 60 ms gap), less the gap
	// after the last.
	if d := time.Since(start); d < 1850*time.Millisecond {
		t.Errorf("12 digits sent in %v, faster than 100 ms each with 60 ms gaps", d)
	}
	if !waitFor(time.Second, func() bool { return len(b.Stats().DTMFReceived) >= len(digits) }) {
		t.Fatalf("B received %q", b.Stats().DTMFReceived)
	}
	time.Sleep(100 * time.Millisecond) // nothing more may come
	mu.Lock()
	got := string(heard)
	mu.Unlock()
	if got != digits {
		t.Errorf("OnDTMF reported %q, want %q", got, digits)
	}
	if s := b.Stats().DTMFReceived; s != digits {
		t.Errorf("Stats.DTMFReceived = %q, want %q", s, digits)
	}
	if s := a.Stats().DTMFSent; s != digits {
		t.Errorf("Stats.DTMFSent = %q, want %q", s, digits)
	}
	if err := a.WaitDTMF(ctx); err != nil {
		t.Errorf("WaitDTMF with nothing queued: %v", err)
	}

	noDTMF := newEndpoint(t).start(t, Config{Codec: PCMU})
	if err := noDTMF.SendDTMF("1"); err == nil || !strings.Contains(err.Error(), "DTMFType") {
		t.Errorf("SendDTMF without a payload type: %v", err)
	}
}

// capture reads RTP packets from a raw socket until d passes.
func capture(t *testing.T, c *net.UDPConn, d time.Duration) []rtp.Packet {
	t.Helper()
	var out []rtp.Packet
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			t.Fatalf("sent a packet that is not RTP: %v", err)
		}
		out = append(out, p)
	}
}

// The packets on the wire: RFC 3550 header fields, the marker bit, the
// RFC 4733 event sequence, and the timestamp running on through a hold.
func TestSessionWire(t *testing.T) {
	t.Parallel()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	e := newEndpoint(t)
	s := e.start(t, Config{Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, DTMFType: 101,
		Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true)})
	time.Sleep(100 * time.Millisecond)
	if err := s.SendDTMF("1#"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitDTMF(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	s.SetDirection(false, true)
	time.Sleep(200 * time.Millisecond)
	s.SetDirection(true, true)
	time.Sleep(100 * time.Millisecond)
	pkts := capture(t, peer, 50*time.Millisecond)

	if len(pkts) < 25 {
		t.Fatalf("captured %d packets", len(pkts))
	}
	p0 := pkts[0]
	if !p0.Marker || p0.PayloadType != 0 || p0.Version != 2 || len(p0.Payload) != FrameSamples {
		t.Errorf("first packet: %v", p0.Header)
	}
	var events, eventEnds, gaps int
	var digitTS []uint32
	for i := 1; i < len(pkts); i++ {
		p, q := pkts[i-1], pkts[i]
		if q.SSRC != p0.SSRC {
			t.Fatalf("SSRC changed")
		}
		if q.SequenceNumber != p.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, q.SequenceNumber, p.SequenceNumber)
		}
		switch q.PayloadType {
		case 101:
			events++
			if len(q.Payload) != 4 {
				t.Fatalf("event payload %x", q.Payload)
			}
			dur := int(q.Payload[2])<<8 | int(q.Payload[3])
			end := q.Payload[1]&0x80 != 0
			if p.PayloadType != 101 || p.Timestamp != q.Timestamp { // first packet of an event
				digitTS = append(digitTS, q.Timestamp)
				if !q.Marker || dur != 160 || end {
					t.Errorf("first event packet: M=%v duration %d E=%v", q.Marker, dur, end)
				}
				if q.Timestamp != p.Timestamp+160 {
					t.Errorf("event timestamp %d after audio %d", q.Timestamp, p.Timestamp)
				}
				continue
			}
			pd := int(p.Payload[2])<<8 | int(p.Payload[3])
			if q.Marker || (dur != min(pd+160, 800)) {
				t.Errorf("event update: M=%v duration %d after %d", q.Marker, dur, pd)
			}
			if end {
				eventEnds++
			}
			if dur < 800 && end {
				t.Errorf("E bit at duration %d", dur)
			}
		case 0:
			if p.PayloadType == 101 {
				if !q.Marker {
					t.Error("first audio after an event has no marker")
				}
				continue
			}
			step := q.Timestamp - p.Timestamp
			if step != 160 {
				// The hold: no packets, the timestamp ran on.
				gaps++
				if !q.Marker || step < 160*8 || step > 160*14 {
					t.Errorf("after the hold: marker %v, timestamp step %d (want about 200 ms)", q.Marker, step)
				}
			} else if q.Marker {
				t.Errorf("marker in the middle of a talkspurt")
			}
		default:
			t.Fatalf("payload type %d", q.PayloadType)
		}
	}
	if len(digitTS) != 2 || events != 14 || eventEnds != 6 || gaps != 1 {
		t.Fatalf("%d events in %d packets with %d E bits; %d holds", len(digitTS), events, eventEnds, gaps)
	}
	if d := digitTS[1] - digitTS[0]; d != 8*160 {
		t.Errorf("second digit starts %d samples after the first, want 1280 (100 ms + 60 ms)", d)
	}
}

// A relay that drops every tenth packet from A to B: B counts 10 % lost,
// reports it to A over RTCP, its MOS falls, and DTMF still arrives once per
// digit. RTCP goes directly between the two.
func TestSessionLoss(t *testing.T) {
	t.Parallel()
	ea, eb := newEndpoint(t), newEndpoint(t)
	relay := newRelay(t)
	relay.drop = func(n int) bool { return n%10 == 0 }
	relay.run(t, ea.addr(), eb.addr())
	a := ea.start(t, Config{Remote: relay.addr(), RemoteRTCP: eb.rtcpAddr(), Codec: PCMU, DTMFType: 101,
		Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true), RTCPInterval: 500 * time.Millisecond})
	b := eb.start(t, Config{Remote: relay.addr(), RemoteRTCP: ea.rtcpAddr(), Codec: PCMU, DTMFType: 101,
		Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true), RTCPInterval: 500 * time.Millisecond})
	if err := a.SendDTMF("1234567890"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	sa, sb := a.Stats(), b.Stats()
	if sb.LossPercent < 7 || sb.LossPercent > 13 {
		t.Errorf("B: %d lost (%.1f %%) of A's %d packets, want 10 %%", sb.PacketsLost, sb.LossPercent, sa.PacketsSent)
	}
	if sa.PacketsLost != 0 {
		t.Errorf("A lost %d", sa.PacketsLost)
	}
	if sa.RemoteLossPercent < 5 || sa.RemoteLossPercent > 20 {
		t.Errorf("A: peer reports %.1f %% loss of our stream, want about 10 %%", sa.RemoteLossPercent)
	}
	if sb.RemoteLossPercent != 0 {
		t.Errorf("B: peer reports %.1f %% loss", sb.RemoteLossPercent)
	}
	if sb.MOS >= sa.MOS-0.5 || sb.MOS < 2.5 {
		t.Errorf("MOS with 10 %% loss %.2f, without %.2f", sb.MOS, sa.MOS)
	}
	if sb.DTMFReceived != "1234567890" {
		t.Errorf("DTMF through loss: %q", sb.DTMFReceived)
	}
	if sb.FramesConcealed < 5 {
		t.Errorf("only %d frames concealed with 10 %% loss", sb.FramesConcealed)
	}
	t.Logf("B: lost %.1f %%, MOS %.2f (A: %.2f), A told %.1f %%, RTT %v", sb.LossPercent, sb.MOS, sa.MOS, sa.RemoteLossPercent, sa.RTT)
}

// Random delays of 0-30 ms on the way from A to B show as jitter; the
// 60 ms buffer absorbs them.
func TestSessionJitter(t *testing.T) {
	t.Parallel()
	ea, eb := newEndpoint(t), newEndpoint(t)
	relay := newRelay(t)
	var mu sync.Mutex
	n := 0
	relay.delay = func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		n++
		return time.Duration((n*7919)%31) * time.Millisecond // spread over 0..30 ms
	}
	relay.run(t, ea.addr(), eb.addr())
	sink := &collector{}
	a := ea.start(t, Config{Remote: relay.addr(), Codec: PCMU, Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true)})
	b := eb.start(t, Config{Remote: relay.addr(), Codec: PCMU, Sink: sink})
	time.Sleep(1200 * time.Millisecond)
	sa, sb := a.Stats(), b.Stats()
	if sb.Jitter < 3*time.Millisecond || sb.Jitter > 30*time.Millisecond {
		t.Errorf("jitter %v with delays spread over 0-30 ms", sb.Jitter)
	}
	if sa.Jitter > sb.Jitter/2 {
		t.Errorf("undelayed direction has jitter %v, delayed %v", sa.Jitter, sb.Jitter)
	}
	if sb.PacketsLate > 2 {
		t.Errorf("%d packets late with a 60 ms buffer and at most 30 ms delay", sb.PacketsLate)
	}
	checkHeard(t, "A→B", sa, sb, sink, 440)
	t.Logf("jitter %v (undelayed direction %v)", sb.Jitter, sa.Jitter)
}

// B is told a wrong address; once A's media arrives, B sends to where it
// came from, RTP and (derived) RTCP alike.
func TestSessionSymmetricRTP(t *testing.T) {
	t.Parallel()
	dead, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().(*net.UDPAddr).AddrPort()
	dead.Close() // nobody listens there now
	ea, eb := newEndpoint(t), newEndpoint(t)
	sinkA := &collector{}
	a := ea.start(t, Config{Remote: eb.addr(), Codec: PCMU, Sink: sinkA, RTCPInterval: 200 * time.Millisecond,
		Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true)})
	b := eb.start(t, Config{Remote: deadAddr, Codec: PCMU, RTCPInterval: 200 * time.Millisecond,
		Source: NewFileSource(Tone(1000, 8000, SampleRate, time.Second), true)})
	time.Sleep(1200 * time.Millisecond)
	sa, sb := a.Stats(), b.Stats()
	// B's first few packets went to the dead port.
	if sa.PacketsReceived < sb.PacketsSent-5 {
		t.Errorf("A received %d of B's %d packets", sa.PacketsReceived, sb.PacketsSent)
	}
	if sa.RTCPReceived == 0 {
		t.Error("B's RTCP did not follow to A's RTCP port")
	}
	samples, _ := sinkA.audio(5)
	if f := dominantFreq(samples); f != 1000 {
		t.Errorf("A hears %v Hz, want 1000", f)
	}

	// A Session without a Remote sends nothing until media arrives.
	ec := newEndpoint(t)
	c := ec.start(t, Config{Codec: PCMU})
	time.Sleep(100 * time.Millisecond)
	if st := c.Stats(); st.PacketsSent != 0 {
		t.Fatalf("sent %d packets with no destination", st.PacketsSent)
	}
	c.SetRemote(ea.addr(), netip.AddrPort{})
	if !waitFor(time.Second, func() bool { return c.Stats().PacketsSent > 5 }) {
		t.Fatal("not sending after SetRemote")
	}
}

func TestSessionHold(t *testing.T) {
	t.Parallel()
	ea, eb := newEndpoint(t), newEndpoint(t)
	sinkB := &collector{}
	a := ea.start(t, Config{Remote: eb.addr(), Codec: PCMU, RTCPInterval: 100 * time.Millisecond,
		Source: NewFileSource(Tone(440, 8000, SampleRate, time.Second), true)})
	b := eb.start(t, Config{Remote: ea.addr(), Codec: PCMU, Sink: sinkB, RTCPInterval: 100 * time.Millisecond})
	if !waitFor(time.Second, func() bool { return b.Stats().PacketsReceived > 10 }) {
		t.Fatal("no media")
	}
	a.SetDirection(false, true)
	time.Sleep(50 * time.Millisecond)
	held := b.Stats()
	heldSent := a.Stats().RTCPSent
	time.Sleep(300 * time.Millisecond)
	after := b.Stats()
	if after.PacketsReceived != held.PacketsReceived {
		t.Errorf("B received %d packets while A was on hold", after.PacketsReceived-held.PacketsReceived)
	}
	if a.Stats().RTCPSent <= heldSent {
		t.Error("RTCP stopped during hold")
	}
	if after.FramesPlayed <= held.FramesPlayed {
		t.Error("playout stopped during hold")
	}
	a.SetDirection(true, true)
	if !waitFor(time.Second, func() bool { return b.Stats().PacketsReceived > after.PacketsReceived+10 }) {
		t.Fatal("media did not resume")
	}
	if st := b.Stats(); st.PacketsLost != 0 || st.PacketsLate != 0 {
		t.Errorf("after resume: lost %d, late %d", st.PacketsLost, st.PacketsLate)
	}

	// recv=false: packets are counted but the Sink gets silence.
	b.SetDirection(true, false)
	// Let the buffered 60 ms and the three fading concealment frames play.
	time.Sleep(250 * time.Millisecond)
	n := sinkB.count()
	time.Sleep(200 * time.Millisecond)
	samples, voiced := sinkB.audio(n)
	if len(samples) == 0 || voiced != 0 {
		t.Errorf("with recv off: %d frames played, %d with audio", len(samples)/FrameSamples, voiced)
	}
}

func TestSessionCloseStopsEverything(t *testing.T) {
	// Not parallel: counts goroutines.
	before := runtime.NumGoroutine()
	ea, eb := newEndpoint(t), newEndpoint(t)
	a, err := Start(Config{Conn: ea.rtp, RTCPConn: ea.rtcp, Remote: eb.addr(), Codec: PCMU, DTMFType: 101,
		Source: NewEcho(), Sink: NewEcho()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(Config{Conn: eb.rtp, RTCPConn: eb.rtcp, Remote: ea.addr(), Codec: PCMU})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := a.SendDTMF("123"); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- a.WaitDTMF(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Errorf("WaitDTMF on Close = %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDTMF("1"); !errors.Is(err, ErrClosed) {
		t.Errorf("SendDTMF after Close = %v", err)
	}
	if _, err := ea.rtp.WriteToUDPAddrPort([]byte{0}, eb.addr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("RTP socket not closed: %v", err)
	}
	if _, err := ea.rtcp.WriteToUDPAddrPort([]byte{0}, eb.addr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("RTCP socket not closed: %v", err)
	}
	if st := a.Stats(); st.PacketsSent == 0 {
		t.Error("Stats after Close lost the counts")
	}
	if !waitFor(2*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

// Close sends an RTCP BYE for the Session's SSRC.
func TestSessionCloseSendsBYE(t *testing.T) {
	t.Parallel()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for _, secure := range []bool{false, true} {
		e := newEndpoint(t)
		cfg := Config{Conn: e.rtp, RTCPConn: e.rtcp, Codec: PCMU,
			Remote: netip.MustParseAddrPort("127.0.0.1:9"), RemoteRTCP: peer.LocalAddr().(*net.UDPAddr).AddrPort()}
		var key []byte
		if secure {
			key = randKey(t)
			cfg.SendKey, cfg.RecvKey = key, randKey(t)
		}
		s, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		var bye *rtcp.Goodbye
		var sender uint32
		for bye == nil {
			n, err := peer.Read(buf)
			if err != nil {
				t.Fatalf("secure=%v: no BYE: %v", secure, err)
			}
			raw := buf[:n]
			if secure {
				raw = decryptSRTCP(t, key, raw)
			}
			pkts, err := rtcp.Unmarshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.ReceiverReport:
					sender = p.SSRC
				case *rtcp.SenderReport:
					sender = p.SSRC
				case *rtcp.Goodbye:
					bye = p
				}
			}
		}
		if len(bye.Sources) != 1 || bye.Sources[0] != sender {
			t.Errorf("secure=%v: BYE for %v, report from %d", secure, bye.Sources, sender)
		}
	}
}

func decryptSRTCP(t *testing.T, key, pkt []byte) []byte {
	t.Helper()
	ctx, err := newSRTPContext("test", key, true)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ctx.DecryptRTCP(nil, pkt, nil)
	if err != nil {
		t.Fatalf("SRTCP: %v", err)
	}
	return out
}

func TestStartValidation(t *testing.T) {
	e := newEndpoint(t)
	defer e.rtp.Close()
	defer e.rtcp.Close()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no conn", Config{}, "Config.Conn is nil"},
		{"codec", Config{Conn: e.rtp, Codec: 18}, "codec PT18 is not supported"},
		{"dtmf = codec", Config{Conn: e.rtp, Codec: PCMA, DTMFType: 8}, "DTMFType 8"},
		{"dtmf > 127", Config{Conn: e.rtp, DTMFType: 200}, "DTMFType 200"},
		{"one key", Config{Conn: e.rtp, SendKey: make([]byte, 30)}, "needs both SendKey and RecvKey"},
		{"short key", Config{Conn: e.rtp, SendKey: make([]byte, 16), RecvKey: make([]byte, 30)}, "SendKey is 16 bytes; want 30"},
		{"long key", Config{Conn: e.rtp, SendKey: make([]byte, 30), RecvKey: make([]byte, 46)}, "RecvKey is 46 bytes; want 30"},
		{"jitter", Config{Conn: e.rtp, JitterDelay: 2 * time.Second}, "JitterDelay 2s"},
		{"rtcp", Config{Conn: e.rtp, RTCPInterval: -1}, "RTCPInterval"},
	}
	for _, tt := range tests {
		_, err := Start(tt.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), "media: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// A failed Start leaves the sockets open.
	if _, err := e.rtp.WriteToUDPAddrPort([]byte{0}, e.addr()); err != nil {
		t.Errorf("socket closed by a failed Start: %v", err)
	}
}

func TestListenPair(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	a, b, err := ListenPair(ip, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	pa, pb := a.LocalAddr().(*net.UDPAddr).Port, b.LocalAddr().(*net.UDPAddr).Port
	if pa%2 != 0 || pb != pa+1 {
		t.Errorf("ports %d and %d", pa, pb)
	}
	// A range holding exactly one pair, already taken.
	if _, _, err := ListenPair(ip, pa, pb); err == nil || !strings.Contains(err.Error(), "no free RTP/RTCP port pair") {
		t.Errorf("taken range: %v", err)
	}
	if _, _, err := ListenPair(ip, 5, 5); err == nil {
		t.Error("range without a pair accepted")
	}
}
