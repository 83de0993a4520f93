package stack

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestOptionsIPv6: listeners and clients on ::1, with bracketed IPv6
// references in URIs and Via (RFC 5118).
func TestOptionsIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		ln.Close()
	}
	var seenVia atomic.Value
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		seenVia.Store(v)
		tx.Reply(200, "")
	})}
	udp, err := srv.Listen("udp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := srv.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	cli := &Server{}
	cli.Listen("udp", "[::1]:0")
	defer cli.Shutdown(context.Background())
	for _, c := range []struct{ target, proto string }{
		{"sip:echo@" + udp.String(), "UDP"},
		{"sip:echo@" + tcp.String() + ";transport=tcp", "TCP"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := cli.Client().Do(ctx, options(t, c.target))
		cancel()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %v %v", c.target, res, err)
		}
		// RFC 3581 §4: with rport the server adds received even when it
		// equals sent-by; RFC 5118 §4.5: either IPv6 form is valid.
		seen := seenVia.Load().(sip.Via)
		if seen.Transport != c.proto || seen.Host != "[::1]" || seen.Params.Value("received") != "::1" || seen.Params.Value("rport") == "" {
			t.Errorf("%s: server saw Via %s; want %s [::1] with received=::1 and rport", c.target, seen, c.proto)
		}
	}
}
