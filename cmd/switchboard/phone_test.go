package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// phoneProc is a running softphone command (switchboard answer or call).
type phoneProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // stdout and stderr; guarded by mu
	done chan struct{}
	err  error
}

type lockedWriter struct{ p *phoneProc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func (p *phoneProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startPhone runs the binary with args in the background; it is killed at
// the end of the test when still running.
func startPhone(t *testing.T, args ...string) *phoneProc {
	t.Helper()
	p := &phoneProc{done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args...)
	return p.start(t, args)
}

// startPhoneStdin is startPhone with a pipe to the command's standard
// input, for its operator commands (hold, resume, dtmf, bye).
func startPhoneStdin(t *testing.T, args ...string) (*phoneProc, io.WriteCloser) {
	t.Helper()
	p := &phoneProc{done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args...)
	in, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	return p.start(t, args), in
}

func (p *phoneProc) start(t *testing.T, args []string) *phoneProc {
	t.Helper()
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], p.output())
		}
	})
	return p
}

// wait waits for re in the output, 20 s at most.
func (p *phoneProc) wait(t *testing.T, what string, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before %s:\n%s", p.cmd.Args[1], p.err, what, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s:\n%s", what, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exit waits for the process to end and returns its exit code.
func (p *phoneProc) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s:\n%s", p.cmd.Args[1], d, p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// phoneServer starts serve on loopback UDP, TCP and TLS for example.com
// with accounts alice, bob and carol (password pw-USER).
func phoneServer(t *testing.T) (p *proc, data string) {
	t.Helper()
	dir := t.TempDir()
	data = filepath.Join(dir, "data")
	for _, u := range []string{"alice", "bob", "carol"} {
		addAccount(t, data, u, "example.com")
	}
	cfg := "listen:\n  udp: [\"127.0.0.1:0\"]\n  tcp: [\"127.0.0.1:0\"]\n  tls: [\"127.0.0.1:0\"]\n" +
		"data_dir: " + data + "\n" +
		"domains: [example.com]\n" +
		"auth:\n  algorithms: [MD5]\n" +
		"log:\n  level: debug\n"
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startServe(t, path), data
}

var summaryLine = regexp.MustCompile(`summary: codec (\w+)/8000, srtp (\w+), sent (\d+) packets, received (\d+) packets, lost (-?\d+)`)

// sentPackets reads the packet count of a summary line.
func sentPackets(t *testing.T, out string) int {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	n, _ := strconv.Atoi(m[3])
	return n
}

// toneFrames counts the 20 ms frames of a recording mostly at freq Hz.
func toneFrames(t *testing.T, path string, freq float64) (frames, total int) {
	t.Helper()
	s, rate := readWAV(t, path)
	if rate != 8000 {
		t.Fatalf("%s is %d Hz, want 8000", path, rate)
	}
	for i := 0; i+160 <= len(s); i += 160 {
		total++
		if rms, share := toneShare(s[i:i+160], rate, freq); rms > 300 && share > 0.8 {
			frames++
		}
	}
	return frames, total
}

// checkTone asserts that a recording holds freq in at least 95 % of the
// frames the other side sent.
func checkTone(t *testing.T, path string, freq float64, sent int) {
	t.Helper()
	got, total := toneFrames(t, path, freq)
	t.Logf("%s: %d frames of %.0f Hz of %d recorded; %d sent", filepath.Base(path), got, freq, total, sent)
	if sent < 100 || float64(got) < 0.95*float64(sent) {
		t.Errorf("%s holds %.0f Hz in %d frames; the peer sent %d (want at least 95 %%)", path, freq, got, sent)
	}
}

// TestPhoneCall is issue 6's first and third checks: `switchboard call`
// calls `switchboard answer` through `switchboard serve` (both registered
// users, digest-authenticated), each records the other's tone, and the
// DTMF digits sent both ways are reported by the other side; the caller's
// BYE ends both.
func TestPhoneCall(t *testing.T) {
	for _, tr := range []string{"udp", "tcp", "tls"} {
		t.Run(tr, func(t *testing.T) {
			srv, data := phoneServer(t)
			dir := t.TempDir()
			writeTone(t, filepath.Join(dir, "440.wav"), 440, 10)
			writeTone(t, filepath.Join(dir, "880.wav"), 880, 10)
			proxy := "sip:" + srv.addr(tr)
			target := "sip:bob@example.com"
			common := []string{"-transport", tr, "-proxy", proxy}
			if tr == "tls" {
				proxy = "sips:" + srv.addr(tr)
				target = "sips:bob@example.com"
				common = []string{"-transport", tr, "-proxy", proxy, "-ca", filepath.Join(data, "tls", "dev-cert.pem")}
			}
			bob := startPhone(t, append([]string{"answer", "-user", "bob", "-password", "pw-bob", "-from", "sip:bob@example.com",
				"-play", filepath.Join(dir, "880.wav"), "-record", filepath.Join(dir, "bob.wav"), "-calls", "1"},
				append(common, "sip:example.com")...)...)
			bob.wait(t, "bob's registration", regexp.MustCompile(`registered sip:bob@example.com`))
			alice := startPhone(t, append([]string{"call", "-user", "alice", "-password", "pw-alice", "-from", "sip:alice@example.com",
				"-play", filepath.Join(dir, "440.wav"), "-record", filepath.Join(dir, "alice.wav"),
				"-duration", "4s", "-dtmf", "1234#"}, append(common, target)...)...)
			alice.wait(t, "the answer", regexp.MustCompile(`answered: 200 OK, codec PCMU/8000, srtp (on|off)`))
			bob.wait(t, "bob's answer", regexp.MustCompile(`call 1: answered`))
			// bob sends DTMF back through its command input.
			if code := alice.exit(t, 30*time.Second); code != 0 {
				t.Fatalf("call exited %d", code)
			}
			if code := bob.exit(t, 15*time.Second); code != 0 {
				t.Fatalf("answer exited %d", code)
			}
			aout, bout := alice.output(), bob.output()
			if !strings.Contains(aout, "call ended: BYE sent") || !strings.Contains(bout, "call 1: ended: BYE received") {
				t.Errorf("end states: alice %q, bob %q", lastLine(aout), lastLine(bout))
			}
			for _, d := range "1234#" {
				if !strings.Contains(bout, fmt.Sprintf("call 1: dtmf received: %c\n", d)) {
					t.Errorf("bob did not report DTMF %c", d)
				}
			}
			if !strings.Contains(aout, "dtmf sent: 1234#") {
				t.Error("alice did not report the digits sent")
			}
			wantSRTP := "off"
			if tr == "tls" {
				wantSRTP = "on"
			}
			if m := summaryLine.FindStringSubmatch(aout); m == nil || m[2] != map[string]string{"on": "yes", "off": "no"}[wantSRTP] {
				t.Errorf("alice's summary %v; want srtp %s", m, wantSRTP)
			}
			checkTone(t, filepath.Join(dir, "bob.wav"), 440, sentPackets(t, aout)-5*5) // the five digits' packets carry no tone
			checkTone(t, filepath.Join(dir, "alice.wav"), 880, sentPackets(t, bout))
		})
	}
}

// TestPhoneFailures is issue 6's fourth and fifth checks for the command
// line: a busy callee and an unknown user print the SIP status and exit
// 1; bad input gives one line of error and exit 2, an unreachable host
// one line and exit 1; never a panic.
func TestPhoneFailures(t *testing.T) {
	srv, _ := phoneServer(t)
	proxy := "sip:" + srv.addr("udp")
	carol := startPhone(t, "answer", "-user", "carol", "-password", "pw-carol", "-from", "sip:carol@example.com", "-busy", "-proxy", proxy, "sip:example.com")
	carol.wait(t, "carol's registration", regexp.MustCompile(`registered sip:carol@example.com`))
	dir := t.TempDir()
	stereo := filepath.Join(dir, "stereo.wav")
	writeStereo(t, stereo)
	auth := []string{"-user", "alice", "-password", "pw-alice", "-from", "sip:alice@example.com", "-proxy", proxy}
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  *regexp.Regexp // stdout's last line, or stderr's single line when code is 2
	}{
		{"busy", append(auth, "sip:carol@example.com"), 1, regexp.MustCompile(`^call failed: 486 Busy Here$`)},
		{"unknown user", append(auth, "sip:nobody@example.com"), 1, regexp.MustCompile(`^call failed: 404 Not Found$`)},
		{"wrong password", []string{"-user", "alice", "-password", "nope", "-from", "sip:alice@example.com", "-proxy", proxy, "sip:bob@example.com"}, 1, regexp.MustCompile(`^call failed: 407 `)},
		{"stereo wav", append(auth, "-play", stereo, "sip:bob@example.com"), 2, regexp.MustCompile(`^switchboard call: media: .*stereo\.wav: .*stereo.*; want mono`)},
		{"missing wav", append(auth, "-play", filepath.Join(dir, "none.wav"), "sip:bob@example.com"), 2, regexp.MustCompile(`^switchboard call: .*none\.wav`)},
		{"malformed uri", append(auth, "sip:bob@"), 2, regexp.MustCompile(`^switchboard call: "sip:bob@" is not a SIP URI`)},
		{"not a uri", append(auth, "bob"), 2, regexp.MustCompile(`^switchboard call: "bob" is not a SIP URI`)},
		{"bad dtmf", append(auth, "-dtmf", "12x", "sip:bob@example.com"), 2, regexp.MustCompile(`^switchboard call: -dtmf "12x": 'x' is not a DTMF digit`)},
		{"unreachable", []string{"-transport", "tcp", "sip:bob@127.0.0.1:1"}, 1, regexp.MustCompile(`^switchboard call: .*127\.0\.0\.1:1.*refused`)},
		{"unknown host", []string{"sip:bob@nonexistent.invalid"}, 1, regexp.MustCompile(`^switchboard call: .*nonexistent\.invalid`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "", append([]string{"call"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine ") {
				t.Fatalf("panicked:\n%s", errs)
			}
			line := lastLine(out)
			if strings.HasPrefix(tc.out.String(), "^switchboard") {
				if n := strings.Count(strings.TrimSpace(errs), "\n"); n != 0 {
					t.Errorf("stderr has %d lines, want 1:\n%s", n+1, errs)
				}
				line = strings.TrimSpace(errs)
			}
			if !tc.out.MatchString(line) {
				t.Errorf("got %q, want %s\nstdout:\n%s\nstderr:\n%s", line, tc.out, out, errs)
			}
		})
	}
}

// writeStereo writes a 44.1 kHz stereo WAV file.
func writeStereo(t *testing.T, path string) {
	t.Helper()
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\x00\x00\x00\x00")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPhoneInterrupt: Ctrl-C while ringing sends CANCEL (the callee
// reports no call), and during a call sends BYE; both exit cleanly.
func TestPhoneInterrupt(t *testing.T) {
	srv, _ := phoneServer(t)
	proxy := "sip:" + srv.addr("udp")
	bob := startPhone(t, "answer", "-user", "bob", "-password", "pw-bob", "-from", "sip:bob@example.com", "-ring", "3s", "-proxy", proxy, "sip:example.com")
	bob.wait(t, "bob's registration", regexp.MustCompile(`registered sip:bob@example.com`))
	auth := []string{"call", "-user", "alice", "-password", "pw-alice", "-from", "sip:alice@example.com", "-proxy", proxy, "-duration", "0", "sip:bob@example.com"}

	alice := startPhone(t, auth...)
	alice.wait(t, "ringing", regexp.MustCompile(`progress: 180 Ringing`))
	alice.cmd.Process.Signal(syscall.SIGINT)
	if code := alice.exit(t, 15*time.Second); code != 1 {
		t.Errorf("cancelled call exited %d, want 1", code)
	}
	if !strings.Contains(alice.output(), "call cancelled") {
		t.Errorf("no cancel report:\n%s", alice.output())
	}
	time.Sleep(4 * time.Second) // past bob's ring time: the call must not be answered
	if strings.Contains(bob.output(), "answered") {
		t.Errorf("bob answered a cancelled call:\n%s", bob.output())
	}

	alice = startPhone(t, auth...)
	alice.wait(t, "the answer", regexp.MustCompile(`answered: 200 OK`))
	time.Sleep(time.Second)
	alice.cmd.Process.Signal(syscall.SIGINT)
	if code := alice.exit(t, 15*time.Second); code != 0 {
		t.Errorf("interrupted call exited %d, want 0", code)
	}
	if !strings.Contains(alice.output(), "call ended: BYE sent") {
		t.Errorf("alice did not send BYE:\n%s", alice.output())
	}
	bob.wait(t, "bob's end of the call", regexp.MustCompile(`call 2: ended: BYE received`))
	bob.cmd.Process.Signal(syscall.SIGTERM)
	if code := bob.exit(t, 15*time.Second); code != 0 {
		t.Errorf("answer exited %d after SIGTERM", code)
	}
	if !strings.Contains(bob.output(), "unregistered") {
		t.Errorf("bob did not unregister:\n%s", bob.output())
	}
}

// TestPhoneHold is issue 6's fourth check on the command line: the caller
// holds and resumes with re-INVITEs, the callee hangs up; each side
// prints the state it is in (held by us / held by peer / resumed) and the
// call ends on both with the right reason.
func TestPhoneHold(t *testing.T) {
	srv, _ := phoneServer(t)
	proxy := "sip:" + srv.addr("udp")
	bob, bobIn := startPhoneStdin(t, "answer", "-user", "bob", "-password", "pw-bob", "-from", "sip:bob@example.com", "-calls", "1", "-proxy", proxy, "sip:example.com")
	bob.wait(t, "bob's registration", regexp.MustCompile(`registered sip:bob@example.com`))
	alice, aliceIn := startPhoneStdin(t, "call", "-user", "alice", "-password", "pw-alice", "-from", "sip:alice@example.com", "-proxy", proxy, "-duration", "0", "sip:bob@example.com")
	alice.wait(t, "the answer", regexp.MustCompile(`answered: 200 OK`))
	bob.wait(t, "bob's answer", regexp.MustCompile(`call 1: answered`))

	fmt.Fprintln(aliceIn, "hold")
	alice.wait(t, "alice's hold", regexp.MustCompile(`hold: held by us\n`))
	alice.wait(t, "the hold's completion", regexp.MustCompile(`hold: done\n`))
	bob.wait(t, "bob seeing the hold", regexp.MustCompile(`call 1: hold: held by peer\n`))

	fmt.Fprintln(aliceIn, "resume")
	alice.wait(t, "alice's resume", regexp.MustCompile(`hold: off \(resumed\)\n`))
	bob.wait(t, "bob seeing the resume", regexp.MustCompile(`call 1: hold: off \(resumed\)\n`))

	// bob holds too, then hangs up.
	fmt.Fprintln(bobIn, "hold")
	bob.wait(t, "bob's hold", regexp.MustCompile(`call 1: hold: held by us\n`))
	alice.wait(t, "alice seeing bob's hold", regexp.MustCompile(`hold: held by peer\n`))
	fmt.Fprintln(bobIn, "bye")
	if code := alice.exit(t, 15*time.Second); code != 0 {
		t.Errorf("call exited %d", code)
	}
	if code := bob.exit(t, 15*time.Second); code != 0 {
		t.Errorf("answer exited %d", code)
	}
	if !strings.Contains(alice.output(), "call ended: BYE received") {
		t.Errorf("alice's call did not end on bob's BYE:\n%s", alice.output())
	}
	if !strings.Contains(bob.output(), "call 1: ended: BYE sent") {
		t.Errorf("bob's call did not end with its BYE:\n%s", bob.output())
	}
}

// TestPhoneEcho: `answer -echo` without a registrar, called directly (no
// proxy, the URI's address) twice, the second time with -srtp; each
// caller plays a 16 kHz file and hears its own tone back, and the callee
// keeps one recording per call.
func TestPhoneEcho(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	bob := startPhone(t, "answer", "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-echo", "-record", filepath.Join(dir, "bob.wav"), "-calls", "2")
	bob.wait(t, "the listener", regexp.MustCompile(`listening on udp 127\.0\.0\.1:\d+`))
	for i, freq := range []float64{440, 660} {
		tone := filepath.Join(dir, fmt.Sprintf("%.0f.wav", freq))
		writeToneAt(t, tone, freq, 5, 16000)
		rec := filepath.Join(dir, fmt.Sprintf("alice-%d.wav", i))
		args := []string{"call", "-play", tone, "-record", rec, "-duration", "3s"}
		srtp := "no"
		if i == 1 {
			args, srtp = append(args, "-srtp"), "yes" // RTP/SAVP offered over UDP; answer takes it
		}
		code, out, errs := runCmd(t, "", append(args, fmt.Sprintf("sip:bob@127.0.0.1:%d", port))...)
		if code != 0 {
			t.Fatalf("call %d exited %d:\n%s%s", i+1, code, out, errs)
		}
		if m := summaryLine.FindStringSubmatch(out); m == nil || m[2] != srtp {
			t.Errorf("call %d summary %v; want srtp %s", i+1, m, srtp)
		}
		// What came back is our tone after the callee's jitter buffer
		// and ours: every frame the callee sent back, less the first
		// ones it sent before our audio reached it.
		checkTone(t, rec, freq, receivedPackets(t, out)-10)
	}
	if code := bob.exit(t, 15*time.Second); code != 0 {
		t.Fatalf("answer exited %d after two calls", code)
	}
	checkTone(t, filepath.Join(dir, "bob.wav"), 440, 140)
	checkTone(t, filepath.Join(dir, "bob-2.wav"), 660, 140)
}

// TestPhoneRegisterMessage: `register -once` leaves a binding; `register`
// keeps one until interrupted and then removes it; a wrong password is
// one line and exit 1; `message` reaches a registered `answer` through the
// proxy, which prints it.
func TestPhoneRegisterMessage(t *testing.T) {
	srv, data := phoneServer(t)
	proxy := "sip:" + srv.addr("udp")
	code, out, errs := runCmd(t, "", "register", "-once", "-user", "carol", "-password", "pw-carol", "-proxy", proxy, "sip:example.com")
	if code != 0 || !strings.HasPrefix(out, "registered sip:carol@example.com at sip:carol@127.0.0.1:") {
		t.Fatalf("register -once: exit %d\n%s%s", code, out, errs)
	}
	if bindings(t, data)["sip:carol@example.com"] == nil {
		t.Error("no binding for carol after register -once")
	}
	code, out, errs = runCmd(t, "", "register", "-once", "-user", "carol", "-password", "wrong", "-proxy", proxy, "sip:example.com")
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "register refused: 401") {
		t.Errorf("wrong password: exit %d, stdout %q, stderr %q; want 1 and one line saying 401", code, out, errs)
	}
	code, out, errs = runCmd(t, "", "register", "-user", "carol", "-password", "wrong", "-proxy", proxy, "sip:example.com")
	if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "register refused: 401") {
		t.Errorf("wrong password, kept: exit %d, stdout %q, stderr %q; want 1 and one line saying 401", code, out, errs)
	}

	alice := startPhone(t, "register", "-user", "alice", "-password", "pw-alice", "-proxy", proxy, "sip:example.com")
	alice.wait(t, "alice's registration", regexp.MustCompile(`registered sip:alice@example.com`))
	if bindings(t, data)["sip:alice@example.com"] == nil {
		t.Error("no binding for alice while register runs")
	}
	alice.cmd.Process.Signal(syscall.SIGINT)
	if code := alice.exit(t, 15*time.Second); code != 0 || !strings.Contains(alice.output(), "unregistered") {
		t.Errorf("register after SIGINT: exit %d:\n%s", code, alice.output())
	}
	if bindings(t, data)["sip:alice@example.com"] != nil {
		t.Error("alice's binding is still there after register stopped")
	}

	bob := startPhone(t, "answer", "-user", "bob", "-password", "pw-bob", "-proxy", proxy, "sip:example.com")
	bob.wait(t, "bob's registration", regexp.MustCompile(`registered sip:bob@example.com`))
	code, out, errs = runCmd(t, "", "message", "-user", "alice", "-password", "pw-alice", "-proxy", proxy, "sip:bob@example.com", "hello bob")
	if code != 0 || strings.TrimSpace(out) != "200 OK" {
		t.Fatalf("message: exit %d\n%s%s", code, out, errs)
	}
	bob.wait(t, "the message", regexp.MustCompile(`message from sip:alice@example.com \(text/plain\): hello bob\n`))
	code, out, _ = runCmd(t, "", "message", "-user", "alice", "-password", "pw-alice", "-proxy", proxy, "sip:nobody@example.com", "hi")
	if code != 1 || !strings.HasPrefix(out, "404 ") {
		t.Errorf("message to nobody: exit %d, %q; want 1 and 404", code, out)
	}
}
