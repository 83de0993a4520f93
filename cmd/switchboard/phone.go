package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-sip/switchboard/media"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
	"github.com/switchboard-sip/switchboard/transport"
	"github.com/switchboard-sip/switchboard/ua"
)

// The softphone commands: register, call, answer and message. Each builds
// a stack.Server with a ua.Agent as its handler from the common flags.

// phoneFlags are the flags every softphone command takes.
type phoneFlags struct {
	user, password, proxy, transport, from, listen, ca, display string
	srtp, verbose                                               bool
}

func (p *phoneFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.user, "user", "", "user name: the AOR's user part and the digest user name")
	fs.StringVar(&p.password, "password", "", "digest password, answered when challenged (401/407)")
	fs.StringVar(&p.proxy, "proxy", "", "outbound proxy URI (sip:host[:port]); default: resolve the target (RFC 3263)")
	fs.StringVar(&p.transport, "transport", "udp", "udp, tcp or tls, for URIs that name none")
	fs.BoolVar(&p.srtp, "srtp", false, "offer and require SRTP (SDES, AES_CM_128_HMAC_SHA1_80); always on for sips: URIs")
	fs.StringVar(&p.from, "from", "", "our address-of-record (sip:alice@example.com); default: USER@ the target's domain")
	fs.StringVar(&p.display, "name", "", "display name in From")
	fs.StringVar(&p.listen, "listen", "", "local address for SIP (host:port); default: an ephemeral port on the address toward the peer")
	fs.StringVar(&p.ca, "ca", "", "PEM file of certificates to trust for TLS (a server's self-signed certificate); default: the system's")
	fs.BoolVar(&p.verbose, "v", false, "log SIP and media events to standard error")
}

// phone is a running softphone: its server and agent.
type phone struct {
	srv   *stack.Server
	agent *ua.Agent
}

// usageError is bad input on the command line: exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseTarget reads a SIP URI argument, or says what is wrong with it.
func parseTarget(s string) (sip.URI, error) {
	u, err := sip.ParseURI(s)
	if err != nil || !u.IsSIP() || u.Host == "" {
		return sip.URI{}, usageError{fmt.Sprintf("%q is not a SIP URI; write it as sip:user@host[:port] or sips:user@host", s)}
	}
	return u, nil
}

// start builds and starts the softphone toward target (the URI it calls
// or registers at): the AOR, listeners and TLS configuration.
func (p *phoneFlags) start(target sip.URI, stderr io.Writer) (*phone, error) {
	tr := strings.ToLower(p.transport)
	switch tr {
	case "udp", "tcp", "tls":
	default:
		return nil, usageError{fmt.Sprintf("unknown transport %q; use udp, tcp or tls", p.transport)}
	}
	if target.IsSecure() {
		tr = "tls"
	}
	var proxy *sip.URI
	hop := target
	if p.proxy != "" {
		u, err := parseTarget(p.proxy)
		if err != nil {
			return nil, usageError{"-proxy: " + err.Error()}
		}
		proxy, hop = &u, u
	}
	aor := sip.URI{Scheme: "sip", User: p.user, Host: target.Host}
	if target.IsSecure() {
		aor.Scheme = "sips"
	}
	if p.from != "" {
		u, err := parseTarget(p.from)
		if err != nil {
			return nil, usageError{"-from: " + err.Error()}
		}
		aor = u
	}
	if aor.User == "" {
		aor.User = "switchboard"
	}
	logger := slog.New(slog.DiscardHandler)
	if p.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	tl := &transport.Layer{Logger: logger, ConnectFromListener: true}
	if tr == "tls" {
		tc, err := phoneTLS(p.ca, logger)
		if err != nil {
			return nil, err
		}
		tl.TLSConfig = tc
	}
	srv := &stack.Server{Transport: tl, Logger: logger, Policy: sip.Policy{Role: sip.RoleUAS, Extensions: ua.Extensions()}}
	a := &ua.Agent{Server: srv, AOR: aor, Display: p.display, Username: p.user, Password: p.password,
		Proxy: proxy, Transport: tr, SRTP: p.srtp, Logger: logger}
	srv.Handler = a
	local := p.listen
	if local == "" {
		local = "0.0.0.0:0"
		if a, ok := sip.HostAddr(hop.Host); ok {
			switch {
			case a.IsLoopback():
				local = netip.AddrPortFrom(a, 0).String()
			case a.Is6() && !a.Is4In6():
				local = "[::]:0"
			}
		}
	}
	protos := []string{"udp"}
	if tr != "udp" {
		protos = append(protos, tr)
	}
	for _, proto := range protos {
		if _, err := srv.Listen(proto, local); err != nil {
			srv.Shutdown(context.Background())
			return nil, fmt.Errorf("listen %s %s: %w; pick another with -listen", proto, local, err)
		}
	}
	return &phone{srv: srv, agent: a}, nil
}

