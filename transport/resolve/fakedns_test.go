package resolve

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeDNS is an authoritative-looking DNS server on 127.0.0.1 serving a
// zone the test writes in zone-file syntax. Set its behaviour fields before
// start; the query log may be read at any time.
type fakeDNS struct {
	rrs []dns.RR
	// drop lists "TYPE name." questions it never answers (a timeout).
	drop map[string]bool
	// rcode lists "TYPE name." questions answered with that rcode.
	rcode map[string]int
	// truncateUDP makes every UDP answer with more than one record come
	// back empty with TC set; over TCP the full answer comes.
	truncateUDP bool

	addr string // "127.0.0.1:port", UDP and (with tcp) TCP

	mu      sync.Mutex
	queries []string // "udp SRV _sip._tcp.example.com."
}

// newFakeDNS parses zone (zone-file syntax, $ORIGIN example.com. unless
// it sets another) into a server that is not yet started.
func newFakeDNS(t *testing.T, zone string) *fakeDNS {
	t.Helper()
	f := &fakeDNS{drop: map[string]bool{}, rcode: map[string]int{}}
	zp := dns.NewZoneParser(strings.NewReader(zone), "example.com.", "")
	zp.SetDefaultTTL(300)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		f.rrs = append(f.rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone: %v", err)
	}
	return f
}

// startDNS parses zone and serves it over UDP (and TCP on the same port
// when tcp is set) until the test ends.
func startDNS(t *testing.T, zone string, tcp bool) *fakeDNS {
	t.Helper()
	f := newFakeDNS(t, zone)
	f.start(t, tcp)
	return f
}

func (f *fakeDNS) start(t *testing.T, tcp bool) {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if !tcp {
			break
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatalf("no port free for both UDP and TCP: %v", err)
		}
	}
	f.addr = pc.LocalAddr().String()
	serve := func(s *dns.Server) {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("fake DNS server did not start")
		}
		t.Cleanup(func() { s.Shutdown() })
	}
	serve(&dns.Server{PacketConn: pc, Handler: f})
	if ln != nil {
		serve(&dns.Server{Listener: ln, Handler: f})
	}
}

func (f *fakeDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	key := dns.TypeToString[q.Qtype] + " " + strings.ToLower(q.Name)
	network := w.LocalAddr().Network()
	f.mu.Lock()
	f.queries = append(f.queries, network+" "+key)
	f.mu.Unlock()
	if f.drop[key] {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if rc, ok := f.rcode[key]; ok {
		m.Rcode = rc
		w.WriteMsg(m)
		return
	}
	answer, exists := f.lookup(q.Name, q.Qtype)
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	m.Answer = answer
	if f.truncateUDP && network == "udp" && len(answer) > 1 {
		m.Answer = nil
		m.Truncated = true
	}
	w.WriteMsg(m)
}

// lookup returns the records of type qtype at name, and whether name
// exists at all; a name with no records of its own matches a wildcard
// "*.parent" (RFC 4592, simplified).
func (f *fakeDNS) lookup(name string, qtype uint16) (answer []dns.RR, exists bool) {
	match := func(owner string) {
		for _, rr := range f.rrs {
			if !strings.EqualFold(rr.Header().Name, owner) {
				continue
			}
			exists = true
			if rr.Header().Rrtype == qtype {
				rr = dns.Copy(rr)
				rr.Header().Name = name
				answer = append(answer, rr)
			}
		}
	}
	match(name)
	if !exists {
		if _, parent, ok := strings.Cut(name, "."); ok {
			match("*." + parent)
		}
	}
	return answer, exists
}

// log returns the questions asked so far, "udp TYPE name.".
func (f *fakeDNS) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

// asked returns the question types and names asked so far, without the
// network, sorted: "A example.com.".
func (f *fakeDNS) asked() []string {
	var out []string
	for _, q := range f.log() {
		_, rest, _ := strings.Cut(q, " ")
		out = append(out, rest)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// resolver returns a Resolver asking f, with a short query timeout.
func (f *fakeDNS) resolver() *Resolver {
	return &Resolver{Server: f.addr, Timeout: time.Second}
}

// testCtx bounds one test's resolution.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// scriptedRand returns a Rand that returns vals in turn and records each n
// it is called with; it fails the test when called too often or when a
// value is out of [0, n).
func scriptedRand(t *testing.T, vals ...int) (randn func(int) int, calls *[]int) {
	t.Helper()
	var ns []int
	return func(n int) int {
		ns = append(ns, n)
		if len(vals) == 0 {
			t.Errorf("Rand(%d) called more often than scripted", n)
			return 0
		}
		v := vals[0]
		vals = vals[1:]
		if v < 0 || v >= n {
			t.Errorf("scripted Rand value %d out of [0, %d)", v, n)
			return 0
		}
		return v
	}, &ns
}

// targetStrings renders targets as "TLS 192.0.2.1:5061 (server1.example.com)".
func targetStrings(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// wantTargets fails the test unless got renders as want, in order.
func wantTargets(t *testing.T, got []Target, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Resolve: %v; want %q", err, want)
	}
	if g := targetStrings(got); !slices.Equal(g, want) {
		t.Errorf("targets:\n got %q\nwant %q", g, want)
	}
}
