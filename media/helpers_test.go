package media

import (
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// goertzel returns the amplitude of the freq component of x sampled at
// rate (a full-scale sine of amplitude A gives about A).
func goertzel(x []int16, freq float64, rate int) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(x))
}

// dominantFreq returns the frequency between 100 and 3900 Hz (10 Hz steps)
// with the largest Goertzel amplitude in x, sampled at 8 kHz.
func dominantFreq(x []int16) float64 {
	best, bestAmp := 0.0, -1.0
	for f := 100.0; f < 3900; f += 10 {
		if a := goertzel(x, f, SampleRate); a > bestAmp {
			best, bestAmp = f, a
		}
	}
	return best
}

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

// collector is a Sink that keeps every frame.
type collector struct {
	mu     sync.Mutex
	frames [][]int16
}

func (c *collector) WriteFrame(f []int16) {
	c.mu.Lock()
	c.frames = append(c.frames, append([]int16(nil), f...))
	c.mu.Unlock()
}

// audio returns the samples of the frames from index from on, and the
// number of frames that were not silent.
func (c *collector) audio(from int) (samples []int16, voiced int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; i < len(c.frames); i++ {
		samples = append(samples, c.frames[i]...)
		for _, v := range c.frames[i] {
			if v > 500 || v < -500 {
				voiced++
				break
			}
		}
	}
	return samples, voiced
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// endpoint is a socket pair bound on loopback, before Start.
type endpoint struct {
	rtp, rtcp *net.UDPConn
}

func newEndpoint(t testing.TB) endpoint {
	t.Helper()
	a, b, err := ListenPair(netip.MustParseAddr("127.0.0.1"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return endpoint{a, b}
}

func (e endpoint) addr() netip.AddrPort     { return e.rtp.LocalAddr().(*net.UDPAddr).AddrPort() }
func (e endpoint) rtcpAddr() netip.AddrPort { return e.rtcp.LocalAddr().(*net.UDPAddr).AddrPort() }

// start starts a Session on e with cfg (Conn, RTCPConn filled in) and
// closes it at the end of the test.
func (e endpoint) start(t *testing.T, cfg Config) *Session {
	t.Helper()
	cfg.Conn, cfg.RTCPConn = e.rtp, e.rtcp
	s, err := Start(cfg)
	if err != nil {
		e.rtp.Close()
		e.rtcp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// udpRelay forwards datagrams between two parties through one loopback
// socket, so that each sees the relay as the other. drop decides, for
// packets from a to b, which to drop (by 1-based count); delay returns an
// extra delay for them.
type udpRelay struct {
	conn  *net.UDPConn
	a, b  netip.AddrPort
	drop  func(n int) bool
	delay func() time.Duration
	wg    sync.WaitGroup
}

func newRelay(t *testing.T) *udpRelay {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	return &udpRelay{conn: c}
}

func (r *udpRelay) addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (r *udpRelay) run(t *testing.T, a, b netip.AddrPort) {
	r.a, r.b = a, b
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 2048)
		n := 0
		for {
			k, from, err := r.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:k]...)
			if from == r.a {
				n++
				if r.drop != nil && r.drop(n) {
					continue
				}
				if r.delay != nil {
					r.wg.Add(1)
					time.AfterFunc(r.delay(), func() {
						defer r.wg.Done()
						r.conn.WriteToUDPAddrPort(pkt, r.b)
					})
					continue
				}
				r.conn.WriteToUDPAddrPort(pkt, r.b)
			} else if from == r.b {
				r.conn.WriteToUDPAddrPort(pkt, r.a)
			}
		}
	}()
	t.Cleanup(func() {
		r.conn.Close()
		r.wg.Wait()
	})
}