// phoneTLS is the TLS configuration of a softphone: a certificate for
// its own TLS listener (the development certificate, kept in the user's
// cache directory) and the roots it trusts.
func phoneTLS(caFile string, logger *slog.Logger) (*tls.Config, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "switchboard-phone")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc, err := transport.LoadTLS(transport.TLSFiles{DevDir: dir}, logger)
	if err != nil {
		return nil, err
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func (p *phone) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.srv.Shutdown(ctx)
}

// signalContext is cancelled on SIGINT or SIGTERM; the signals then go
// back to their default, so a second Ctrl-C ends the process at once
// while the first one's CANCEL or BYE is under way.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// fail prints err as one line and returns the exit status: 2 for bad
// usage and input, 1 otherwise.
func fail(stderr io.Writer, cmd string, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "switchboard %s: %s\n", cmd, msg)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// registerCmd registers and keeps the registration until interrupted.
// Exit status: 0 when registered (and, without -once, unregistered at
// the end), 1 when refused or unreachable, 2 on bad usage.
func registerCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pf phoneFlags
	pf.register(fs)
	once := fs.Bool("once", false, "register once and exit (the binding stays)")
	expires := fs.Duration("expires", time.Hour, "registration interval asked for")
	timeout := fs.Duration("timeout", 32*time.Second, "give up on a REGISTER after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: switchboard register [-user U -password P] [-proxy URI] [-transport udp|tcp|tls] [-once] sip:registrar")
		return 2
	}
	target, err := parseTarget(fs.Arg(0))
	if err != nil {
		return fail(stderr, "register", err)
	}
	ph, err := pf.start(target, stderr)
	if err != nil {
		return fail(stderr, "register", err)
	}
	defer ph.stop()
	ctx, stop := signalContext()
	defer stop()
	r := ph.agent.Registrar(target)
	report := registrationPrinter(stdout, stderr, nil, ph.agent.AOR)
	if *once {
		rctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		reg, err := r.Register(rctx, *expires)
		report(reg, err)
		if err != nil || reg.Response.StatusCode/100 != 2 {
			return 1
		}
		return 0
	}
	registered := false
	err = r.Keep(ctx, *expires, func(reg ua.Registration, err error) {
		registered = registered || (err == nil && reg.Response.StatusCode/100 == 2)
		report(reg, err)
	})
	if err != nil {
		if registered { // a failure to register was reported already
			fmt.Fprintf(stderr, "switchboard register: unregistering: %v\n", err)
		}
		return 1
	}
	fmt.Fprintln(stdout, "unregistered")
	return 0
}

