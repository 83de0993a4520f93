package main

import (
	"context"
	"crypto/rand"
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

// options answers OPTIONS with what this server does (§11.2).
func options(_ context.Context, tx *stack.Tx, _ *sip.Message) {
	tx.Reply(200, "", sip.NewHeader("Allow", "REGISTER, OPTIONS"),
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
	s.reg.Configure(s.settings(cfg))
	mux := &stack.Mux{}
	mux.Handle("REGISTER", s.reg)
	mux.HandleFunc("OPTIONS", options)
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
	s.sip = &stack.Server{Handler: stack.Chain(mux, stack.LogRequests(s.log)), Transport: tl, Logger: s.log,
		Stateless: s.reg.Challenge, Inline: s.reg.ServeInline,
		Policy: sip.Policy{Role: sip.RoleRegistrar, Extensions: registrar.Extensions()}}
	for _, l := range []struct {
		proto string
		addrs []string
	}{{"udp", cfg.Listen.UDP}, {"tcp", cfg.Listen.TCP}, {"tls", cfg.Listen.TLS}, {"ws", cfg.Listen.WS}, {"wss", cfg.Listen.WSS}} {
		for _, a := range l.addrs {
			got, err := s.sip.Listen(l.proto, a)
			if err != nil {
				return fmt.Errorf("%w (listen.%s)", err, l.proto)
			}
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
	s.reg.Configure(s.settings(cfg))
	s.cfg.Domains, s.cfg.Registrar, s.cfg.Auth, s.cfg.Log = cfg.Domains, cfg.Registrar, cfg.Auth, cfg.Log
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
