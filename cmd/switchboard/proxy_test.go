package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/subscriber"
)

// proxyServer starts a server for the proxy tests: UDP and TCP on loopback,
// MD5 digest (SIPp answers only MD5), the local domains example.com and
// redir.example.com (answered by the redirect server), and accounts
// user0001…user0009 in example.com and user0007 and user0008 in
// redir.example.com.
func proxyServer(t *testing.T) (p *proc, dir string) {
	t.Helper()
	sippBinary(t)
	dir = t.TempDir()
	data := filepath.Join(dir, "data")
	addUsers(t, data, 9)
	addAccount(t, data, "user0007", "redir.example.com")
	addAccount(t, data, "user0008", "redir.example.com")
	cfg := "listen:\n  udp: [\"127.0.0.1:0\"]\n  tcp: [\"127.0.0.1:0\"]\n" +
		"data_dir: " + data + "\n" +
		"domains: [example.com, redir.example.com]\n" +
		"auth:\n  algorithms: [MD5]\n" +
		"proxy:\n  redirect: [redir.example.com]\n" +
		"log:\n  level: debug\n"
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServe(t, path), dir
}

// addAccount stores user@domain with password pw-user.
func addAccount(t *testing.T, dataDir, user, domain string) {
	t.Helper()
	st, err := subscriber.OpenSQLite(filepath.Join(dataDir, subscriber.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := subscriber.NewAccount(user, domain, "pw-"+user, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback port free for both UDP and TCP just now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// sippRun is one SIPp process and the messages it traced.
type sippRun struct {
	name     string
	cmd      *exec.Cmd
	out      strings.Builder
	messages string // -message_file
	done     chan struct{}
	err      error
}

// startSIPp starts SIPp with scenario (testdata/sipp) and args, tracing
// every message, and kills it at the end of the test.
func startSIPp(t *testing.T, name, scenario string, args ...string) *sippRun {
	t.Helper()
	bin := sippBinary(t)
	dir := t.TempDir()
	wd, _ := os.Getwd()
	r := &sippRun{name: name, messages: filepath.Join(dir, "messages.log"), done: make(chan struct{})}
	all := append([]string{"-sf", filepath.Join(wd, "testdata", "sipp", scenario), "-i", "127.0.0.1",
		"-nostdin", "-m", "1", "-trace_msg", "-message_file", r.messages,
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"), "-timeout", "30s", "-timeout_error"}, args...)
	r.cmd = exec.Command(bin, all...)
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("sipp %s messages:\n%s", r.name, lastLines(r.trace(), 60))
		}
	})
	return r
}

// wait waits for SIPp to end and fails the test unless its call succeeded.
func (r *sippRun) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("sipp %s did not finish within 60 s", r.name)
	}
	if r.err != nil {
		errs, _ := os.ReadFile(filepath.Join(r.cmd.Dir, "errors.log"))
		t.Fatalf("sipp %s: %v\n%s\n--- errors ---\n%s\n--- messages ---\n%s", r.name, r.err,
			lastLines(r.out.String(), 15), errs, lastLines(r.trace(), 80))
	}
}

func (r *sippRun) trace() string {
	b, _ := os.ReadFile(r.messages)
	return string(b)
}

// received returns the messages SIPp received, parsed, in order.
func (r *sippRun) received(t *testing.T) []*sip.Message {
	t.Helper()
	var out []*sip.Message
	blocks := strings.Split(r.trace(), "\n----------------------------------------------- ")
	for _, b := range blocks {
		head, body, ok := strings.Cut(b, "\n")
		if !ok {
			continue
		}
		_ = head
		first, rest, _ := strings.Cut(strings.TrimLeft(body, "\n"), "\n")
		if !strings.Contains(first, "message received") {
			continue
		}
		raw := strings.TrimLeft(rest, "\r\n")
		raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
		m, err := sip.Parse([]byte(raw))
		if err != nil {
			t.Fatalf("sipp %s received a message the parser refuses (%v):\n%s", r.name, err, raw)
		}
		out = append(out, m)
	}
	return out
}

// find returns the messages received with that method (a request) or
// that status code for a request of that method (a response).
func find(ms []*sip.Message, method string, code int) []*sip.Message {
	var out []*sip.Message
	for _, m := range ms {
		cs, _ := m.CSeq()
		if (code == 0 && m.Method == method) || (code != 0 && m.StatusCode == code && cs.Method == method) {
			out = append(out, m)
		}
	}
	return out
}

// proxyRoutes returns the Record-Route values the proxy wrote (with its
// sb parameter), top first.
func proxyRoutes(m *sip.Message) []sip.Address {
	var out []sip.Address
	for rr, err := range m.RecordRoutes() {
		if err == nil && rr.URI.Params.Has("sb") {
			out = append(out, rr)
		}
	}
	return out
}

func count[T any](seq func(func(T, error) bool)) int {
	n := 0
	for range seq {
		n++
	}
	return n
}

// registerContact registers contact (a SIPp UAS) for user@domain through
// SIPp with digest authentication.
func registerContact(t *testing.T, p *proc, user, domain, contact, q string) {
	t.Helper()
	users := filepath.Join(t.TempDir(), "reg.csv")
	if err := os.WriteFile(users, []byte(fmt.Sprintf("SEQUENTIAL\n%s;pw-%s;%s\n", user, user, domain)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startSIPp(t, "register "+user, "register_contact.xml", "-inf", users, "-key", "contact", contact,
		"-key", "q", q, "-p", "0", p.addr("udp"))
	r.wait(t)
}

// callerFile is the injection file of the caller, user0001.
func callerFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "caller.csv")
	if err := os.WriteFile(p, []byte("SEQUENTIAL\nuser0001;pw-user0001;example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProxyCalls is issue 5's first check: SIPp calls SIPp through the
// proxy (INVITE, 180, 200, ACK, BYE) over UDP, over TCP, and from UDP to
// TCP, with the caller authenticated; the Record-Route both SIPps saw
// names the proxy once, or twice with the transport of each side when
// the call changes transport, and the ACK and BYE follow it.
func TestProxyCalls(t *testing.T) {
	p, _ := proxyServer(t)
	for _, c := range []struct {
		name, callee, uac, uas string
	}{
		{"udp", "user0002", "u1", "u1"},
		{"tcp", "user0003", "t1", "t1"},
		{"udp to tcp", "user0004", "u1", "t1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			uasProto := map[string]string{"u1": "udp", "t1": "tcp"}[c.uas]
			uacProto := map[string]string{"u1": "udp", "t1": "tcp"}[c.uac]
			uas := startSIPp(t, "uas", "uas_answer.xml", "-t", c.uas, "-p", fmt.Sprint(port))
			registerContact(t, p, c.callee, "example.com",
				fmt.Sprintf("sip:%s@127.0.0.1:%d;transport=%s", c.callee, port, uasProto), "1")
			uac := startSIPp(t, "uac", "uac_call.xml", "-t", c.uac, "-p", "0", "-inf", callerFile(t),
				"-key", "callee", c.callee+"@example.com", p.addr(uacProto))
			uac.wait(t)
			uas.wait(t)

			got := uas.received(t)
			invites := find(got, "INVITE", 0)
			if len(invites) != 1 {
				t.Fatalf("the callee received %d INVITEs, want 1", len(invites))
			}
			inv := invites[0]
			rr := proxyRoutes(inv)
			want := 1
			if uasProto != uacProto {
				want = 2
			}
			if len(rr) != want {
				t.Fatalf("INVITE at the callee has %d Record-Route values of the proxy, want %d: %q", len(rr), want, inv.Get("Record-Route"))
			}
			// The top one is the side facing the callee, the last the
			// caller's (RFC 5658 §4).
			if tp := rr[0].URI.Params.Value("transport"); (uasProto == "tcp") != (tp == "tcp") {
				t.Errorf("top Record-Route %s: transport %q, callee uses %s", rr[0].URI.String(), tp, uasProto)
			}
			if tp := rr[len(rr)-1].URI.Params.Value("transport"); (uacProto == "tcp") != (tp == "tcp") {
				t.Errorf("last Record-Route %s: transport %q, caller uses %s", rr[len(rr)-1].URI.String(), tp, uacProto)
			}
			if n := count(inv.Vias()); n != 2 {
				t.Errorf("INVITE at the callee has %d Vias, want 2 (proxy, caller)", n)
			}
			if mf, _ := inv.MaxForwards(); mf != 69 {
				t.Errorf("INVITE at the callee has Max-Forwards %d, want 69", mf)
			}
			if inv.Has("Proxy-Authorization") {
				t.Error("the caller's credentials were forwarded to the callee")
			}
			oks := find(uac.received(t), "INVITE", 200)
			if len(oks) != 1 {
				t.Fatalf("the caller received %d 200 OKs to INVITE, want 1", len(oks))
			}
			if back := proxyRoutes(oks[0]); len(back) != want {
				t.Errorf("200 OK at the caller has %d Record-Route values of the proxy, want %d", len(back), want)
			}
			for _, method := range []string{"ACK", "BYE"} {
				ms := find(got, method, 0)
				if len(ms) != 1 {
					t.Fatalf("the callee received %d %ss, want 1", len(ms), method)
				}
				if n := count(ms[0].Vias()); n != 2 {
					t.Errorf("%s at the callee has %d Vias, want 2: it did not come through the proxy", method, n)
				}
				if ms[0].Has("Route") {
					t.Errorf("%s at the callee still has Route %q: the proxy did not remove its own", method, ms[0].Get("Route"))
				}
			}
		})
	}
}

// TestProxyForking is issue 5's second check: one AOR is registered from
// two SIPp UASs; the one that answers sets up the call, the other gets a
// CANCEL and answers 487, and the caller sees exactly one 200.
func TestProxyForking(t *testing.T) {
	p, _ := proxyServer(t)
	answerPort, ringPort := freePort(t), freePort(t)
	answer := startSIPp(t, "answering uas", "uas_answer.xml", "-t", "u1", "-p", fmt.Sprint(answerPort))
	ring := startSIPp(t, "ringing uas", "uas_cancelled.xml", "-t", "u1", "-p", fmt.Sprint(ringPort))
	registerContact(t, p, "user0005", "example.com", fmt.Sprintf("sip:user0005@127.0.0.1:%d", answerPort), "1")
	registerContact(t, p, "user0005", "example.com", fmt.Sprintf("sip:user0005@127.0.0.1:%d", ringPort), "1")
	uac := startSIPp(t, "uac", "uac_call.xml", "-t", "u1", "-p", "0", "-inf", callerFile(t),
		"-key", "callee", "user0005@example.com", p.addr("udp"))
	uac.wait(t)
	answer.wait(t)
	ring.wait(t)
	if n := len(find(uac.received(t), "INVITE", 200)); n != 1 {
		t.Errorf("the caller received %d 200 OKs, want exactly 1", n)
	}
	if n := len(find(ring.received(t), "CANCEL", 0)); n != 1 {
		t.Errorf("the ringing UAS received %d CANCELs, want 1", n)
	}
}

// TestProxyCancel is issue 5's third check: the caller cancels before the
// callee answers; the caller gets 200 for its CANCEL and 487 for the
// INVITE, the callee a CANCEL, to which it answers 200 and 487, and the
// ACK for that 487.
func TestProxyCancel(t *testing.T) {
	p, _ := proxyServer(t)
	port := freePort(t)
	uas := startSIPp(t, "uas", "uas_cancelled.xml", "-t", "u1", "-p", fmt.Sprint(port))
	registerContact(t, p, "user0006", "example.com", fmt.Sprintf("sip:user0006@127.0.0.1:%d", port), "1")
	uac := startSIPp(t, "uac", "uac_cancel.xml", "-t", "u1", "-p", "0", "-inf", callerFile(t),
		"-key", "callee", "user0006@example.com", p.addr("udp"))
	uac.wait(t)
	uas.wait(t)
	got := uac.received(t)
	if len(find(got, "CANCEL", 200)) != 1 || len(find(got, "INVITE", 487)) != 1 {
		t.Errorf("the caller did not get 200 for CANCEL and 487 for INVITE once each")
	}
}

// TestProxyNoOpenRelay is issue 5's fifth check: nobody unauthenticated
// reaches another domain through the proxy, whatever the request claims,
// and an authenticated local user calling a local user who does not exist
// gets 404.
func TestProxyNoOpenRelay(t *testing.T) {
	p, _ := proxyServer(t)
	addr := p.addr("udp")
	invite := func(from, extra string) string {
		return "INVITE sip:+15551234@carrier.example SIP/2.0\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK" + sip.NewTag() + "\n" +
			"Max-Forwards: 70\n" +
			"From: <" + from + ">;tag=" + sip.NewTag() + "\n" +
			"To: <sip:+15551234@carrier.example>\n" +
			"Call-ID: " + sip.NewCallID() + "\n" +
			"CSeq: 1 INVITE\n" +
			"Contact: <sip:x@127.0.0.1:9>\n" + extra +
			"Content-Length: 0\n\n"
	}
	cases := []struct {
		name, from, extra string
		want              int
	}{
		{"from another domain", "sip:mallory@carrier.example", "", 403},
		{"claiming a local user", "sip:user0001@example.com", "", 407},
		{"with wrong credentials", "sip:user0001@example.com",
			`Proxy-Authorization: Digest username="user0001", realm="example.com", nonce="x", uri="sip:+15551234@carrier.example", response="00000000000000000000000000000000"` + "\n", 407},
		{"with a forged Route", "sip:mallory@carrier.example",
			"Route: <sip:" + addr + ";lr;sb=00000000000000000000>\n", 403},
		{"by strict routing", "sip:mallory@carrier.example",
			"Route: <sip:+15551234@carrier.example>\n", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := udpExchange(t, addr, invite(c.from, c.extra))
			if res.StatusCode != c.want {
				t.Fatalf("INVITE to carrier.example %s: %d %s, want %d", c.name, res.StatusCode, res.Reason, c.want)
			}
			if c.want == 407 && !res.Has("Proxy-Authenticate") {
				t.Error("407 without Proxy-Authenticate")
			}
		})
	}
	t.Run("authenticated call to a user who does not exist", func(t *testing.T) {
		uac := startSIPp(t, "uac", "uac_404.xml", "-t", "u1", "-p", "0", "-inf", callerFile(t),
			"-key", "callee", "nobody@example.com", addr)
		uac.wait(t)
	})
	if !strings.Contains(p.logText(), "proxy: refused relaying") {
		t.Error("the refusals were not logged as warnings")
	}
}

// TestRedirect is issue 5's sixth check: for a domain configured as
// redirect, SIPp gets 302 with the registered contact and its q-value,
// follows it, and reaches the UAS directly.
func TestRedirect(t *testing.T) {
	p, _ := proxyServer(t)
	port := freePort(t)
	uas := startSIPp(t, "uas", "uas_answer.xml", "-t", "u1", "-p", fmt.Sprint(port))
	registerContact(t, p, "user0007", "redir.example.com", fmt.Sprintf("sip:user0007@127.0.0.1:%d", port), "0.7")
	uac := startSIPp(t, "uac", "uac_redirect.xml", "-t", "u1", "-p", "0",
		"-key", "callee", "user0007@redir.example.com", p.addr("udp"))
	uac.wait(t)
	uas.wait(t)
	inv := find(uas.received(t), "INVITE", 0)
	if len(inv) != 1 || count(inv[0].Vias()) != 1 {
		t.Fatalf("the UAS did not receive the redirected INVITE straight from the caller")
	}
	// A known user without a binding gets 480, an unknown one 404.
	for user, want := range map[string]int{"user0008": 480, "nobody": 404} {
		res := udpExchange(t, p.addr("udp"), "INVITE sip:"+user+"@redir.example.com SIP/2.0\n"+
			"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK"+sip.NewTag()+"\n"+
			"Max-Forwards: 70\nFrom: <sip:a@elsewhere.example>;tag=1\nTo: <sip:"+user+"@redir.example.com>\n"+
			"Call-ID: "+sip.NewCallID()+"\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
		if res.StatusCode != want {
			t.Errorf("INVITE for %s@redir.example.com: %d, want %d", user, res.StatusCode, want)
		}
	}
}

// tortureSender binds the address RFC 4475's messages are answered at over
// UDP: their Vias name hosts without rport, so a response goes to the
// source address at port 5060 (§18.2.2). A loopback address other than
// 127.0.0.1 keeps clear of anything else on port 5060.
func tortureSender(t *testing.T) *net.UDPConn {
	t.Helper()
	for i := 77; i < 100; i++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(i)), Port: 5060})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
	}
	t.Fatal("cannot bind UDP port 5060 on 127.0.0.77-99 (is a server listening on 0.0.0.0:5060?)")
	return nil
}

