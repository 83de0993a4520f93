package registrar

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/auth"
	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/sip/digest"
	"github.com/switchboard-sip/switchboard/stack"
)

// accounts is a one-password auth.Credentials for tests.
type accounts map[string]string // user@realm → password

func (a accounts) HA1(_ context.Context, user, realm string, alg digest.Algorithm) (string, bool, error) {
	pw, ok := a[user+"@"+realm]
	if !ok {
		return "", false, nil
	}
	return alg.HA1(user, realm, pw), true, nil
}

// fixture is a registrar served over UDP on loopback, and a socket to talk
// to it with.
type fixture struct {
	t     *testing.T
	reg   *Registrar
	srv   *stack.Server
	store location.Store
	addr  string
	tcp   string // the TCP listener's address
	conn  *net.UDPConn
	seq   atomic.Uint32
}

// A mode is how the fixture's server runs the registrar.
type mode int

const (
	// handler: ServeSIP on a handler goroutine, with a store that is
	// not a location.AsyncStore (Update waits for the write).
	handler mode = iota
	// inline: ServeInline as stack.Server.Inline on the reading
	// goroutine, with the SQLite store answering from its writer.
	inline
)

func (m mode) String() string { return [...]string{"handler", "inline"}[m] }

// eachMode runs f as a subtest in each mode.
func eachMode(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range []mode{handler, inline} {
		t.Run(m.String(), func(t *testing.T) { f(t, m) })
	}
}

// syncStore hides the AsyncStore methods of the store it holds.
type syncStore struct{ location.Store }