// registrationPrinter reports each REGISTER: a success on out, a failure
// or refusal as one line on errOut. mu, when set, serialises the output.
func registrationPrinter(out, errOut io.Writer, mu *sync.Mutex, aor sip.URI) func(ua.Registration, error) {
	return func(reg ua.Registration, err error) {
		if mu != nil {
			mu.Lock()
			defer mu.Unlock()
		}
		switch {
		case err != nil:
			fmt.Fprintf(errOut, "switchboard: register failed: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		case reg.Response.StatusCode/100 == 2:
			fmt.Fprintf(out, "registered %s at %s for %ds\n", aor.String(), reg.Contact.String(), int(reg.Expires/time.Second))
		default:
			fmt.Fprintf(errOut, "switchboard: register refused: %d %s\n", reg.Response.StatusCode, reg.Response.Reason)
		}
	}
}

// messageCmd sends one MESSAGE (RFC 3428). Exit status: 0 on 2xx, 1 on
// another answer or no answer, 2 on bad usage.
func messageCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("message", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pf phoneFlags
	pf.register(fs)
	timeout := fs.Duration("timeout", 32*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: switchboard message [-user U -password P] [-proxy URI] sip:user@host TEXT")
		return 2
	}
	target, err := parseTarget(fs.Arg(0))
	if err != nil {
		return fail(stderr, "message", err)
	}
	ph, err := pf.start(target, stderr)
	if err != nil {
		return fail(stderr, "message", err)
	}
	defer ph.stop()
	ctx, stop := signalContext()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := ph.agent.Message(ctx, target, "text/plain;charset=UTF-8", []byte(fs.Arg(1)))
	if err != nil {
		return fail(stderr, "message", err)
	}
	fmt.Fprintf(stdout, "%d %s\n", res.StatusCode, res.Reason)
	if res.StatusCode/100 != 2 {
		return 1
	}
	return 0
}

// wavSink records played-out audio into a WAV file.
type wavSink struct {
	mu  sync.Mutex
	w   *media.WAVWriter
	err error
}

func (s *wavSink) WriteFrame(frame []int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.w.Write(frame)
	}
}

func (s *wavSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.w.Close()
	if s.err != nil {
		return s.err
	}
	return err
}

// dtmfPrinter prints each digit received on its own line.
func dtmfPrinter(out io.Writer, mu *sync.Mutex, prefix string) func(rune) {
	return func(d rune) {
		mu.Lock()
		fmt.Fprintf(out, "%sdtmf received: %c\n", prefix, d)
		mu.Unlock()
	}
}

// summary prints a call's statistics.
func summary(out io.Writer, prefix string, c *ua.Call) {
	st := c.Stats()
	srtp := "no"
	if st.SRTP {
		srtp = "yes"
	}
	fmt.Fprintf(out, "%ssummary: codec %s/8000, srtp %s, sent %d packets, received %d packets, lost %d (%.1f%%), jitter %.1f ms, rtt %.1f ms, MOS %.2f\n",
		prefix, st.Codec, srtp, st.PacketsSent, st.PacketsReceived, st.PacketsLost, st.LossPercent,
		float64(st.Jitter.Microseconds())/1000, float64(st.RTT.Microseconds())/1000, st.MOS)
}

// commands reads operator commands, one per line, from in: hold,
// resume, dtmf DIGITS, bye. It returns at EOF or when ctx ends.
func commands(ctx context.Context, in io.Reader, out io.Writer, mu *sync.Mutex, calls func() []*ua.Call) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if ctx.Err() != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		for _, c := range calls() {
			var err error
			switch strings.ToLower(cmd) {
			case "hold":
				err = c.Hold(ctx)
			case "resume":
				err = c.Resume(ctx)
			case "dtmf":
				err = c.SendDTMF(ctx, strings.TrimSpace(arg))
			case "bye", "hangup":
				err = c.Hangup(ctx)
			case "":
				continue
			default:
				err = fmt.Errorf("unknown command %q; use hold, resume, dtmf DIGITS or bye", cmd)
			}
			mu.Lock()
			if err != nil {
				fmt.Fprintf(out, "%s: %v\n", cmd, err)
			} else {
				fmt.Fprintf(out, "%s: done\n", cmd)
			}
			mu.Unlock()
		}
	}
}

// holdPrinter reports hold changes.
func holdPrinter(out io.Writer, mu *sync.Mutex, prefix string) func(local, remote bool) {
	return func(local, remote bool) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case local && remote:
			fmt.Fprintf(out, "%shold: both sides\n", prefix)
		case local:
			fmt.Fprintf(out, "%shold: held by us\n", prefix)
		case remote:
			fmt.Fprintf(out, "%shold: held by peer\n", prefix)
		default:
			fmt.Fprintf(out, "%shold: off (resumed)\n", prefix)
		}
	}
}

