package main

import (
	"bytes"
	"context"
	le "encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test in this file registers a real phone, baresip from Debian's
// packages, with `switchboard serve` over UDP, TCP and TLS, and reads the
// result back with `switchboard location list`, as an operator would.

// baresipBinary finds baresip (Debian package baresip-core).
func baresipBinary(t *testing.T) string {
	t.Helper()
	return peerBinary(t, "baresip", "baresip-core")
}

// baresipModules finds the directory holding baresip's modules: Debian
// puts them in /usr/lib/baresip/modules, a build from source in
// /usr/local/lib/baresip/modules.
func baresipModules(t *testing.T) string {
	t.Helper()
	dirs := []string{"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules"}
	multiarch, _ := filepath.Glob("/usr/lib/*/baresip/modules")
	for _, d := range append(dirs, multiarch...) {
		if _, err := os.Stat(filepath.Join(d, "account.so")); err == nil {
			return d
		}
	}
	t.Fatalf("baresip's account.so is in none of %v; reinstall baresip-core", append(dirs, "/usr/lib/*/baresip/modules"))
	return ""
}

// baresipConfig is a phone with no audio, video or user interface: the
// only module is account, which reads the accounts file and goes away
// once the accounts exist. Port 0 lets the kernel pick a free port for
// each transport (baresip adds 1 to a non-zero port for TLS), so phones
// never clash. net_interface pins baresip to loopback: without it
// baresip 1.0 takes the address of the host's first other interface and
// cannot register at all where loopback is the only one. baresip 1.0
// does not verify the server's certificate; later versions do, and
// sip_cafile makes them trust the server's development certificate.
const baresipConfig = `sip_listen	127.0.0.1:0
net_interface	127.0.0.1
sip_cafile	%s
module_path	%s
module_tmp	account.so
`

// baresipOutput collects a phone's output while the test reads it.
type baresipOutput struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (o *baresipOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// String returns the output so far without its colour codes.
func (o *baresipOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return ansiEscape.ReplaceAllString(o.b.String(), "")
}

// baresipPhone is a running baresip.
type baresipPhone struct {
	cmd  *exec.Cmd
	out  *baresipOutput
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// startBaresip writes a configuration directory with one account line and
// runs baresip on it with a SIP trace (-s), which the test logs when it
// fails. The phone is killed at the end of the test if still running.
func startBaresip(t *testing.T, cafile, account string) *baresipPhone {
	t.Helper()
	return runBaresip(t, func(string) string { return fmt.Sprintf(baresipConfig, cafile, baresipModules(t)) }, account)
}

// runBaresip is startBaresip with the configuration config returns for the
// phone's directory, and further baresip arguments.
func runBaresip(t *testing.T, config func(dir string) string, account string, args ...string) *baresipPhone {
	t.Helper()
	bin := baresipBinary(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The context only bounds a phone the test forgot; the test itself
	// stops it with SIGTERM.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	ph := &baresipPhone{out: &baresipOutput{}, done: make(chan struct{})}
	ph.cmd = exec.CommandContext(ctx, bin, append([]string{"-f", dir, "-s"}, args...)...)
	ph.cmd.Dir = dir
	// stdin stays /dev/null: no UI module reads it.
	ph.cmd.Stdout, ph.cmd.Stderr = ph.out, ph.out
	ph.cmd.WaitDelay = 5 * time.Second
	if err := ph.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		ph.err = ph.cmd.Wait()
		close(ph.done)
	}()
	t.Cleanup(func() {
		ph.cmd.Process.Kill()
		<-ph.done
		cancel()
		if t.Failed() {
			t.Logf("baresip output (%v):\n%s", ph.err, lastLines(ph.out.String(), 200))
		}
	})
	return ph
}

// exited reports whether the phone has ended.
func (ph *baresipPhone) exited() bool {
	select {
	case <-ph.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, on which baresip unregisters and exits, and waits
// for the exit.
func (ph *baresipPhone) stop(t *testing.T) {
	t.Helper()
	if err := ph.cmd.Process.Signal(syscall.SIGTERM); err != nil && !ph.exited() {
		t.Fatal(err)
	}
	select {
	case <-ph.done:
	case <-time.After(15 * time.Second):
		t.Fatal("baresip did not exit within 15 s of SIGTERM")
	}
	if ph.err != nil {
		t.Errorf("baresip exited with %v after SIGTERM", ph.err)
	}
}

// baresipServer writes the configuration of a server for baresip: UDP, TCP
// and TLS on loopback, the domain example.com, MD5 digests alone, and
// returns its data directory and configuration file. Debian 12's baresip
// 1.0.0 on libre 1.1.0 knows only MD5 digests, and it stops at the first
// WWW-Authenticate whose algorithm is not MD5 ("Register: Function not
// implemented", ENOSYS) instead of trying the next one, so the default
// [SHA-256, MD5] locks it out. The TLS listener uses the development
// certificate made in the data directory.
func baresipServer(t *testing.T) (data, cfgPath string) {
	t.Helper()
	baresipBinary(t)
	dir := t.TempDir()
	data = filepath.Join(dir, "data")
	cfg := "listen:\n" +
		"  udp: [\"127.0.0.1:0\"]\n  tcp: [\"127.0.0.1:0\"]\n  tls: [\"127.0.0.1:0\"]\n" +
		"data_dir: " + data + "\n" +
		"domains: [example.com]\n" +
		"auth:\n  algorithms: [MD5]\n" +
		"log:\n  level: debug\n"
	cfgPath = filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return data, cfgPath
}

// TestBaresipRegisters is issue 4's second check: a real client, baresip
// from Debian's packages with a generated configuration, registers over
// UDP, TCP and TLS, answering the digest challenge, and appears in
// `switchboard location list`; on exit it unregisters and the binding
// goes.
func TestBaresipRegisters(t *testing.T) {
	data, cfgPath := baresipServer(t)
	transports := []string{"udp", "tcp", "tls"}
	// One account per transport, so each binding is told apart by its AOR.
	for _, tr := range transports {
		user := "alice-" + tr + "@example.com"
		if code, _, errs := runCmd(t, "pw-"+tr+"\n", "user", "add", user, "-data", data); code != 0 {
			t.Fatalf("user add %s exited %d: %s", user, code, errs)
		}
	}
	p := startServe(t, cfgPath)
	addrs := map[string]string{}
	for _, tr := range transports {
		addrs[tr] = p.addr(tr)
	}
	cafile := filepath.Join(data, "tls", "dev-cert.pem")

	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			user := "alice-" + tr
			aor := "sip:" + user + "@example.com"
			const regint = 300
			account := fmt.Sprintf(`<sip:%s@example.com;transport=%s>;auth_pass=pw-%s;outbound="sip:%s;transport=%s";regint=%d`,
				user, tr, tr, addrs[tr], tr, regint)
			ph := startBaresip(t, cafile, account)

			// AOR CONTACT EXPIRES Q VIA(transport source) INSTANCE USER-AGENT…
			var row []string
			deadline := time.Now().Add(15 * time.Second)
			for {
				row = bindings(t, data)[aor]
				if row != nil {
					break
				}
				if ph.exited() {
					t.Fatalf("baresip exited (%v) before %s appeared in location list", ph.err, aor)
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s did not appear in location list within 15 s", aor)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if len(row) < 8 {
				t.Fatalf("location list row %q: want AOR CONTACT EXPIRES Q VIA INSTANCE USER-AGENT", row)
			}
			contact, expires, via, source, agent := row[1], row[2], row[4], row[5], strings.Join(row[7:], " ")
			if want := strings.ToUpper(tr); via != want {
				t.Errorf("VIA transport %q, want %q", via, want)
			}
			if !strings.HasPrefix(source, "127.0.0.1:") {
				t.Errorf("VIA source %q, want 127.0.0.1:port", source)
			}
			if left, err := time.ParseDuration(expires); err != nil || left <= 0 || left > regint*time.Second {
				t.Errorf("EXPIRES %q, want (0s, %ds]", expires, regint)
			}
			if !strings.HasPrefix(contact, "sip:"+user) || !strings.Contains(contact, "@127.0.0.1:") {
				t.Errorf("CONTACT %q, want baresip's sip:%s…@127.0.0.1:port", contact, user)
			}
			if tr != "udp" && !strings.Contains(contact, ";transport="+tr) {
				t.Errorf("CONTACT %q lacks ;transport=%s", contact, tr)
			}
			if !strings.HasPrefix(agent, "baresip") {
				t.Errorf("USER-AGENT %q, want baresip's", agent)
			}

			// baresip reports the registration it got, e.g.
			// "alice-udp@example.com: {0/UDP/v4} 200 OK () [1 binding]".
			registered := regexp.MustCompile(regexp.QuoteMeta(user) + `@example\.com: \{\d+/` + strings.ToUpper(tr) + `/v4\} 200 OK`)
			for !registered.MatchString(ph.out.String()) {
				if ph.exited() || time.Now().After(deadline) {
					t.Fatalf("baresip did not report a 200 OK registration over %s", strings.ToUpper(tr))
				}
				time.Sleep(200 * time.Millisecond)
			}

			// On SIGTERM baresip sends REGISTER with expires=0, authenticates
			// again, and exits once answered: the binding is gone by then.
			ph.stop(t)
			if row := bindings(t, data)[aor]; row != nil {
				t.Fatalf("after baresip exited, location list still shows %q", row)
			}
		})
	}
}

// baresipCallConfig is a phone that can call and be called: G.711, the
// aufile source playing a WAV file, sndfile recording every call's audio
// to WAV files in a directory, and menu for the /dial command. No sound
// card is needed: the player is aufile too, which baresip 1.0 cannot open
// as a player, so received audio goes only to sndfile's recording.
const baresipCallConfig = `sip_listen	127.0.0.1:0
net_interface	127.0.0.1
sip_cafile	%s
module_path	%s
module	g711.so
module	aufile.so
module	sndfile.so
module	menu.so
module_tmp	account.so
audio_source	aufile,%s
audio_player	aufile,%s
snd_path	%s
`

// startBaresipCall is startBaresip for a call: the configuration plays
// tone and records into rec; extra are baresip arguments (-e "/dial …").
func startBaresipCall(t *testing.T, cafile, account, tone, rec string, extra ...string) *baresipPhone {
	t.Helper()
	modules := baresipModules(t)
	return runBaresip(t, func(dir string) string {
		return fmt.Sprintf(baresipCallConfig, cafile, modules, tone, filepath.Join(dir, "play.wav"), rec)
	}, account, extra...)
}

// waitOutput waits, 20 s at most, until the phone's output matches re.
func (ph *baresipPhone) waitOutput(t *testing.T, what string, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !re.MatchString(ph.out.String()) {
		if ph.exited() {
			t.Fatalf("baresip exited (%v) before %s", ph.err, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip did not report %s within 20 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeTone writes seconds of a sine tone at freq Hz as a WAV file: 8 kHz,
// 16-bit mono PCM, what baresip's aufile plays without resampling.
func writeTone(t *testing.T, path string, freq float64, seconds int) {
	t.Helper()
	writeToneAt(t, path, freq, seconds, 8000)
}

// writeToneAt writes seconds of a sine tone at freq Hz as a 16-bit mono
// PCM WAV file sampled at rate Hz.
func writeToneAt(t *testing.T, path string, freq float64, seconds, rate int) {
	t.Helper()
	n := rate * seconds
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	le.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	le.LittleEndian.PutUint32(b[16:], 16)
	le.LittleEndian.PutUint16(b[20:], 1) // PCM
	le.LittleEndian.PutUint16(b[22:], 1) // mono
	le.LittleEndian.PutUint32(b[24:], uint32(rate))
	le.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	le.LittleEndian.PutUint16(b[32:], 2)
	le.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		le.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readWAV returns the samples and rate of a 16-bit mono PCM WAV file.
func readWAV(t *testing.T, path string) ([]int16, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s is not a WAV file", path)
	}
	rate, bits, channels := 0, 0, 0
	for i := 12; i+8 <= len(b); {
		id, size := string(b[i:i+4]), int(le.LittleEndian.Uint32(b[i+4:]))
		body := b[i+8:]
		switch id {
		case "fmt ":
			channels = int(le.LittleEndian.Uint16(body[2:]))
			rate = int(le.LittleEndian.Uint32(body[4:]))
			bits = int(le.LittleEndian.Uint16(body[14:]))
		case "data":
			if bits != 16 || channels != 1 {
				t.Fatalf("%s: %d-bit, %d channels; want 16-bit mono", path, bits, channels)
			}
			// A file closed early may say 0 or too much: take what is there.
			if size == 0 || size > len(body) {
				size = len(body)
			}
			s := make([]int16, size/2)
			for j := range s {
				s[j] = int16(le.LittleEndian.Uint16(body[2*j:]))
			}
			return s, rate
		}
		i += 8 + size + size%2
	}
	t.Fatalf("%s has no data chunk", path)
	return nil, 0
}

// toneShare returns the RMS of s and the share of its energy at freq Hz
// (Goertzel over 20 ms blocks, summed).
func toneShare(s []int16, rate int, freq float64) (rms, share float64) {
	const block = 160
	var total, tone float64
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	for start := 0; start+block <= len(s); start += block {
		var s1, s2, e float64
		for _, v := range s[start : start+block] {
			x := float64(v)
			e += x * x
			s0 := x + coeff*s1 - s2
			s2, s1 = s1, s0
		}
		power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(f)|²
		total += e
		tone += 2 * power / block // Parseval: a pure tone gives tone ≈ e
	}
	if total == 0 || len(s) == 0 {
		return 0, 0
	}
	return math.Sqrt(total / float64(len(s))), tone / total
}

// TestBaresipCall is issue 5's fourth check: two baresip phones registered
// to Switchboard call each other through the proxy and the callee records
// the caller's tone: the recording must be that tone, not silence. One run
// has both phones on UDP, the other the callee on TLS, which the proxy
// reaches over the connection it registered on.
func TestBaresipCall(t *testing.T) {
	data, cfgPath := baresipServer(t)
	dir := filepath.Dir(cfgPath)
	for _, u := range []string{"alice", "bob-udp", "bob-tls"} {
		if code, _, errs := runCmd(t, "pw-"+u+"\n", "user", "add", u+"@example.com", "-data", data); code != 0 {
			t.Fatalf("user add %s exited %d: %s", u, code, errs)
		}
	}
	p := startServe(t, cfgPath)
	cafile := filepath.Join(data, "tls", "dev-cert.pem")
	tone := filepath.Join(dir, "tone.wav")
	writeTone(t, tone, 440, 30)

	for _, tr := range []string{"udp", "tls"} {
		t.Run("udp to "+tr, func(t *testing.T) {
			callee := "bob-" + tr
			rec := t.TempDir()
			bob := startBaresipCall(t, cafile, fmt.Sprintf(
				`<sip:%s@example.com;transport=%s>;auth_pass=pw-%s;outbound="sip:%s;transport=%s";regint=300;answermode=auto`,
				callee, tr, callee, p.addr(tr), tr), tone, rec)
			bob.waitOutput(t, "bob's registration", regexp.MustCompile(regexp.QuoteMeta(callee)+`@example\.com: \{\d+/`+strings.ToUpper(tr)+`/v4\} 200 OK`))
			alice := startBaresipCall(t, cafile, fmt.Sprintf(
				`<sip:alice@example.com;transport=udp>;auth_pass=pw-alice;outbound="sip:%s;transport=udp";regint=300`,
				p.addr("udp")), tone, t.TempDir(), "-e", "/dial sip:"+callee+"@example.com")
			alice.waitOutput(t, "alice's registration", regexp.MustCompile(`alice@example\.com: \{\d+/UDP/v4\} 200 OK`))
			alice.waitOutput(t, "the call", regexp.MustCompile(`alice@example\.com: Call established`))
			if rows := bindings(t, data); rows["sip:alice@example.com"] == nil || rows["sip:"+callee+"@example.com"] == nil {
				t.Errorf("location list does not show both phones: %v", rows)
			}
			// Let the tone play, then hang up: alice's SIGTERM sends BYE
			// through the proxy, and bob closes the recording.
			time.Sleep(6 * time.Second)
			alice.stop(t)
			bob.waitOutput(t, "the hang-up", regexp.MustCompile(`(?i)call closed|terminated|Connection reset`))
			bob.stop(t)

			// The INVITE bob got came through the proxy: its Record-Route,
			// twice when the call changes transport.
			rr := regexp.MustCompile(`Record-Route: <sip:127\.0\.0\.1:\d+(;transport=(tls|tcp))?;lr;sb=[0-9a-f]+>`).FindAllStringSubmatch(bob.out.String(), -1)
			if len(rr) == 0 {
				t.Fatal("bob's trace shows no Record-Route of the proxy")
			}
			if tr == "tls" && !strings.Contains(bob.out.String(), ";transport=tls;lr;sb=") {
				t.Error("the call to the TLS phone has no Record-Route with transport=tls")
			}

			files, _ := filepath.Glob(filepath.Join(rec, "*-dec.wav"))
			if len(files) != 1 {
				t.Fatalf("bob recorded %d received-audio files, want 1: %v", len(files), files)
			}
			s, rate := readWAV(t, files[0])
			rms, share := toneShare(s, rate, 440)
			secs := float64(len(s)) / float64(rate)
			t.Logf("bob recorded %.1f s of received audio: RMS %.0f, %.0f%% of it at 440 Hz", secs, rms, 100*share)
			if secs < 2 {
				t.Errorf("only %.1f s of audio recorded", secs)
			}
			if rms < 1000 || share < 0.5 {
				t.Errorf("the recording is not the caller's tone: RMS %.0f (tone 5657), %.0f%% at 440 Hz", rms, 100*share)
			}
		})
	}
}