// readSIP reads datagrams on c until one parses as a message whose start
// line or CSeq satisfies keep, for at most d.
func readSIP(t *testing.T, c *net.UDPConn, d time.Duration, keep func(*sip.Message) bool) (*sip.Message, *net.UDPAddr) {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		c.SetReadDeadline(deadline)
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return nil, nil
		}
		m, err := sip.Parse(append([]byte(nil), buf[:n]...))
		if err == nil && keep(m) {
			return m, from
		}
	}
}

// TestProxyTorture is issue 5's seventh check: RFC 4475 messages sent to
// the proxy byte for byte over UDP get what ../shared/torture/INDEX.tsv
// names; the valid ones are routed to the contact registered for their
// Request-URI (the sender is a trusted peer, so they are not challenged).
func TestProxyTorture(t *testing.T) {
	sippBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addAccount(t, data, "UserB", "example.com")
	addAccount(t, data, "user", "example.com")
	addAccount(t, data, "joe", "example.com")
	sender := tortureSender(t)
	cfg := "listen:\n  udp: [\"127.0.0.1:0\"]\n  tcp: [\"127.0.0.1:0\"]\n" +
		"data_dir: " + data + "\ndomains: [example.com]\nauth:\n  algorithms: [MD5]\n" +
		"proxy:\n  trusted: [" + sender.LocalAddr().(*net.UDPAddr).IP.String() + "]\n"
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, path)
	server, err := net.ResolveUDPAddr("udp", p.addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	// The callee: a UDP socket registered for UserB, user and joe.
	callee, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	for _, u := range []string{"UserB", "user", "joe"} {
		registerContact(t, p, u, "example.com", fmt.Sprintf("sip:%s@%s", u, callee.LocalAddr()), "1")
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "sip", "testdata", "rfc4475", name+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send := func(name string) {
		if _, err := sender.WriteToUDP(read(name), server); err != nil {
			t.Fatal(err)
		}
	}
	response := func(callID string) *sip.Message {
		m, _ := readSIP(t, sender, 5*time.Second, func(m *sip.Message) bool {
			return m.IsResponse() && m.StatusCode >= 200 && m.CallID() == callID
		})
		return m
	}

	// Invalid or refused: the response INDEX.tsv names, and nothing at the
	// callee.
	for _, c := range []struct {
		name, callID string
		code         int
	}{
		{"zeromf", "zeromf.jfasdlfnm2o2l43r5u0asdfas", 483},
		{"unkscm", "unkscm.nasdfasser0q239nwsdfasdkl34", 416},
		{"novelsc", "novelsc.asdfasser0q239nwsdfasdkl34", 416},
		{"bext01", "bext01.0ha0isndaksdj", 420},
		{"mismatch01", "mismatch01.dj0234sxdfl3", 400},
	} {
		send(c.name)
		res := response(c.callID)
		if res == nil {
			t.Errorf("%s: no response", c.name)
			continue
		}
		if res.StatusCode != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, res.StatusCode, res.Reason, c.code)
		}
		if c.name == "bext01" {
			if u := res.Get("Unsupported"); !strings.Contains(u, "noProxiesSupportThis") || !strings.Contains(u, "norDoAnyProxiesSupportThis") || strings.Contains(u, "nothingSupportsThis") {
				t.Errorf("bext01: Unsupported %q, want the Proxy-Require tags only", u)
			}
		}
	}

	// Valid: routed to the callee, which answers; the answer comes back.
	for _, c := range []struct{ name, callID, method string }{
		{"lwsdisp", "lwsdisp.1234abcd@funky.example.com", "OPTIONS"},
		{"inv2543", "inv2543.1717@ift.client.example.com", "INVITE"},
	} {
		send(c.name)
		req, from := readSIP(t, callee, 5*time.Second, func(m *sip.Message) bool { return m.CallID() == c.callID })
		if req == nil {
			t.Errorf("%s: the callee received nothing", c.name)
			continue
		}
		if req.Method != c.method || count(req.Vias()) != 2 {
			t.Errorf("%s: the callee received %s with %d Vias, want %s through the proxy", c.name, req.Method, count(req.Vias()), c.method)
		}
		code := 200
		if c.method == "INVITE" {
			code = 486
		}
		if _, err := callee.WriteToUDP(sip.NewResponse(req, code, "").Bytes(), from); err != nil {
			t.Fatal(err)
		}
		res := response(c.callID)
		if res == nil || res.StatusCode != code {
			t.Errorf("%s: the sender got %v, want the callee's %d", c.name, res, code)
		}
	}

	// dblreq: the REGISTER is handled (a challenge: it has no
	// credentials) and the INVITE after it in the datagram goes nowhere.
	send("dblreq")
	if res := response("dblreq.0ha0isndaksdj99sdfafnl3lk233412"); res == nil || res.StatusCode != 401 {
		t.Errorf("dblreq: %v, want 401", res)
	}
	if m, _ := readSIP(t, callee, time.Second, func(m *sip.Message) bool { return m.Method == "INVITE" }); m != nil {
		t.Errorf("dblreq: the trailing INVITE was forwarded:\n%s", m)
	}
}
