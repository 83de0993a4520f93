package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-sip/switchboard/auth"
	"github.com/switchboard-sip/switchboard/config"
	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/proxy"
	"github.com/switchboard-sip/switchboard/redirect"
	"github.com/switchboard-sip/switchboard/registrar"
	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
	"github.com/switchboard-sip/switchboard/subscriber"
	"github.com/switchboard-sip/switchboard/transport"
)

// Files in the data directory.
const (
	nonceKeyFile = "nonce.key"
)

// loadConfig returns the configuration named by -config (config.Load: with
// none, ./switchboard.yaml when present, else the defaults); -data, when
// set, overrides data_dir.
func loadConfig(path, data string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if data != "" {
		abs, err := filepath.Abs(data)
		if err != nil {
			return nil, err
		}
		cfg.DataDir = abs
	}
	return cfg, nil
}

// newLogger returns a logger for cfg whose level follows lvl.
func newLogger(cfg *config.Config, w io.Writer, lvl *slog.LevelVar) *slog.Logger {
	lvl.Set(cfg.Log.SlogLevel())
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// derive returns a key for one use (purpose) of the server's key, so that
// the MACs of different uses never stand for each other.
func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// nonceKey reads the key that signs digest nonces from the data
// directory, writing a random one on first start, so that nonces survive a
// restart.
func nonceKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, nonceKeyFile)
	key, err := os.ReadFile(p)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	key = make([]byte, 32)
	rand.Read(key)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, key, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", p, err)
	}
	return key, nil
}

// server is what serve builds from a configuration.
type server struct {
	log   *slog.Logger
	lvl   *slog.LevelVar
	cfg   *config.Config
	loc   *location.SQLite
	subs  *subscriber.SQLite
	key   []byte
	reg   *registrar.Registrar
	proxy *proxy.Proxy
	self  *selfAddrs
	sip   *stack.Server
	mu    sync.Mutex // guards verifier
	verif *auth.Verifier
}

// settings turns cfg into the registrar's settings, keeping the digest
// verifier (and with it the replay counts) when its settings are the same.
func (s *server) settings(cfg *config.Config) registrar.Settings {
	domains := &registrar.LocalDomains{Fixed: cfg.Domains}
	if len(cfg.Domains) == 0 {
		domains.Dynamic = s.subs.Domains
	}
	set := registrar.Settings{
		IsLocal:        domains.IsLocal,
		MinExpires:     uint32(cfg.Registrar.MinExpires),
		MaxExpires:     uint32(cfg.Registrar.MaxExpires),
		DefaultExpires: uint32(cfg.Registrar.DefaultExpires),
	}
	if cfg.Auth.Enabled {
		s.mu.Lock()
		if s.verif == nil || s.verif.NonceLifetime != time.Duration(cfg.Auth.NonceLifetime) ||
			!slices.Equal(s.verif.Algorithms, cfg.Auth.Algorithms) {
			s.verif = &auth.Verifier{
				Credentials:   subscriber.Credentials{Store: s.subs},
				Key:           s.key,
				NonceLifetime: time.Duration(cfg.Auth.NonceLifetime),
				Algorithms:    cfg.Auth.Algorithms,
			}
		}
		set.Auth = s.verif
		s.mu.Unlock()
	}
	return set
}

// proxySettings turns cfg into the proxy's settings, sharing the local
// domains and the digest verifier with the registrar's settings set.
func (s *server) proxySettings(cfg *config.Config, set registrar.Settings) proxy.Settings {
	ps := proxy.Settings{
		IsLocal:   set.IsLocal,
		Self:      s.self.is,
		Auth:      set.Auth,
		LocalOnly: cfg.Proxy.LocalOnly,
		TimerC:    time.Duration(cfg.Proxy.TimerC),
	}
	for _, t := range cfg.Proxy.Trusted {
		if p, err := config.ParsePrefix(t); err == nil {
			ps.Trusted = append(ps.Trusted, p)
		}
	}
	if redirect := cfg.Proxy.Redirect; len(redirect) > 0 {
		ps.Redirect = func(host string) bool { return slices.Contains(redirect, host) }
	}
	return ps
}

