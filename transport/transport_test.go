package transport

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// recorder is a Handler that keeps what it receives.
type recorder struct {
	mu   sync.Mutex
	msgs []*sip.Message
	srcs []Flow
	got  chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 100)} }

func (r *recorder) handle(m *sip.Message, src Flow) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.srcs = append(r.srcs, src)
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) wait(t *testing.T) (*sip.Message, Flow) {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs[len(r.msgs)-1], r.srcs[len(r.srcs)-1]
}

const optionsNoRport = "OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.99:5070;branch=z9hG4bKx1\r\n" +
	"From: <sip:a@example.com>;tag=1\r\nTo: <sip:echo@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

// udpServerAndPeer starts a Layer on a UDP loopback port whose messages
// rec keeps, and a plain UDP socket to play the remote end; both close
// when the test ends.
func udpServerAndPeer(t *testing.T) (*recorder, *Layer, netip.AddrPort, *net.UDPConn) {
	t.Helper()
	rec := newRecorder()
	l := &Layer{Handler: rec.handle}
	addr, err := l.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return rec, l, addr, peer
}

// TestUDPReceivedAndRport: §18.2.1 adds received when sent-by is not the
// source; RFC 3581 fills rport; the response goes to the source address and
// the rport, not to the Via's sent-by.
func TestUDPReceivedAndRport(t *testing.T) {
	rec, l, addr, peer := udpServerAndPeer(t)

	// Without rport: received only.
	peer.WriteToUDPAddrPort([]byte(optionsNoRport), addr)
	m, src := rec.wait(t)
	v, _ := m.Via()
	if v.Params.Value("received") != "127.0.0.1" || v.Params.Has("rport") {
		t.Errorf("Via %s: want received=127.0.0.1 and no rport", v)
	}
	if src.Remote != peer.LocalAddr().(*net.UDPAddr).AddrPort() || src.Proto != UDP {
		t.Errorf("source flow %v", src)
	}

	// With rport: received and rport; the response goes to the source port.
	peer.WriteToUDPAddrPort([]byte(strings.Replace(optionsNoRport, "branch=z9hG4bKx1", "branch=z9hG4bKx2;rport", 1)), addr)
	m, src = rec.wait(t)
	v, _ = m.Via()
	port := peer.LocalAddr().(*net.UDPAddr).Port
	if v.Params.Value("rport") != itoa(port) {
		t.Errorf("Via %s: want rport=%d", v, port)
	}
	if err := l.SendResponse(sip.NewResponse(m, 200, ""), src); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") || from != addr {
		t.Errorf("response %q from %v (%v); want a 200 from the listening socket %v", buf[:n], from, err, addr)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTCPKeepAliveAndIdle: a CRLFCRLF ping gets a CRLF pong (RFC 5626
// §3.5.1), and a connection silent for IdleTimeout is closed.
func TestTCPKeepAliveAndIdle(t *testing.T) {
	l := &Layer{Handler: func(*sip.Message, Flow) {}, IdleTimeout: 300 * time.Millisecond}
	addr, err := l.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	pong := make([]byte, 2)
	if _, err := r.Read(pong); err != nil || string(pong) != "\r\n" {
		t.Fatalf("pong = %q, %v; want CRLF", pong, err)
	}
	if l.Conns() != 1 {
		t.Errorf("%d connections open, want 1", l.Conns())
	}
	// Now stay silent: the server closes after the idle time.
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open after the idle time")
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Conns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l.Conns() != 0 {
		t.Errorf("%d connections left after idle close", l.Conns())
	}
}

// TestTCPConnectionReuse: requests toward a peer that already has a
// connection open reuse it, and responses go back on the connection the
// request came in on.
func TestTCPConnectionReuse(t *testing.T) {
	rec := newRecorder()
	srv := &Layer{Handler: rec.handle}
	addr, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cliRec := newRecorder()
	cli := &Layer{Handler: cliRec.handle}
	defer cli.Close()
	dst := Flow{Proto: TCP, Remote: addr}
	for i := range 3 {
		req, _ := sip.Parse([]byte(strings.Replace(optionsNoRport, "z9hG4bKx1", "z9hG4bKr"+itoa(i), 1)))
		if _, err := cli.SendRequest(req, dst); err != nil {
			t.Fatal(err)
		}
		m, src := rec.wait(t)
		if err := srv.SendResponse(sip.NewResponse(m, 200, ""), src); err != nil {
			t.Fatal(err)
		}
		if res, _ := cliRec.wait(t); res.StatusCode != 200 {
			t.Fatalf("response %d", res.StatusCode)
		}
	}
	if cli.Conns() != 1 || srv.Conns() != 1 {
		t.Errorf("connections: client %d, server %d; want one reused", cli.Conns(), srv.Conns())
	}
}

// TestUDPReceiveBuffer: a UDP listener asks for UDPReceiveBuffer (4 MiB by
// default), of which Linux grants up to net.core.rmem_max (and reports
// twice what it granted, SO_RCVBUF's bookkeeping overhead).
func TestUDPReceiveBuffer(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("not Linux: ", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, asked := range []int{0, 300 << 10} {
		l := &Layer{UDPReceiveBuffer: asked}
		if _, err := l.Listen("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		sc, err := l.packets[0].pc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var serr error
		sc.Control(func(fd uintptr) { got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
		l.Close()
		if serr != nil {
			t.Fatal(serr)
		}
		want := asked
		if want == 0 {
			want = 4 << 20
		}
		if got != 2*min(want, rmemMax) {
			t.Errorf("asked %d: SO_RCVBUF is %d; want %d (net.core.rmem_max %d)", asked, got, 2*min(want, rmemMax), rmemMax)
		}
	}
}

// TestUDPResponseToMaddr: §18.2.2 sends the response to the Via's maddr at
// the sent-by port, ahead of received and rport.
func TestUDPResponseToMaddr(t *testing.T) {
	rec, l, addr, peer := udpServerAndPeer(t)
	group, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Skip("127.0.0.2 not usable here: ", err)
	}
	defer group.Close()
	gport := group.LocalAddr().(*net.UDPAddr).Port
	req := strings.Replace(optionsNoRport, "Via: SIP/2.0/UDP 192.0.2.99:5070;branch=z9hG4bKx1",
		"Via: SIP/2.0/UDP 127.0.0.1:"+itoa(gport)+";branch=z9hG4bKm1;maddr=127.0.0.2;rport", 1)
	peer.WriteToUDPAddrPort([]byte(req), addr)
	m, src := rec.wait(t)
	if err := l.SendResponse(sip.NewResponse(m, 200, ""), src); err != nil {
		t.Fatal(err)
	}
	group.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := group.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("nothing at maddr 127.0.0.2:%d: %q %v", gport, buf[:n], err)
	}
	peer.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := peer.Read(buf); err == nil {
		t.Errorf("the response also went to the source: %q", buf[:n])
	}
}

// TestLocalAddr: a listener on a wildcard address names, toward a remote
// address, the interface the system routes to it (what Via and a proxy's
// Record-Route must carry, never 0.0.0.0); a listener on one address names
// that address; a protocol without a listener is an error.
func TestLocalAddr(t *testing.T) {
	l := &Layer{}
	defer l.Close()
	udp, err := l.Listen("udp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := l.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remote := netip.MustParseAddrPort("127.0.0.5:5060")
	got, err := l.LocalAddr(Flow{Proto: "udp", Remote: remote})
	if err != nil || got.Addr() != netip.MustParseAddr("127.0.0.1") || got.Port() != udp.Port() {
		t.Errorf("UDP toward %s: %v, %v; want 127.0.0.1:%d", remote, got, err, udp.Port())
	}
	got, err = l.LocalAddr(Flow{Proto: "TCP", Remote: remote})
	if err != nil || got != tcp {
		t.Errorf("TCP: %v, %v; want %v", got, err, tcp)
	}
	if _, err := l.LocalAddr(Flow{Proto: "TLS", Remote: remote}); err == nil {
		t.Error("TLS without a TLS listener gave an address")
	}

	// A request sent from the wildcard socket names that interface too.
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	req, _ := sip.Parse([]byte("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP invalid;branch=z9hG4bKlocal\r\n" +
		"From: <sip:a@example.com>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: local\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
	if _, err := l.SendRequest(req, Flow{Proto: "UDP", Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort()}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sip.Parse(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Via(); v.Host != "127.0.0.1" || v.Port != int(udp.Port()) {
		t.Errorf("Via sent-by %s:%d, want 127.0.0.1:%d", v.Host, v.Port, udp.Port())
	}
}