// callCmd places one call. Exit status: 0 when the call was answered and
// ended normally, 1 when it was refused (the SIP status is printed) or
// failed, 2 on bad usage or input.
func callCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pf phoneFlags
	pf.register(fs)
	play := fs.String("play", "", "WAV file to play (mono 16-bit PCM, 8 or 16 kHz)")
	record := fs.String("record", "", "WAV file to record what is received into")
	duration := fs.Duration("duration", 10*time.Second, "hang up after this long once answered (0: until interrupted or the peer hangs up)")
	dtmf := fs.String("dtmf", "", "DTMF digits to send once answered (RFC 4733)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up (CANCEL) when not answered within this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: switchboard call [-user U -password P] [-proxy URI] [-play F] [-record F] [-duration D] [-dtmf DIGITS] sip:user@host")
		return 2
	}
	target, err := parseTarget(fs.Arg(0))
	if err != nil {
		return fail(stderr, "call", err)
	}
	for _, d := range *dtmf {
		if !strings.ContainsRune("0123456789*#ABCDabcd", d) {
			return fail(stderr, "call", usageError{fmt.Sprintf("-dtmf %q: %q is not a DTMF digit (0-9 * # A-D)", *dtmf, d)})
		}
	}
	var opts ua.CallOptions
	if *play != "" {
		samples, err := media.ReadWAV(*play)
		if err != nil {
			return fail(stderr, "call", usageError{err.Error()})
		}
		opts.Source = media.NewFileSource(samples, false)
	}
	var rec *wavSink
	if *record != "" {
		w, err := media.CreateWAV(*record, media.SampleRate)
		if err != nil {
			return fail(stderr, "call", usageError{err.Error()})
		}
		rec = &wavSink{w: w}
		opts.Sink = rec
		defer func() {
			if err := rec.Close(); err != nil {
				fmt.Fprintf(stderr, "switchboard call: recording: %v\n", err)
			}
		}()
	}
	var mu sync.Mutex
	opts.OnDTMF = dtmfPrinter(stdout, &mu, "")
	opts.OnHoldChange = holdPrinter(stdout, &mu, "")
	opts.OnProgress = func(res *sip.Message) {
		early := ""
		if len(res.Body) > 0 && strings.EqualFold(res.ContentType(), "application/sdp") {
			early = " (early media)"
		}
		mu.Lock()
		fmt.Fprintf(stdout, "progress: %d %s%s\n", res.StatusCode, res.Reason, early)
		mu.Unlock()
	}
	ph, err := pf.start(target, stderr)
	if err != nil {
		return fail(stderr, "call", err)
	}
	defer ph.stop()
	ctx, stop := signalContext()
	defer stop()
	fmt.Fprintf(stdout, "calling %s\n", target.String())
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	call, res, err := ph.agent.Call(cctx, target, opts)
	timedOut := errors.Is(err, context.DeadlineExceeded) && cctx.Err() != nil
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		// §9.1: the CANCEL goes once the callee has answered 1xx.
		fmt.Fprintln(stdout, "call cancelled")
		return 1
	case timedOut:
		fmt.Fprintf(stdout, "call failed: no answer within %s (CANCEL sent)\n", *timeout)
		return 1
	case err != nil:
		return fail(stderr, "call", err)
	case call == nil:
		fmt.Fprintf(stdout, "call failed: %d %s\n", res.StatusCode, res.Reason)
		return 1
	}
	neg := call.Negotiated()
	srtp := "off"
	if len(neg.SendKey) > 0 {
		srtp = "on"
	}
	mu.Lock()
	fmt.Fprintf(stdout, "answered: %d %s, codec %s/%d, srtp %s\n", res.StatusCode, res.Reason, neg.Codec.Name, neg.Codec.ClockRate, srtp)
	mu.Unlock()
	go commands(ctx, stdin, stdout, &mu, func() []*ua.Call { return []*ua.Call{call} })
	if *dtmf != "" {
		go func() {
			err := call.SendDTMF(ctx, *dtmf)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(stdout, "dtmf not sent: %v\n", err)
				return
			}
			fmt.Fprintf(stdout, "dtmf sent: %s\n", *dtmf)
		}()
	}
	var limit <-chan time.Time
	if *duration > 0 {
		t := time.NewTimer(*duration)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-call.Done():
	case <-limit:
	case <-ctx.Done():
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	code := 0
	if err := call.Hangup(hctx); err != nil {
		fmt.Fprintf(stderr, "switchboard call: %v\n", err)
		code = 1
	}
	_, reason := call.Ended()
	mu.Lock()
	fmt.Fprintf(stdout, "call ended: %s after %.1f s\n", reason, call.Duration().Seconds())
	summary(stdout, "", call)
	mu.Unlock()
	return code
}

