package stack

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transaction"
)

// sippBinary finds SIPp (Debian package sip-tester). CI installs it and
// fails without it; elsewhere the test skips and says how to install it.
func sippBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sipp not found; .ci/run must install it (apt-get install -y sip-tester)")
		}
		t.Skip("sipp not found; install it with: apt-get install -y sip-tester")
	}
	return p
}

// sippResult is what a SIPp run reports.
type sippResult struct {
	exit   int
	stats  map[string]string // last row of the -trace_stat CSV
	counts map[string]string // last row of the -trace_counts CSV
	out    string
}

func (r sippResult) count(name string) int {
	n, _ := strconv.Atoi(r.stats[name])
	return n
}

// runSIPp runs a scenario (a file under testdata/sipp) against target with
// the given transport ("u1" or "t1") for calls calls, bounded in time.
func runSIPp(t *testing.T, scenario, target, transport string, calls int, extra ...string) sippResult {
	t.Helper()
	bin := sippBinary(t)
	dir := t.TempDir()
	stf := filepath.Join(dir, "stats.csv")
	wd, _ := os.Getwd()
	args := append([]string{"-sf", filepath.Join(wd, "testdata", "sipp", scenario), "-t", transport,
		"-i", "127.0.0.1", "-m", strconv.Itoa(calls), "-l", "20", "-r", "50", "-nostdin",
		"-trace_stat", "-stf", stf, "-fd", "1", "-trace_counts", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-timeout", "60s", "-timeout_error"}, extra...)
	args = append(args, target)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir // -trace_counts writes its file into the working directory
	out, err := cmd.CombinedOutput()
	res := sippResult{out: string(out)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("running sipp: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "errors.log")); len(b) > 0 {
		res.out += "\n--- sipp error log ---\n" + string(b)
	}
	f, err := os.Open(stf)
	if err != nil {
		t.Fatalf("sipp wrote no statistics (exit %d):\n%s", res.exit, res.out)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("sipp statistics unreadable: %v", err)
	}
	res.stats = map[string]string{}
	for i, name := range rows[0] {
		if i < len(rows[len(rows)-1]) {
			res.stats[name] = rows[len(rows)-1][i]
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*_counts.csv")); len(files) == 1 {
		res.counts = readCounts(t, files[0])
	}
	return res
}

// readCounts reads the last row of SIPp's -trace_counts file: per scenario
// message, how many were sent or received and how many retransmissions.
func readCounts(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("sipp counts unreadable: %v", err)
	}
	m := map[string]string{}
	for i, name := range rows[0] {
		if i < len(rows[len(rows)-1]) {
			m[name] = rows[len(rows)-1][i]
		}
	}
	return m
}

// echoServer answers by Request-URI user: "busy" 486, "slow" 200 after
// 1.2 s, anything else 200. It records each transaction's outcome.
type echoServer struct {
	*Server
	mu       sync.Mutex
	handled  map[string]int   // handler calls per Call-ID
	outcomes map[string]error // how each INVITE transaction ended
	acks     int
}

func newEchoServer(t *testing.T, timers transaction.Timers) (*echoServer, string, string) {
	t.Helper()
	e := &echoServer{handled: map[string]int{}, outcomes: map[string]error{}}
	e.Server = &Server{Timers: timers, Handler: HandlerFunc(e.serve)}
	udp, err := e.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e, udp.String(), tcp.String()
}

func (e *echoServer) serve(ctx context.Context, tx *Tx, req *sip.Message) {
	if tx == nil { // ACK for a 2xx
		e.mu.Lock()
		e.acks++
		e.mu.Unlock()
		return
	}
	e.mu.Lock()
	e.handled[req.CallID()]++
	e.mu.Unlock()
	code := 200
	switch req.RequestURI.User {
	case "busy":
		code = 486
	case "slow":
		select {
		case <-time.After(1200 * time.Millisecond):
		case <-ctx.Done():
			// Cancelled: returning lets the Server answer 487.
			e.watch(tx, req)
			return
		}
	}
	tx.Reply(code, "", sip.NewHeader("Contact", "<sip:echo@127.0.0.1>"))
	e.watch(tx, req)
}

// watch records how an INVITE transaction ends.
func (e *echoServer) watch(tx *Tx, req *sip.Message) {
	if req.Method == "INVITE" {
		go func() {
			<-tx.Done()
			e.mu.Lock()
			e.outcomes[req.CallID()] = tx.Err()
			e.mu.Unlock()
		}()
	}
}

// snapshot returns handler calls per Call-ID and INVITE outcomes.
func (e *echoServer) snapshot() (handled map[string]int, outcomes map[string]error, acks int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := map[string]int{}
	for k, v := range e.handled {
		h[k] = v
	}
	o := map[string]error{}
	for k, v := range e.outcomes {
		o[k] = v
	}
	return h, o, e.acks
}

// waitOutcomes waits until n INVITE transactions have ended.
func (e *echoServer) waitOutcomes(t *testing.T, n int, limit time.Duration) map[string]error {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		_, o, _ := e.snapshot()
		if len(o) >= n || time.Now().After(deadline) {
			return o
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkSIPp(t *testing.T, r sippResult, calls int) {
	t.Helper()
	if r.exit != 0 || r.count("SuccessfulCall(C)") != calls || r.count("FailedCall(C)") != 0 {
		t.Fatalf("sipp exit %d, %s successful, %s failed calls; want %d successful\n%s",
			r.exit, r.stats["SuccessfulCall(C)"], r.stats["FailedCall(C)"], calls, r.out)
	}
}

func checkHandledOnce(t *testing.T, e *echoServer, calls int) {
	t.Helper()
	h, _, _ := e.snapshot()
	if len(h) != calls {
		t.Errorf("handler saw %d calls, want %d", len(h), calls)
	}
	for id, n := range h {
		if n != 1 {
			t.Errorf("Call-ID %s handled %d times: a retransmission reached the handler", id, n)
		}
	}
}

// TestSIPpRetransmissions is issue scenario (a): a UAC that acts as if our
// response were lost and retransmits, over UDP; the server absorbs the
// retransmissions and answers them from the transaction.
func TestSIPpRetransmissions(t *testing.T) {
	e, udp, _ := newEchoServer(t, transaction.Timers{})
	const calls = 20
	// Half the responses lost: SIPp needs more than its default 5
	// retransmissions now and then.
	r := runSIPp(t, "message_retrans.xml", udp, "u1", calls, "-s", "echo", "-max_non_invite_retrans", "30")
	checkSIPp(t, r, calls)
	checkHandledOnce(t, e, calls)
	if n, _ := strconv.Atoi(r.counts["0_MESSAGE_Retrans"]); n == 0 {
		t.Errorf("SIPp never retransmitted (counts %v); with half the responses lost it should have", r.counts)
	}

	e2, udp2, _ := newEchoServer(t, transaction.Timers{})
	r = runSIPp(t, "message_slow.xml", udp2, "u1", 5, "-s", "slow")
	checkSIPp(t, r, 5)
	checkHandledOnce(t, e2, 5)
	if r.count("Retransmissions(C)") < 5 {
		t.Errorf("SIPp retransmitted %d times; the slow handler should have drawn at least one retransmission per call", r.count("Retransmissions(C)"))
	}
}

// TestSIPpAckLate is scenario (b): INVITEs whose ACK comes late. The server
// retransmits 486 (Timer G, UDP only) and 200 (UDP and TCP) until the ACK,
// and each transaction ends without error. Over TCP (c) the 486 is sent once.
func TestSIPpAckLate(t *testing.T) {
	for _, c := range []struct {
		name, scenario, service, transport string
	}{
		{"486 over UDP", "invite_reject_udp.xml", "busy", "u1"},
		{"486 over TCP", "invite_reject_tcp.xml", "busy", "t1"},
		{"200 over UDP", "invite_accept.xml", "echo", "u1"},
		{"200 over TCP", "invite_accept.xml", "echo", "t1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A short T1 keeps the retransmission schedule quick.
			e, udp, tcp := newEchoServer(t, transaction.Timers{T1: 100 * time.Millisecond, T4: 500 * time.Millisecond})
			target := udp
			if c.transport == "t1" {
				target = tcp
			}
			const calls = 10
			r := runSIPp(t, c.scenario, target, c.transport, calls, sippArgs(c.service, c.transport)...)
			checkSIPp(t, r, calls)
			checkHandledOnce(t, e, calls)
			checkRetransmitted(t, r, c.service, c.transport, calls)
			outcomes := e.waitOutcomes(t, calls, 20*time.Second)
			if len(outcomes) != calls {
				t.Fatalf("%d of %d INVITE transactions ended", len(outcomes), calls)
			}
			for id, err := range outcomes {
				if err != nil {
					t.Errorf("%s ended with %v; the ACK should have ended it", id, err)
				}
			}
			if _, _, acks := e.snapshot(); c.service == "echo" && acks != calls {
				t.Errorf("handler saw %d ACKs for 2xx, want %d", acks, calls)
			}
		})
	}
}

// TestSIPpAckLost is scenario (b) without any ACK: the final response is
// retransmitted until Timer H (3xx-6xx) or Timer L (2xx) ends the
// transaction, which reports transaction.ErrTimeout.
func TestSIPpAckLost(t *testing.T) {
	for _, c := range []struct {
		name, scenario, service, transport string
	}{
		{"486 over UDP, Timer H", "invite_reject_noack.xml", "busy", "u1"},
		{"200 over UDP, Timer L", "invite_accept_noack.xml", "echo", "u1"},
		{"200 over TCP, Timer L", "invite_accept_noack.xml", "echo", "t1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, udp, tcp := newEchoServer(t, transaction.Timers{T1: 25 * time.Millisecond, T2: 100 * time.Millisecond})
			target := udp
			if c.transport == "t1" {
				target = tcp
			}
			const calls = 10
			r := runSIPp(t, c.scenario, target, c.transport, calls, sippArgs(c.service, c.transport)...)
			checkSIPp(t, r, calls)
			checkRetransmitted(t, r, c.service, c.transport, calls)
			outcomes := e.waitOutcomes(t, calls, 20*time.Second)
			if len(outcomes) != calls {
				t.Fatalf("%d of %d INVITE transactions ended", len(outcomes), calls)
			}
			for id, err := range outcomes {
				if !errors.Is(err, transaction.ErrTimeout) {
					t.Errorf("%s ended with %v, want ErrTimeout", id, err)
				}
			}
		})
	}
}

// sippArgs: over TCP SIPp does no retransmission detection, so the 2xx
// retransmissions RFC 3261 §13.3.1.4 asks for on every transport would count
// as unexpected and abort the call; there SIPp is told to count them only.
func sippArgs(service, transport string) []string {
	args := []string{"-s", service}
	if transport == "t1" && service == "echo" {
		args = append(args, "-default_behaviors", "all,-abortunexp")
	}
	return args
}

// checkRetransmitted asserts that SIPp saw the server's retransmissions of
// its final response while the ACK was held back: as retransmissions over
// UDP, as extra (unexpected) 200s over TCP, and none of a 486 over TCP.
func checkRetransmitted(t *testing.T, r sippResult, service, transport string, calls int) {
	t.Helper()
	sum := func(suffix string) int {
		n := 0
		for k, v := range r.counts {
			if strings.HasSuffix(k, suffix) {
				x, _ := strconv.Atoi(v)
				n += x
			}
		}
		return n
	}
	code := "200"
	if service == "busy" {
		code = "486"
	}
	retrans, unexpected := sum("_"+code+"_Retrans"), sum("_Unexp")
	switch {
	case transport == "u1" && retrans < calls:
		t.Errorf("SIPp saw %d retransmitted %s for %d calls; want at least one each (counts %v)", retrans, code, calls, r.counts)
	case transport == "t1" && code == "200" && unexpected < calls:
		t.Errorf("SIPp saw %d extra 200s over TCP for %d calls; the 2xx must be retransmitted on streams too", unexpected, calls)
	case transport == "t1" && code == "486" && retrans+unexpected != 0:
		t.Errorf("a 486 was retransmitted over TCP (%d, %d)", retrans, unexpected)
	}
}

// TestSIPpCancel: INVITEs to a slow handler are cancelled by SIPp; each
// CANCEL gets 200, each INVITE 487 (§9.2), and the handler's context is
// cancelled instead of running to its end.
func TestSIPpCancel(t *testing.T) {
	e, udp, _ := newEchoServer(t, transaction.Timers{})
	const calls = 10
	r := runSIPp(t, "invite_cancel.xml", udp, "u1", calls, "-s", "slow")
	checkSIPp(t, r, calls)
	checkHandledOnce(t, e, calls)
	outcomes := e.waitOutcomes(t, calls, 10*time.Second)
	for id, err := range outcomes {
		if err != nil {
			t.Errorf("%s: INVITE transaction ended with %v; the ACK for the 487 should have ended it", id, err)
		}
	}
}