// configure applies cfg's reloadable settings to the registrar and the
// proxy.
func (s *server) configure(cfg *config.Config) {
	set := s.settings(cfg)
	s.reg.Configure(set)
	s.proxy.Configure(s.proxySettings(cfg, set))
}

// selfAddrs knows the addresses and ports this server listens on, to tell a
// Route or Request-URI that names it (RFC 3261 §16.4).
type selfAddrs struct {
	isLocal func(ctx context.Context, host string) bool
	mu      sync.Mutex
	hosts   []string // this host's names and addresses; guarded by mu
	ports   []int    // guarded by mu
}

func (a *selfAddrs) add(port int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.ports, port) {
		a.ports = append(a.ports, port)
	}
}

// is reports whether host:port names this server: a port it listens on,
// and one of its own names or addresses or a local domain.
func (a *selfAddrs) is(host string, port int) bool {
	a.mu.Lock()
	ok := slices.Contains(a.ports, port)
	hostOK := slices.Contains(a.hosts, strings.Trim(host, "[]"))
	isLocal := a.isLocal
	a.mu.Unlock()
	return ok && (hostOK || (isLocal != nil && isLocal(context.Background(), host)))
}

// options answers OPTIONS addressed to the server itself (§11.2).
func options(_ context.Context, tx *stack.Tx, _ *sip.Message) {
	tx.Reply(200, "", sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, REFER, INFO, UPDATE, PRACK"),
		sip.NewHeader("Supported", strings.Join(registrar.Extensions(), ", ")))
}

func serveCmd(args []string, _ io.Writer, stderr io.Writer) int {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	fset.SetOutput(stderr)
	cfgPath := fset.String("config", "", "configuration file (default ./"+config.DefaultFile+" when present, else the built-in defaults)")
	data := fset.String("data", "", "data directory (overrides data_dir)")
	cpuProfile := fset.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file until the server stops")
	memProfile := fset.String("memprofile", "", "write a heap profile (go tool pprof: in use and allocated) to this file when the server stops")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if fset.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: switchboard serve [-config FILE] [-data DIR] [-cpuprofile FILE] [-memprofile FILE]")
		return 2
	}
	cfg, err := loadConfig(*cfgPath, *data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	s := &server{lvl: new(slog.LevelVar), cfg: cfg}
	s.log = newLogger(cfg, stderr, s.lvl)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "switchboard serve: -cpuprofile:", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
			}
			if err != nil {
				fmt.Fprintln(stderr, "switchboard serve: -memprofile:", err)
			}
		}()
	}
	if err := s.start(); err != nil {
		s.log.Error("switchboard: not started", "err", err)
		if s.sip != nil {
			s.sip.Shutdown(context.Background())
		}
		s.close()
		return 1
	}
	s.log.Info("switchboard: serving", "summary", cfg.Summary(), "version", version)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	sweep := time.NewTicker(30 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				s.reload(*cfgPath, *data)
				continue
			}
			s.log.Info("switchboard: shutting down", "signal", sig.String())
			code := 0
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.sip.Shutdown(ctx); err != nil {
				s.log.Warn("switchboard: shutdown cut short", "err", err)
			}
			cancel()
			if err := s.close(); err != nil {
				s.log.Error("switchboard: closing stores", "err", err)
				code = 1
			}
			s.log.Info("switchboard: stopped")
			return code
		case now := <-sweep.C:
			if n, err := s.loc.Expire(context.Background(), now); err != nil {
				s.log.Warn("switchboard: removing expired bindings", "err", err)
			} else if n > 0 {
				s.log.Debug("switchboard: expired bindings removed", "count", n)
			}
		}
	}
}

