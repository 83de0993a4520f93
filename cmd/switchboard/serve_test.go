package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/subscriber"
)

// The tests in this file run the switchboard binary itself, built once
// per test run, as an operator would: `serve` with a configuration file,
// signals, and the `location` and `user` commands on its data directory.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds ./cmd/switchboard into a temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running `switchboard serve`.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	addrs map[string]string // proto → the address it listens on
	mu    sync.Mutex
	log   bytes.Buffer // stderr so far; guarded by mu
	done  chan struct{}
	err   error // Wait's result, set before done closes
}

var listenLine = regexp.MustCompile(`msg="switchboard: listening" proto=(\w+) addr=(\S+)`)

// startServe runs `switchboard serve -config cfg` and waits until it
// serves. The process is killed at the end of the test if still running.
func startServe(t *testing.T, cfg string) *proc {
	t.Helper()
	p := &proc{t: t, addrs: map[string]string{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), "serve", "-config", cfg)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			if m := listenLine.FindStringSubmatch(line); m != nil {
				p.addrs[m[1]] = m[2]
			}
			p.mu.Unlock()
			if !signalled && strings.Contains(line, `msg="switchboard: serving"`) {
				close(ready)
				signalled = true
			}
		}
		io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server log:\n%s", p.logText())
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("serve exited before serving (%v):\n%s", p.err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start within 30 s:\n%s", p.logText())
	}
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *proc) addr(proto string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.addrs[proto]
	if a == "" {
		p.t.Fatalf("serve does not listen on %s:\n%s", proto, p.log.String())
	}
	return a
}

