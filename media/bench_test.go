package media

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// countSink counts frames with audio, to check the benchmark really plays
// what it sends.
type countSink struct{ frames, voiced int }

func (c *countSink) WriteFrame(f []int16) {
	c.frames++
	for _, v := range f {
		if v > 500 || v < -500 {
			c.voiced++
			return
		}
	}
}

// benchKeys returns the two SRTP keys of a benchmark call, nil without
// SRTP.
func benchKeys(srtp bool) (k1, k2 []byte) {
	if !srtp {
		return nil, nil
	}
	k1, k2 = make([]byte, SRTPKeyLen), make([]byte, SRTPKeyLen)
	for i := range k1 {
		k1[i], k2[i] = byte(i), byte(100+i)
	}
	return k1, k2
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCallMinute runs the per-frame media work of a call between two
// Sessions on loopback without waiting for the clock: each iteration sends
// one 20 ms frame each way (read the Source, encode, packetize, SRTP
// protect, UDP send) and receives and plays it (UDP receive, SRTP
// unprotect, accounting, jitter buffer, decode, Sink). Both ends run in
// this process, so cpu-s/call-min is the CPU both ends of one call spend
// per minute of call (3000 frames each way); one user agent's share is
// half. The goroutine wake-ups of the real clock are not included.
func BenchmarkCallMinute(b *testing.B) {
	for _, tc := range []struct {
		name string
		srtp bool
	}{{"pcmu", false}, {"srtp", true}} {
		b.Run(tc.name, func(b *testing.B) {
			ea, eb := newEndpoint(b), newEndpoint(b)
			k1, k2 := benchKeys(tc.srtp)
			sinkA, sinkB := &countSink{}, &countSink{}
			tone := Tone(440, 8000, SampleRate, time.Second)
			a, err := newSession(Config{Conn: ea.rtp, Remote: eb.addr(), Codec: PCMU, SendKey: k1, RecvKey: k2,
				Source: NewFileSource(tone, true), Sink: sinkA})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			c, err := newSession(Config{Conn: eb.rtp, Remote: ea.addr(), Codec: PCMU, SendKey: k2, RecvKey: k1,
				Source: NewFileSource(tone, true), Sink: sinkB})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ea.rtcp.Close()
			eb.rtcp.Close()

			now := time.Now()
			step := func() {
				now = now.Add(frameDuration)
				a.sendFrame(now)
				if err := c.readRTP(now); err != nil {
					b.Fatal(err)
				}
				c.playout(now)
				c.sendFrame(now)
				if err := a.readRTP(now); err != nil {
					b.Fatal(err)
				}
				a.playout(now)
			}
			deadline := func() {
				d := time.Now().Add(time.Minute)
				ea.rtp.SetReadDeadline(d)
				eb.rtp.SetReadDeadline(d)
			}
			deadline()
			for range 10 { // fill the jitter buffers
				step()
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				if i%4096 == 0 {
					deadline()
				}
				step()
			}
			cpu := cpuTime() - cpu0
			b.StopTimer()
			b.ReportMetric(cpu.Seconds()/(float64(b.N)/3000), "cpu-s/call-min")
			for _, s := range []*Session{a, c} {
				if st := s.Stats(); st.FramesConcealed != 0 || st.PacketsLost != 0 || st.PacketsDropped != 0 {
					b.Fatalf("concealed %d, lost %d, dropped %d", st.FramesConcealed, st.PacketsLost, st.PacketsDropped)
				}
			}
			if sinkA.voiced < sinkA.frames-1 || sinkB.voiced < sinkB.frames-1 || sinkA.frames < b.N {
				b.Fatalf("played %d/%d and %d/%d frames with audio for %d iterations", sinkA.voiced, sinkA.frames, sinkB.voiced, sinkB.frames, b.N)
			}
		})
	}
}

// BenchmarkCallRealtime runs calls as they run in a user agent: Sessions
// started with Start on their real 20 ms clocks, RTCP included, one call
// or ten at once (two Sessions per call, both ends) on loopback. Each
// iteration is 20 ms of wall-clock time; cpu-s/call-min is the process
// CPU spent per minute of one call, both ends counted, goroutine
// wake-ups and timers included, which BenchmarkCallMinute leaves out.
// "floor" is the same wall-clock loop around a bare call: per end one
// goroutine on a 20 ms ticker sending 172-byte datagrams and one reading
// them, no RTP, codec or jitter buffer: what the wake-ups alone cost.
func BenchmarkCallRealtime(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		ea, eb := newEndpoint(b), newEndpoint(b)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, p := range [][2]endpoint{{ea, eb}, {eb, ea}} {
			src, dst := p[0].rtp, p[1].addr()
			wg.Add(2)
			go func() {
				defer wg.Done()
				pkt := make([]byte, 172)
				t := time.NewTicker(frameDuration)
				defer t.Stop()
				for {
					select {
					case <-t.C:
						src.WriteToUDPAddrPort(pkt, dst)
					case <-stop:
						return
					}
				}
			}()
			go func(c *net.UDPConn) {
				defer wg.Done()
				buf := make([]byte, 1500)
				for {
					if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
				}
			}(p[1].rtp)
		}
		defer func() {
			close(stop)
			for _, e := range []endpoint{ea, eb} {
				e.rtp.Close()
				e.rtcp.Close()
			}
			wg.Wait()
		}()
		wallClock(b, 1)
	})
	for _, calls := range []int{1, 10} {
		for _, tc := range []struct {
			name string
			srtp bool
		}{{"pcmu", false}, {"srtp", true}} {
			b.Run(fmt.Sprintf("%s/calls=%d", tc.name, calls), func(b *testing.B) {
				realtimeCalls(b, calls, tc.srtp)
			})
		}
	}
}

// wallClock runs b.N iterations of 20 ms of wall-clock time and reports
// the process CPU per minute of one of calls calls.
func wallClock(b *testing.B, calls int) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, start := cpuTime(), time.Now()
	for i := 1; i <= b.N; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * frameDuration)))
	}
	cpu := cpuTime() - cpu0
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(cpu.Seconds()/(float64(calls)*elapsed.Minutes()), "cpu-s/call-min")
}

func realtimeCalls(b *testing.B, calls int, srtp bool) {
	tone := Tone(440, 8000, SampleRate, time.Second)
	sinks := make([]*countSink, 0, 2*calls)
	var sessions []*Session
	for range calls {
		ea, eb := newEndpoint(b), newEndpoint(b)
		k1, k2 := benchKeys(srtp)
		for _, side := range []struct {
			e, peer    endpoint
			send, recv []byte
		}{{ea, eb, k1, k2}, {eb, ea, k2, k1}} {
			sink := &countSink{}
			s, err := Start(Config{Conn: side.e.rtp, RTCPConn: side.e.rtcp, Remote: side.peer.addr(),
				RemoteRTCP: side.peer.rtcpAddr(), Codec: PCMU, SendKey: side.send, RecvKey: side.recv,
				Source: NewFileSource(tone, true), Sink: sink})
			if err != nil {
				b.Fatal(err)
			}
			sessions = append(sessions, s)
			sinks = append(sinks, sink)
		}
	}
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond) // past the jitter buffers' fill
	wallClock(b, calls)
	for i, s := range sessions {
		if st := s.Stats(); st.PacketsReceived == 0 || sinks[i].voiced == 0 {
			b.Fatalf("session %d received %d packets and played %d frames with audio", i, st.PacketsReceived, sinks[i].voiced)
		}
	}
}