// start opens the stores and the listeners.
func (s *server) start() error {
	cfg := s.cfg
	var err error
	if s.key, err = nonceKey(cfg.DataDir); err != nil {
		return fmt.Errorf("%w; check that data_dir %s is writable", err, cfg.DataDir)
	}
	if s.subs, err = subscriber.OpenSQLite(filepath.Join(cfg.DataDir, subscriber.FileName)); err != nil {
		return err
	}
	// `switchboard user` changes apply within a second.
	if err := s.subs.CacheReads(time.Second); err != nil {
		return err
	}
	if s.loc, err = location.Open(filepath.Join(cfg.DataDir, location.FileName)); err != nil {
		return err
	}
	s.reg = &registrar.Registrar{Store: s.loc, Logger: s.log}
	exists := func(ctx context.Context, user, domain string) (bool, error) {
		_, ok, err := s.subs.Get(ctx, user, domain)
		return ok, err
	}
	s.proxy = &proxy.Proxy{Locations: s.loc, Exists: exists, Logger: s.log, Key: derive(s.key, "record-route"),
		Redirect: &redirect.Server{Locations: s.loc, Exists: exists, Logger: s.log},
		Local:    stack.HandlerFunc(options)}
	set := s.settings(cfg)
	s.self = &selfAddrs{isLocal: set.IsLocal, hosts: registrar.HostNames()}
	s.configure(cfg)
	// REGISTER goes to the registrar, everything else to the proxy.
	handler := stack.HandlerFunc(func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
		if req.Method == "REGISTER" {
			s.reg.ServeSIP(ctx, tx, req)
			return
		}
		s.proxy.ServeSIP(ctx, tx, req)
	})
	// One reader per UDP socket, not the transport's default two:
	// REGISTER is served on the reading goroutine (ServeInline), and
	// two readers take the socket's read lock in turn, waking each
	// other after every datagram. Measured with SIPp on two cores
	// (docs/PERFORMANCE.md): 10–20% less CPU per authenticated
	// registration at 2 000–4 000/s and a clean 14 000/s where two
	// readers dropped datagrams.
	tl := &transport.Layer{Logger: s.log, UDPReaders: 1}
	if len(cfg.Listen.TLS) > 0 || len(cfg.Listen.WSS) > 0 {
		tc, err := transport.LoadTLS(transport.TLSFiles{CertFile: cfg.TLS.Cert, KeyFile: cfg.TLS.Key,
			DevDir: filepath.Join(cfg.DataDir, "tls")}, s.log)
		if err != nil {
			return err
		}
		tl.TLSConfig = tc
	}
	s.sip = &stack.Server{Handler: stack.Chain(handler, stack.LogRequests(s.log)), Transport: tl, Logger: s.log,
		Stateless: s.reg.Challenge, Inline: s.reg.ServeInline, Strays: s.proxy.Strays,
		Policy: sip.Policy{Role: sip.RoleProxy, Extensions: registrar.Extensions(),
			Endpoint: func(m *sip.Message) bool { return m.Method == "REGISTER" }}}
	s.proxy.Server = s.sip
	for _, l := range []struct {
		proto string
		addrs []string
	}{{"udp", cfg.Listen.UDP}, {"tcp", cfg.Listen.TCP}, {"tls", cfg.Listen.TLS}, {"ws", cfg.Listen.WS}, {"wss", cfg.Listen.WSS}} {
		for _, a := range l.addrs {
			got, err := s.sip.Listen(l.proto, a)
			if err != nil {
				return fmt.Errorf("%w (listen.%s)", err, l.proto)
			}
			s.self.add(int(got.Port()))
			s.log.Info("switchboard: listening", "proto", l.proto, "addr", got.String())
		}
	}
	return nil
}

// reload applies what can change without a restart: domains, registrar
// expiry limits, authentication and the log level. A file that does not
// load leaves everything as it was.
func (s *server) reload(path, data string) {
	cfg, err := loadConfig(path, data)
	if err != nil {
		s.log.Error("switchboard: reload refused; the running configuration is kept", "err", err)
		return
	}
	if fields := s.cfg.RestartNeeded(cfg); len(fields) > 0 {
		s.log.Warn("switchboard: these settings change only on restart", "fields", strings.Join(fields, ", "))
	}
	s.lvl.Set(cfg.Log.SlogLevel())
	s.configure(cfg)
	s.cfg.Domains, s.cfg.Registrar, s.cfg.Auth, s.cfg.Proxy, s.cfg.Log = cfg.Domains, cfg.Registrar, cfg.Auth, cfg.Proxy, cfg.Log
	s.log.Info("switchboard: configuration reloaded", "summary", s.cfg.Summary())
}

// close closes the stores; the location store first commits what is
// pending.
func (s *server) close() error {
	var errs []error
	if s.loc != nil {
		errs = append(errs, s.loc.Close())
	}
	if s.subs != nil {
		errs = append(errs, s.subs.Close())
	}
	return errors.Join(errs...)
}
