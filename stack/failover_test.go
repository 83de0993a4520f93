package stack

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport/resolve"
)

// fakeDNS serves SRV records for _sip._udp.example.test pointing at the given
// loopback ports, in priority order, and A records for their targets.
func fakeDNS(t *testing.T, ports ...int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc("example.test.", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		name := q.Question[0].Name
		switch q.Question[0].Qtype {
		case dns.TypeSRV:
			if name == "_sip._udp.example.test." {
				for i, p := range ports {
					rr, _ := dns.NewRR("_sip._udp.example.test. 60 IN SRV " + strconv.Itoa(10*(i+1)) + " 0 " + strconv.Itoa(p) + " host" + strconv.Itoa(i) + ".example.test.")
					m.Answer = append(m.Answer, rr)
				}
			}
		case dns.TypeA:
			rr, _ := dns.NewRR(name + " 60 IN A 127.0.0.1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestClientFailover: RFC 3263 §4.3 — the first SRV target answers 503, so
// the Client retries the request, as a new transaction, at the second.
func TestClientFailover(t *testing.T) {
	var first, second atomic.Int32
	_, busyAddrs := newServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		first.Add(1)
		tx.Reply(503, "")
	}), "udp")
	_, okAddrs := newServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		second.Add(1)
		tx.Reply(200, "")
	}), "udp")
	port := func(a string) int { _, p, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(p); return n }
	dnsAddr := fakeDNS(t, port(busyAddrs["udp"]), port(okAddrs["udp"]))

	cli, _ := newServer(t, nil, "udp")
	c := cli.Client()
	c.Resolver = &resolve.Resolver{Server: dnsAddr, Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Do(ctx, options(t, "sip:service@example.test"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("got %v, %v; want 200 from the second target", res, err)
	}
	if first.Load() != 1 || second.Load() != 1 {
		t.Errorf("first target asked %d times, second %d; want once each", first.Load(), second.Load())
	}
}