func newFixture(t *testing.T, m mode, withAuth bool) *fixture {
	t.Helper()
	var store location.Store = syncStore{location.NewMemory()}
	if m == inline {
		db, err := location.Open(filepath.Join(t.TempDir(), location.FileName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		store = db
	}
	reg := &Registrar{Store: store}
	set := Settings{
		IsLocal: func(_ context.Context, host string) bool {
			return host == "example.com" || host == "127.0.0.1"
		},
	}
	if withAuth {
		set.Auth = &auth.Verifier{Credentials: accounts{"alice@example.com": "secret", "bob@example.com": "hunter2"}}
	}
	reg.Configure(set)
	srv := &stack.Server{Handler: reg, Policy: sip.Policy{Role: sip.RoleRegistrar, Extensions: Extensions()},
		Stateless: reg.Challenge}
	if m == inline {
		srv.Inline = reg.ServeInline
	}
	a, err := srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ta, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(a))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fixture{t: t, reg: reg, srv: srv, store: store, addr: a.String(), tcp: ta.String(), conn: c}
}

// roundTrip sends raw and returns the final response to it.
func (f *fixture) roundTrip(raw string) *sip.Message {
	f.t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if _, err := f.conn.Write([]byte(raw)); err != nil {
		f.t.Fatal(err)
	}
	buf := make([]byte, 65535)
	for {
		f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := f.conn.Read(buf)
		if err != nil {
			f.t.Fatalf("no response to:\n%s\n%v", raw, err)
		}
		m, err := sip.Parse(append([]byte(nil), buf[:n]...))
		if err != nil {
			f.t.Fatal(err)
		}
		if m.StatusCode >= 200 {
			return m
		}
	}
}

// register sends a REGISTER for aorUser@example.com with the given Call-ID,
// CSeq (0: the next one) and extra header lines.
func (f *fixture) register(aorUser, callID string, cseq uint32, extra ...string) *sip.Message {
	f.t.Helper()
	if cseq == 0 {
		cseq = f.seq.Add(1)
	}
	raw := fmt.Sprintf("REGISTER sip:example.com SIP/2.0\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-%d-%d\n"+
		"Max-Forwards: 70\n"+
		"To: <sip:%s@example.com>\n"+
		"From: <sip:%s@example.com>;tag=abc\n"+
		"Call-ID: %s\n"+
		"CSeq: %d REGISTER\n", time.Now().UnixNano(), cseq, aorUser, aorUser, callID, cseq)
	for _, e := range extra {
		raw += e + "\n"
	}
	raw += "Content-Length: 0\n\n"
	return f.roundTrip(raw)
}

// contacts returns the response's Contact values keyed by URI.
func contacts(t *testing.T, m *sip.Message) map[string]sip.Address {
	t.Helper()
	out := map[string]sip.Address{}
	for a, err := range m.Contacts() {
		if err != nil {
			t.Fatalf("bad Contact in response: %v\n%s", err, m)
		}
		out[a.URI.String()] = a
	}
	return out
}

func wantCode(t *testing.T, m *sip.Message, code int) {
	t.Helper()
	if m.StatusCode != code {
		t.Fatalf("got %d %s, want %d:\n%s", m.StatusCode, m.Reason, code, m)
	}
}

func TestRegisterRefreshRemove(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, false)
		res := f.register("alice", "c1", 0, "Contact: <sip:alice@192.0.2.1:5060>")
		wantCode(t, res, 200)
		cs := contacts(t, res)
		if len(cs) != 1 || cs["sip:alice@192.0.2.1:5060"].Params.Value("expires") != "3600" {
			t.Fatalf("want one contact with the default 3600 s:\n%s", res)
		}
		if res.Get("Date") == "" {
			t.Error("200 without Date (§10.3 step 8)")
		}
		// A second contact, with its own expiry and a q-value.
		res = f.register("alice", "c2", 0, "Contact: <sip:alice@192.0.2.2>;expires=120;q=0.5")
		wantCode(t, res, 200)
		cs = contacts(t, res)
		if len(cs) != 2 || cs["sip:alice@192.0.2.2"].Params.Value("expires") != "120" || cs["sip:alice@192.0.2.2"].Params.Value("q") != "0.5" {
			t.Fatalf("want both bindings, the new one with expires=120 and q=0.5:\n%s", res)
		}
		// The Expires header applies to a Contact without a parameter; more
		// than MaxExpires is cut to it.
		res = f.register("alice", "c1", 0, "Contact: <sip:alice@192.0.2.1:5060>", "Expires: 999999")
		wantCode(t, res, 200)
		if got := contacts(t, res)["sip:alice@192.0.2.1:5060"].Params.Value("expires"); got != "7200" {
			t.Errorf("refresh with Expires: 999999 gave expires=%s, want the maximum 7200", got)
		}
		// Too brief: 423 with Min-Expires, nothing changed.
		res = f.register("alice", "c1", 0, "Contact: <sip:alice@192.0.2.9>;expires=5")
		wantCode(t, res, 423)
		if res.Get("Min-Expires") != "60" {
			t.Errorf("423 without Min-Expires: 60:\n%s", res)
		}
		// A query (no Contact) lists the bindings.
		res = f.register("alice", "c3", 0)
		wantCode(t, res, 200)
		if len(contacts(t, res)) != 2 {
			t.Fatalf("query lists %d bindings, want 2:\n%s", len(contacts(t, res)), res)
		}
		// expires=0 removes one binding; URI comparison is RFC 3261's, so a
		// differently written equal URI matches.
		res = f.register("alice", "c2", 0, "Contact: <sip:alice@192.0.2.2;Foo=bar>;expires=0")
		wantCode(t, res, 200)
		if _, ok := contacts(t, res)["sip:alice@192.0.2.1:5060"]; !ok || len(contacts(t, res)) != 1 {
			t.Fatalf("after removing one, want only sip:alice@192.0.2.1:5060:\n%s", res)
		}
		// Wildcard needs Expires: 0.
		wantCode(t, f.register("alice", "c4", 0, "Contact: *"), 400)
		wantCode(t, f.register("alice", "c4", 0, "Contact: *", "Contact: <sip:a@b>", "Expires: 0"), 400)
		res = f.register("alice", "c4", 0, "Contact: *", "Expires: 0")
		wantCode(t, res, 200)
		if len(contacts(t, res)) != 0 {
			t.Fatalf("wildcard left bindings:\n%s", res)
		}
		if bs, _ := f.store.Lookup(context.Background(), "sip:alice@example.com", time.Now()); len(bs) != 0 {
			t.Fatalf("store still has %d bindings", len(bs))
		}
	})
}