// waitLog waits, 10 s at most, until the server's log matches re.
func (p *proc) waitLog(re *regexp.Regexp) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(p.logText()) {
		if time.Now().After(deadline) {
			p.t.Fatalf("the server log never matched %s:\n%s", re, p.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for the process to end and returns its exit code.
func (p *proc) waitExit(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("serve did not exit within %v:\n%s", d, p.logText())
	}
	if p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// writeConfig writes a configuration listening on loopback ports the
// kernel picks, with data in dir, and returns its path.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := "listen:\n  udp: [\"127.0.0.1:0\"]\n  tcp: [\"127.0.0.1:0\"]\n" +
		"data_dir: " + filepath.Join(dir, "data") + "\n" +
		"domains: [example.com]\n" + extra
	p := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// addUsers stores n accounts user0001… with password pw-user0001… in the
// data directory's subscriber database, as `switchboard user add` does.
func addUsers(t *testing.T, dataDir string, n int) {
	t.Helper()
	st, err := subscriber.OpenSQLite(filepath.Join(dataDir, subscriber.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for i := 1; i <= n; i++ {
		u := fmt.Sprintf("user%04d", i)
		a, err := subscriber.NewAccount(u, "example.com", "pw-"+u, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

// runCmd runs the binary with args and returns its exit code and output.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// bindings runs `switchboard location list` and returns its rows by AOR,
// each the list of fields.
func bindings(t *testing.T, dataDir string) map[string][]string {
	t.Helper()
	code, out, errs := runCmd(t, "", "location", "list", "-data", dataDir)
	if code != 0 {
		t.Fatalf("location list exited %d: %s", code, errs)
	}
	rows := map[string][]string{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 3 || !strings.HasPrefix(f[0], "sip:") {
			continue
		}
		rows[f[0]] = f
	}
	return rows
}

// udpExchange sends one request over UDP and returns the final response.
func udpExchange(t *testing.T, addr, raw string) *sip.Message {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		m, err := sip.Parse(append([]byte(nil), buf[:n]...))
		if err != nil {
			t.Fatal(err)
		}
		if m.StatusCode >= 200 {
			return m
		}
	}
}

func registerRaw(user, callID string, cseq int, contactParams string) string {
	return fmt.Sprintf("REGISTER sip:example.com SIP/2.0\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-%s-%d\n"+
		"Max-Forwards: 70\nTo: <sip:%s@example.com>\nFrom: <sip:%s@example.com>;tag=t\n"+
		"Call-ID: %s\nCSeq: %d REGISTER\nContact: <sip:%s@192.0.2.1>%s\nContent-Length: 0\n\n",
		callID, cseq, user, user, callID, cseq, user, contactParams)
}

// TestServeReloadAndStop: SIGHUP applies a new min_expires without
// dropping the listener; SIGTERM stops the server with exit status 0.
func TestServeReloadAndStop(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "auth:\n  enabled: false\nregistrar:\n  min_expires: 10\nlog:\n  level: debug\n")
	p := startServe(t, cfg)
	udp := p.addr("udp")
	if res := udpExchange(t, udp, registerRaw("alice", "r1", 1, ";expires=30")); res.StatusCode != 200 {
		t.Fatalf("expires=30 with min 10: %d", res.StatusCode)
	}
	// One debug line per request, with its Call-ID and status, written
	// once the handler returned (the 200 may arrive first).
	p.waitLog(regexp.MustCompile(`msg="sip: request" method=REGISTER call-id=r1 from="UDP 127.0.0.1:\d+" status=200`))
	writeConfig(t, dir, "auth:\n  enabled: false\nregistrar:\n  min_expires: 60\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(regexp.MustCompile(`configuration reloaded`))
	res := udpExchange(t, udp, registerRaw("alice", "r1", 2, ";expires=30"))
	if res.StatusCode != 423 || res.Get("Min-Expires") != "60" {
		t.Fatalf("after reload: %d Min-Expires %q, want 423 with 60", res.StatusCode, res.Get("Min-Expires"))
	}
	// A broken file is refused and the running settings stay.
	os.WriteFile(cfg, []byte("registrar:\n  min_expires: lots\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog(regexp.MustCompile(`reload refused`))
	if !strings.Contains(p.logText(), "switchboard.yaml:2") {
		t.Errorf("the refusal does not name the line:\n%s", p.logText())
	}
	if res := udpExchange(t, udp, registerRaw("alice", "r1", 3, ";expires=60")); res.StatusCode != 200 {
		t.Fatalf("after a refused reload: %d, want 200", res.StatusCode)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, p.logText())
	}
	if !strings.Contains(p.logText(), "switchboard: stopped") {
		t.Errorf("no clean stop logged:\n%s", p.logText())
	}
	// What was acknowledged is still there for the next start.
	if rows := bindings(t, filepath.Join(dir, "data")); len(rows) != 1 {
		t.Fatalf("after stop, location list shows %d AORs, want 1", len(rows))
	}
}

// TestServeBadConfig: a bad file stops serve with the line and a non-zero
// exit.
func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("listen:\n  udp: [\"127.0.0.1:0\"]\nregistrar:\n  max_expires: -5\n"), 0o644)
	code, _, errs := runCmd(t, "", "serve", "-config", p)
	if code == 0 || !strings.Contains(errs, "bad.yaml:4") || !strings.Contains(errs, "registrar.max_expires") {
		t.Fatalf("exit %d, stderr:\n%s\nwant a non-zero exit naming bad.yaml:4 and registrar.max_expires", code, errs)
	}
}

// peerBinary finds the program name, a real peer from Debian's package
// pkg. CI installs it and fails without it; elsewhere the test skips and
// says how to install it.
func peerBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found; .ci/run must install it (apt-get install -y %s)", name, pkg)
		}
		t.Skipf("%s not found; install it with: apt-get install -y %s", name, pkg)
	}
	return p
}

// sippBinary finds SIPp (Debian package sip-tester).
func sippBinary(t *testing.T) string { t.Helper(); return peerBinary(t, "sipp", "sip-tester") }

// writeUsers writes a SIPp injection file: user;password;domain per call,
// for users first…last, with the password wrong when bad is set.
func writeUsers(t *testing.T, dir string, first, last int, bad bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for i := first; i <= last; i++ {
		u := fmt.Sprintf("user%04d", i)
		pw := "pw-" + u
		if bad {
			pw = "not-" + pw
		}
		fmt.Fprintf(&b, "%s;%s;example.com\n", u, pw)
	}
	p := filepath.Join(dir, fmt.Sprintf("users-%d-%d-%v.csv", first, last, bad))
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sipp runs a scenario of testdata/sipp once per line of the injection
// file, over UDP, and fails the test unless every call succeeded.
func sipp(t *testing.T, scenario, users, target string, calls int) {
	t.Helper()
	bin := sippBinary(t)
	dir := t.TempDir()
	wd, _ := os.Getwd()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sf", filepath.Join(wd, "testdata", "sipp", scenario),
		"-inf", users, "-m", fmt.Sprint(calls), "-r", "500", "-l", "200", "-i", "127.0.0.1", "-p", "0",
		"-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-timeout", "90s", "-timeout_error", target)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		if len(errs) > 4000 {
			errs = errs[:4000]
		}
		t.Fatalf("sipp %s: %v\n%s\n--- errors ---\n%s", scenario, err, lastLines(string(out), 30), errs)
	}
	if !strings.Contains(string(out), "Successful call") {
		t.Fatalf("sipp %s printed no summary:\n%s", scenario, out)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sippServer prepares a server for SIPp: a configuration offering MD5
// alone (SIPp 3.6 answers only the first challenge, and only MD5) and n
// accounts; it returns the test directory, the data directory and the
// configuration file.
func sippServer(t *testing.T, n int) (dir, data, cfg string) {
	t.Helper()
	sippBinary(t)
	dir = t.TempDir()
	data = filepath.Join(dir, "data")
	cfg = writeConfig(t, dir, "auth:\n  algorithms: [MD5]\n")
	addUsers(t, data, n)
	return dir, data, cfg
}

// TestSIPpRegistrar is issue 4's first check: 1 000 users register with
// MD5 digest authentication and refresh, wrong passwords never get a 200,
// and a wildcard REGISTER removes every binding.
func TestSIPpRegistrar(t *testing.T) {
	const n = 1000
	dir, data, cfg := sippServer(t, n)
	p := startServe(t, cfg)
	target := p.addr("udp")

	sipp(t, "register_auth.xml", writeUsers(t, dir, 1, n, false), target, n)
	rows := bindings(t, data)
	if len(rows) != n {
		t.Fatalf("location list shows %d AORs after %d registrations", len(rows), n)
	}
	for aor, f := range rows {
		left, err := time.ParseDuration(f[2])
		if err != nil || left <= 200*time.Second || left > 300*time.Second {
			t.Fatalf("%s expires in %q, want (200s, 300s]", aor, f[2])
		}
	}

	// Wrong passwords for 50 of them, and for 20 users who do not exist:
	// 401 or 403, never 200, and no binding appears or changes.
	sipp(t, "register_badpass.xml", writeUsers(t, dir, 1, 50, true), target, 50)
	sipp(t, "register_badpass.xml", writeUsers(t, dir, n+1, n+20, false), target, 20)
	if rows := bindings(t, data); len(rows) != n {
		t.Fatalf("after bad passwords, %d AORs, want %d", len(rows), n)
	}

	sipp(t, "unregister_auth.xml", writeUsers(t, dir, 1, n, false), target, n)
	if rows := bindings(t, data); len(rows) != 0 {
		t.Fatalf("after wildcard unregister, %d AORs remain", len(rows))
	}
}

// TestCrashKeepsBindings is issue 4's third check: 500 users register, the
// server is killed with SIGKILL, and after a restart every binding is
// there with its remaining expiry.
func TestCrashKeepsBindings(t *testing.T) {
	const n = 500
	dir, data, cfg := sippServer(t, n)
	p := startServe(t, cfg)
	sipp(t, "register_auth.xml", writeUsers(t, dir, 1, n, false), p.addr("udp"), n)
	registered := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitExit(10 * time.Second)

	p2 := startServe(t, cfg)
	rows := bindings(t, data)
	if len(rows) != n {
		t.Fatalf("after SIGKILL and restart, location list shows %d AORs, want %d", len(rows), n)
	}
	for i := 1; i <= n; i++ {
		aor := fmt.Sprintf("sip:user%04d@example.com", i)
		f, ok := rows[aor]
		if !ok {
			t.Fatalf("%s lost", aor)
		}
		left, err := time.ParseDuration(f[2])
		// Registered with Expires: 300 before `registered`.
		max := 300*time.Second - time.Since(registered) + time.Second
		if err != nil || left <= 0 || left > max {
			t.Fatalf("%s expires in %q, want (0, %v]", aor, f[2], max)
		}
	}
	// The restarted server serves them: a wildcard unregister finds them.
	sipp(t, "unregister_auth.xml", writeUsers(t, dir, 1, 10, false), p2.addr("udp"), 10)
	if rows := bindings(t, data); len(rows) != n-10 {
		t.Fatalf("after unregistering 10 on the restarted server, %d AORs, want %d", len(rows), n-10)
	}
}