// answerCmd answers calls until interrupted or -calls calls have ended.
// Exit status: 0 after a clean stop, 1 when registration failed, 2 on
// bad usage or input.
func answerCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("answer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pf phoneFlags
	pf.register(fs)
	play := fs.String("play", "", "WAV file to play to each caller (mono 16-bit PCM, 8 or 16 kHz)")
	record := fs.String("record", "", "WAV file to record each call into (the second call into NAME-2.wav, and so on)")
	echo := fs.Bool("echo", false, "send each caller's audio back")
	calls := fs.Int("calls", 0, "exit once this many calls have ended (0: run until interrupted)")
	busy := fs.Bool("busy", false, "refuse every call with 486 Busy Here")
	ring := fs.Duration("ring", 0, "ring this long (180 Ringing) before answering")
	expires := fs.Duration("expires", time.Hour, "registration interval asked for")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || (*play != "" && *echo) {
		fmt.Fprintln(stderr, "usage: switchboard answer [-user U -password P] [-listen ADDR] [-play F | -echo] [-record F] [-calls N] [sip:registrar]")
		return 2
	}
	var registrar sip.URI
	target := sip.URI{Scheme: "sip", Host: "invalid"}
	if fs.NArg() == 1 {
		u, err := parseTarget(fs.Arg(0))
		if err != nil {
			return fail(stderr, "answer", err)
		}
		registrar, target = u, u
	}
	var samples []int16
	if *play != "" {
		s, err := media.ReadWAV(*play)
		if err != nil {
			return fail(stderr, "answer", usageError{err.Error()})
		}
		samples = s
	}
	if *record != "" {
		if _, err := os.Stat(filepath.Dir(*record)); err != nil {
			return fail(stderr, "answer", usageError{fmt.Sprintf("-record %s: %v", *record, err)})
		}
	}
	if pf.listen == "" && registrar.IsZero() {
		pf.listen = "0.0.0.0:5060"
	}
	ph, err := pf.start(target, stderr)
	if err != nil {
		return fail(stderr, "answer", err)
	}
	defer ph.stop()
	ctx, stop := signalContext()
	defer stop()
	var mu sync.Mutex // serialises output and the fields below
	n := 0
	ended := make(chan struct{}, 64)
	a := ph.agent
	a.Ring = *ring
	a.OnInvite = func(req *sip.Message) (int, ua.CallOptions) {
		mu.Lock()
		defer mu.Unlock()
		from, _ := req.From()
		fmt.Fprintf(stdout, "incoming call from %s\n", from.String())
		if *busy {
			fmt.Fprintln(stdout, "refused: 486 Busy Here")
			select { // a refused call counts toward -calls
			case ended <- struct{}{}:
			default:
			}
			return 486, ua.CallOptions{}
		}
		n++
		prefix := fmt.Sprintf("call %d: ", n)
		var opts ua.CallOptions
		switch {
		case *echo:
			e := media.NewEcho()
			opts.Source, opts.Sink = e, e
		case samples != nil:
			opts.Source = media.NewFileSource(samples, false)
		}
		if *record != "" {
			name := *record
			if n > 1 {
				ext := filepath.Ext(name)
				name = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(name, ext), n, ext)
			}
			w, err := media.CreateWAV(name, media.SampleRate)
			if err != nil {
				fmt.Fprintf(stdout, "%snot recorded: %v\n", prefix, err)
			} else {
				rec := &wavSink{w: w}
				fmt.Fprintf(stdout, "%srecording to %s\n", prefix, name)
				if opts.Sink != nil { // echo: record and echo
					opts.Sink = teeSink{opts.Sink, rec}
				} else {
					opts.Sink = rec
				}
				opts.OnEnd = func() { rec.Close() }
			}
		}
		opts.OnDTMF = dtmfPrinter(stdout, &mu, prefix)
		opts.OnHoldChange = holdPrinter(stdout, &mu, prefix)
		opts.Label = prefix
		return 200, opts
	}
	a.OnCall = func(c *ua.Call) {
		prefix := c.Options().Label
		neg := c.Negotiated()
		srtp := "off"
		if len(neg.SendKey) > 0 {
			srtp = "on"
		}
		mu.Lock()
		fmt.Fprintf(stdout, "%sanswered %s, codec %s/%d, srtp %s\n", prefix, c.Remote().URI.String(), neg.Codec.Name, neg.Codec.ClockRate, srtp)
		mu.Unlock()
		<-c.Done()
		_, reason := c.Ended()
		mu.Lock()
		fmt.Fprintf(stdout, "%sended: %s after %.1f s\n", prefix, reason, c.Duration().Seconds())
		summary(stdout, prefix, c)
		mu.Unlock()
		ended <- struct{}{}
	}
	a.OnMessage = func(from sip.Address, ct string, body []byte) {
		mu.Lock()
		fmt.Fprintf(stdout, "message from %s (%s): %s\n", from.URI.String(), ct, body)
		mu.Unlock()
	}
	var regDone chan error
	if !registrar.IsZero() {
		r := a.Registrar(registrar)
		first := make(chan error, 1)
		regDone = make(chan error, 1)
		var once sync.Once
		go func() {
			show := registrationPrinter(stdout, stderr, &mu, a.AOR)
			regDone <- r.Keep(ctx, *expires, func(reg ua.Registration, err error) {
				show(reg, err)
				once.Do(func() {
					if err == nil && reg.Response.StatusCode/100 != 2 {
						err = &ua.StatusError{Code: reg.Response.StatusCode, Reason: reg.Response.Reason}
					}
					first <- err
				})
			})
		}()
		if err := <-first; err != nil {
			return 1
		}
	} else {
		protos := []string{"udp"}
		if t := strings.ToLower(pf.transport); t != "udp" {
			protos = append(protos, t)
		}
		for _, l := range protos {
			if addr, err := ph.srv.LocalAddr(stack.Flow{Proto: strings.ToUpper(l), Remote: netip.MustParseAddrPort("127.0.0.1:5060")}); err == nil {
				fmt.Fprintf(stdout, "listening on %s %s\n", l, addr)
			}
		}
	}
	go commands(ctx, stdin, stdout, &mu, a.Calls)
	done := 0
wait:
	for *calls == 0 || done < *calls {
		select {
		case <-ended:
			done++
		case <-ctx.Done():
			break wait
		}
	}
	stop()
	var hung sync.WaitGroup
	for _, c := range a.Calls() {
		hung.Go(func() {
			hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.Hangup(hctx)
		})
	}
	hung.Wait()
	if regDone != nil {
		if err := <-regDone; err == nil {
			mu.Lock()
			fmt.Fprintln(stdout, "unregistered")
			mu.Unlock()
		}
	}
	return 0
}

// teeSink gives each frame to two sinks.
type teeSink [2]media.Sink

func (t teeSink) WriteFrame(f []int16) {
	t[0].WriteFrame(f)
	t[1].WriteFrame(f)
}
