package transport

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestConcurrentDialsShareOneConnection: requests sent at once toward a flow
// with no connection yet wait for one connection attempt instead of each
// opening a connection (a TLS handshake makes the window wide).
func TestConcurrentDialsShareOneConnection(t *testing.T) {
	conf := wsTestTLS(t)
	srv, addr, got := wsEcho(t, TLS, conf)
	const n = 16
	responses := make(chan struct{}, n)
	cli := &Layer{TLSConfig: conf, Handler: func(m *sip.Message, src Flow) { responses <- struct{}{} }}
	defer cli.Close()
	dst := Flow{Proto: TLS, Remote: netip.MustParseAddrPort(addr)}
	var wg sync.WaitGroup
	conns := make([]uint64, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			f, err := cli.SendRequest(wsRequest(t, "sip:echo@"+addr+";transport=tls"), dst)
			if err != nil {
				t.Error(err)
				return
			}
			conns[i] = f.Conn
		})
	}
	close(start)
	wg.Wait()
	// Every request arrives and is answered (before the deferred Close).
	for range n {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("not every request arrived")
		}
		select {
		case <-responses:
		case <-time.After(5 * time.Second):
			t.Fatal("not every response arrived")
		}
	}
	for i, c := range conns {
		if c == 0 || c != conns[0] {
			t.Errorf("request %d left on connection %d, request 0 on %d", i, c, conns[0])
		}
	}
	if cli.Conns() != 1 || srv.Conns() != 1 {
		t.Errorf("connections: client %d, server %d; want 1", cli.Conns(), srv.Conns())
	}
}

// TestTLSServerName: an outgoing TLS or WSS connection checks the server's
// certificate against the flow's Name (RFC 5922 §7.2), and against the
// address when the flow has no name.
func TestTLSServerName(t *testing.T) {
	conf := testTLS(t, []string{"sip.example.test"}, nil)
	for _, proto := range []string{TLS, WSS} {
		t.Run(proto, func(t *testing.T) {
			_, addr, got := wsEcho(t, proto, conf)
			responses := make(chan struct{}, 1)
			cli := &Layer{TLSConfig: conf, Handler: func(*sip.Message, Flow) { responses <- struct{}{} }}
			defer cli.Close()
			remote := netip.MustParseAddrPort(addr)
			for _, c := range []struct {
				name, fails string
			}{
				{"", "127.0.0.1"},
				{"other.example.test", "other.example.test"},
				{"sip.example.test", ""},
			} {
				_, err := cli.SendRequest(wsRequest(t, "sip:echo@sip.example.test"), Flow{Proto: proto, Remote: remote, Name: c.name})
				switch {
				case c.fails == "" && err != nil:
					t.Errorf("name %q: %v", c.name, err)
				case c.fails != "" && (err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), c.fails)):
					t.Errorf("name %q: error %v; want a certificate error naming %s", c.name, err, c.fails)
				}
			}
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the request over a verified connection did not arrive")
			}
			select {
			case <-responses: // answered before the deferred Close
			case <-time.After(5 * time.Second):
				t.Fatal("no response over the verified connection")
			}
		})
	}
}