func TestCSeqOrdering(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, false)
		wantCode(t, f.register("alice", "same", 10, "Contact: <sip:alice@192.0.2.1>;expires=100"), 200)
		// §10.3 step 7: same Call-ID, CSeq not higher: the update fails and
		// the binding keeps its old expiry.
		wantCode(t, f.register("alice", "same", 9, "Contact: <sip:alice@192.0.2.1>;expires=0"), 400)
		wantCode(t, f.register("alice", "same", 10, "Contact: <sip:alice@192.0.2.1>;expires=0"), 400)
		bs, _ := f.store.Lookup(context.Background(), "sip:alice@example.com", time.Now())
		if len(bs) != 1 || bs[0].CSeq != 10 {
			t.Fatalf("bindings after out-of-order requests: %+v", bs)
		}
		// Another Call-ID may carry a lower CSeq (another UA, or a reboot).
		wantCode(t, f.register("alice", "other", 1, "Contact: <sip:alice@192.0.2.1>;expires=200"), 200)
		// The wildcard obeys the same rule per binding.
		wantCode(t, f.register("alice", "other", 1, "Contact: *", "Expires: 0"), 400)
		wantCode(t, f.register("alice", "other", 2, "Contact: *", "Expires: 0"), 200)
	})
}

func TestDomainsAndSyntax(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, false)
		raw := "REGISTER sip:elsewhere.net SIP/2.0\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-dom1\n" +
			"Max-Forwards: 70\nTo: <sip:alice@elsewhere.net>\nFrom: <sip:alice@elsewhere.net>;tag=1\n" +
			"Call-ID: dom1\nCSeq: 1 REGISTER\nContact: <sip:alice@192.0.2.1>\nContent-Length: 0\n\n"
		wantCode(t, f.roundTrip(raw), 403)
		// Our Request-URI but a foreign AOR.
		raw = strings.Replace(strings.Replace(raw, "REGISTER sip:elsewhere.net", "REGISTER sip:example.com", 1), "dom1", "dom2", -1)
		wantCode(t, f.roundTrip(raw), 403)
		wantCode(t, f.register("alice", "q", 0, "Contact: <sip:alice@192.0.2.1>;q=1.5"), 400)
		wantCode(t, f.register("alice", "q", 0, "Contact: <sip:alice@192.0.2.1>;expires=soon"), 400)
		wantCode(t, f.register("alice", "q", 0, "Contact: <sip:alice@192.0.2.1>", "Expires: soon"), 400)
	})
}

func TestAuthentication(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, true)
		res := f.register("alice", "a1", 0, "Contact: <sip:alice@192.0.2.1>")
		wantCode(t, res, 401)
		// Without credentials the challenge is stateless (RFC 3261 §8.2.7):
		// no transaction is kept for it, yet a retransmission gets the same
		// bytes, as a transaction would have resent them.
		if n, _ := f.srv.Transactions(); n != 0 {
			t.Errorf("%d server transactions after a challenge, want none", n)
		}
		raw := "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-retrans\n" +
			"Max-Forwards: 70\nTo: <sip:alice@example.com>\nFrom: <sip:alice@example.com>;tag=r\n" +
			"Call-ID: retrans\nCSeq: 7 REGISTER\nContact: <sip:alice@192.0.2.1>\nContent-Length: 0\n\n"
		same := false
		for range 3 { // the nonce carries the second: a pair may straddle one
			first, again := f.roundTrip(raw), f.roundTrip(raw)
			wantCode(t, first, 401)
			if same = first.String() == again.String(); same {
				break
			}
		}
		if !same {
			t.Error("a retransmitted REGISTER got a different challenge")
		}
		var chal []string
		for _, h := range res.Headers {
			if h.Is("WWW-Authenticate") {
				chal = append(chal, h.Value)
			}
		}
		if len(chal) != 2 || !strings.Contains(chal[0], "SHA-256") || !strings.Contains(chal[1], "MD5") ||
			!strings.Contains(chal[0], `realm="example.com"`) {
			t.Fatalf("challenges %q; want SHA-256 then MD5 for realm example.com", chal)
		}
		a, _ := sip.ParseAuth(chal[1])
		nonce, _ := a.Param("nonce")
		authz := func(user, pw string, nc int) string {
			ha1 := digest.MD5.HA1(user, "example.com", pw)
			ncs := fmt.Sprintf("%08x", nc)
			resp := digest.MD5.Response(ha1, nonce, ncs, "cn", "auth", "REGISTER", "sip:example.com")
			return fmt.Sprintf(`Authorization: Digest username="%s", realm="example.com", nonce="%s", uri="sip:example.com", response="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="cn"`,
				user, nonce, resp, ncs)
		}
		wantCode(t, f.register("alice", "a1", 0, "Contact: <sip:alice@192.0.2.1>", authz("alice", "secret", 1)), 200)
		// The same nonce count again is a replay.
		wantCode(t, f.register("alice", "a1", 0, "Contact: <sip:alice@192.0.2.1>", authz("alice", "secret", 1)), 401)
		// A wrong password and an unknown user look the same.
		wrong := f.register("alice", "a1", 0, "Contact: <sip:alice@192.0.2.1>", authz("alice", "wrong", 2))
		unknown := f.register("mallory", "a1", 0, "Contact: <sip:mallory@192.0.2.1>", authz("mallory", "x", 3))
		wantCode(t, wrong, 401)
		wantCode(t, unknown, 401)
		if wrong.Reason != unknown.Reason || len(wrong.Headers) != len(unknown.Headers) {
			t.Errorf("wrong password and unknown user differ:\n%s\n%s", wrong, unknown)
		}
		// bob's valid credentials do not let him change alice's bindings.
		wantCode(t, f.register("alice", "a1", 0, "Contact: <sip:bob@192.0.2.1>", authz("bob", "hunter2", 4)), 403)
		if bs, _ := f.store.Lookup(context.Background(), "sip:alice@example.com", time.Now()); len(bs) != 1 {
			t.Fatalf("alice has %d bindings, want 1", len(bs))
		}
	})
}

