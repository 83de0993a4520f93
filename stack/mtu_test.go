package stack

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestLargeRequestGoesOverTCP: RFC 3261 §18.1.1 — a request within 200
// bytes of the MTU that would go over UDP is sent over TCP instead when the
// target listens there; a small one stays on UDP.
func TestLargeRequestGoesOverTCP(t *testing.T) {
	var proto atomic.Value
	// The fallback goes to the same port over TCP, so the server listens
	// on one port number for both.
	srv := &Server{Handler: HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		proto.Store(v.Transport)
		tx.Reply(200, "")
	})}
	tcp, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen("udp", tcp.String()); err != nil {
		t.Skipf("cannot bind UDP on the TCP port %s: %v", tcp, err)
	}
	defer srv.Shutdown(context.Background())
	cli, _ := newServer(t, nil, "udp", "tcp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	small := options(t, "sip:echo@"+tcp.String())
	if res, err := cli.Client().Do(ctx, small); err != nil || res.StatusCode != 200 || proto.Load() != "UDP" {
		t.Fatalf("small request: %v %v over %v; want 200 over UDP", res, err, proto.Load())
	}
	big := options(t, "sip:echo@"+tcp.String())
	big.Add("Content-Type", "text/plain")
	big.Body = []byte(strings.Repeat("x", 1400))
	if res, err := cli.Client().Do(ctx, big); err != nil || res.StatusCode != 200 || proto.Load() != "TCP" {
		t.Fatalf("large request: %v %v over %v; want 200 over TCP", res, err, proto.Load())
	}
}
