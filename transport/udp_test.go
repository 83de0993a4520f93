package transport

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestUDPFamilies: a socket bound to every address (an IPv6 socket taking
// IPv4 as v4-mapped, as Go binds ":port") and one bound to ::1 each
// receive a request, report its source without the v4 mapping, and send
// the response back to the peer; so do the IPv4-only sockets of
// TestUDPReceivedAndRport.
func TestUDPFamilies(t *testing.T) {
	for _, tc := range []struct{ listen, peer string }{
		{":0", "127.0.0.1"},
		{"[::1]:0", "::1"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			rec := newRecorder()
			l := &Layer{Handler: rec.handle}
			addr, err := l.Listen("udp", tc.listen)
			if err != nil {
				t.Skipf("cannot listen on %s here: %v", tc.listen, err)
			}
			t.Cleanup(func() { l.Close() })
			peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(tc.peer), 0)))
			if err != nil {
				t.Skipf("no %s here: %v", tc.peer, err)
			}
			t.Cleanup(func() { peer.Close() })
			dst := netip.AddrPortFrom(netip.MustParseAddr(tc.peer), addr.Port())
			req := strings.Replace(optionsNoRport, "branch=z9hG4bKx1", "branch=z9hG4bKx3;rport", 1)
			if _, err := peer.WriteToUDPAddrPort([]byte(req), dst); err != nil {
				t.Fatal(err)
			}
			m, src := rec.wait(t)
			if want := peer.LocalAddr().(*net.UDPAddr).AddrPort(); src.Remote != want {
				t.Errorf("source %v, want %v", src.Remote, want)
			}
			if err := l.SendResponse(sip.NewResponse(m, 200, ""), src); err != nil {
				t.Fatal(err)
			}
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 2048)
			n, from, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") || from.Port() != addr.Port() {
				t.Errorf("response %q from %v (%v); want a 200 from port %d", buf[:n], from, err, addr.Port())
			}
		})
	}
}