func TestPathOutboundGRUU(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, false)
		// RFC 3327 §5.3: Path without Supported: path is refused with 420.
		res := f.register("alice", "p1", 0, "Contact: <sip:alice@192.0.2.1>", "Path: <sip:edge.example.com;lr>")
		wantCode(t, res, 420)
		if res.Get("Unsupported") != "path" {
			t.Errorf("420 without Unsupported: path:\n%s", res)
		}
		res = f.register("alice", "p1", 0, "Contact: <sip:alice@192.0.2.1>", "Supported: path",
			"Path: <sip:edge1.example.com;lr>", "Path: <sip:edge2.example.com;lr>")
		wantCode(t, res, 200)
		if p := res.Get("Path"); !strings.Contains(p, "edge1") || !strings.Contains(p, "edge2") || strings.Index(p, "edge1") > strings.Index(p, "edge2") {
			t.Errorf("200 Path %q, want edge1 then edge2", p)
		}
		bs, _ := f.store.Lookup(context.Background(), "sip:alice@example.com", time.Now())
		if len(bs) != 1 || len(bs[0].Path) != 2 {
			t.Fatalf("stored path: %+v", bs)
		}

		// RFC 5626: two flows of one instance are two bindings, keyed by
		// reg-id; a refresh of reg-id 1 from a new address replaces it.
		inst := `+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"`
		res = f.register("bob", "o1", 0, "Contact: <sip:bob@192.0.2.5:5060;transport=tcp;ob>;"+inst+";reg-id=1", "Supported: outbound, gruu")
		wantCode(t, res, 200)
		if res.Get("Require") != "outbound" {
			t.Errorf("outbound registration without Require: outbound:\n%s", res)
		}
		c := contacts(t, res)["sip:bob@192.0.2.5:5060;transport=tcp;ob"]
		if g := sip.Unquote(c.Params.Value("pub-gruu")); g != "sip:bob@example.com;gr=urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF" {
			t.Errorf("pub-gruu %q:\n%s", g, res)
		}
		wantCode(t, f.register("bob", "o2", 0, "Contact: <sip:bob@192.0.2.6:5060;transport=tcp;ob>;"+inst+";reg-id=2", "Supported: outbound"), 200)
		res = f.register("bob", "o1", 0, "Contact: <sip:bob@192.0.2.7:5060;transport=tcp;ob>;"+inst+";reg-id=1", "Supported: outbound")
		wantCode(t, res, 200)
		cs := contacts(t, res)
		_, moved := cs["sip:bob@192.0.2.7:5060;transport=tcp;ob"]
		_, stale := cs["sip:bob@192.0.2.5:5060;transport=tcp;ob"]
		if len(cs) != 2 || !moved || stale {
			t.Fatalf("want reg-id 1 moved to 192.0.2.7 and reg-id 2 kept:\n%s", res)
		}
		// Two live Contacts with a reg-id: 400.
		wantCode(t, f.register("bob", "o3", 0, "Contact: <sip:bob@192.0.2.8>;"+inst+";reg-id=3, <sip:bob@192.0.2.9>", "Supported: outbound"), 400)
		// RFC 5627 §5.1: a Contact that is the AOR itself is refused.
		wantCode(t, f.register("bob", "o4", 0, "Contact: <sip:bob@example.com>;"+inst, "Supported: gruu"), 403)
		// Not the first hop and no Path with "ob": 439 when the UA asked
		// for outbound.
		raw := "REGISTER sip:example.com SIP/2.0\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-ob439\n" +
			"Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK-ua\n" +
			"Max-Forwards: 69\nTo: <sip:bob@example.com>\nFrom: <sip:bob@example.com>;tag=1\n" +
			"Call-ID: ob439\nCSeq: 1 REGISTER\nSupported: outbound\n" +
			"Contact: <sip:bob@192.0.2.50>;" + inst + ";reg-id=1\nContent-Length: 0\n\n"
		wantCode(t, f.roundTrip(raw), 439)
	})
}

// TestTorture sends RFC 4475's registrar messages byte for byte and checks
// the verdicts ../shared/torture/INDEX.tsv gives.
func TestTorture(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join("..", "sip", "testdata", "rfc4475", name+".dat"))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		// The files are sent byte for byte over TCP: their Via names hosts
		// that a UDP response could not reach, while a response over TCP
		// goes back on the connection (§18.2.2).
		send := func(f *fixture, raw string) *sip.Message {
			t.Helper()
			c, err := net.Dial("tcp", f.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			r := sip.NewStreamReader(c)
			for {
				m, err := r.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if m.StatusCode >= 200 {
					return m
				}
			}
		}
		t.Run("escnull", func(t *testing.T) {
			f := newFixture(t, m, false)
			res := send(f, read("escnull"))
			wantCode(t, res, 200)
			if cs := contacts(t, res); len(cs) != 2 {
				t.Fatalf("want two distinct bindings for %%00 and %%00%%00:\n%s", res)
			}
			bs, _ := f.store.Lookup(context.Background(), "sip:null-%00-null@example.com", time.Now())
			if len(bs) != 2 {
				t.Fatalf("stored %d bindings under the unescaped AOR, want 2", len(bs))
			}
		})
		t.Run("regescrt", func(t *testing.T) {
			f := newFixture(t, m, false)
			res := send(f, read("regescrt"))
			wantCode(t, res, 200)
			if _, ok := contacts(t, res)["sip:user@example.com?Route=%3Csip:sip.example.com%3E"]; !ok {
				t.Fatalf("the binding lost its escaped Route header:\n%s", res)
			}
		})
		t.Run("regbadct", func(t *testing.T) {
			wantCode(t, send(newFixture(t, m, false), read("regbadct")), 400)
		})
		t.Run("regaut01", func(t *testing.T) {
			wantCode(t, send(newFixture(t, m, false), read("regaut01")), 200)
			res := send(newFixture(t, m, true), read("regaut01"))
			wantCode(t, res, 401)
			if !strings.HasPrefix(res.Get("WWW-Authenticate"), "Digest ") {
				t.Errorf("401 without a Digest challenge:\n%s", res)
			}
		})
	})
}

func TestQValues(t *testing.T) {
	for _, c := range []struct {
		in   string
		q    int
		ok   bool
		back string
	}{
		{"1", 1000, true, "1"}, {"0", 0, true, "0"}, {"0.5", 500, true, "0.5"}, {"0.125", 125, true, "0.125"},
		{"1.000", 1000, true, "1"}, {"0.", 0, true, "0"}, {"1.5", 0, false, ""}, {"0.1234", 0, false, ""}, {"x", 0, false, ""},
	} {
		q, ok := parseQ(c.in)
		if ok != c.ok || (ok && (q != c.q || location.FormatQ(q) != c.back)) {
			t.Errorf("parseQ(%q) = %d, %v (format %q); want %d, %v (%q)", c.in, q, ok, location.FormatQ(q), c.q, c.ok, c.back)
		}
	}
}
