// Package config is the configuration of `switchboard serve`: one typed
// struct, its defaults, and validation that reports every problem with the
// file and line it comes from.
//
// A configuration file is YAML with snake_case keys. example.yaml, beside
// this file, lists every key with its default. Load reads a file, takes
// what the file omits from the defaults (see Default) and validates the
// result:
//
//	cfg, err := config.Load("switchboard.yaml")
//	if err != nil {
//		// err is an Errors: every problem found, one per line, as
//		// "FILE:LINE: FIELD.PATH: what is wrong; what to do".
//	}
//
// Paths written in the file (data_dir, tls.cert, tls.key) are relative to
// the directory of the file, not to the working directory, and Load makes
// them absolute; "~" is not expanded.
//
// A running server may reload its configuration on SIGHUP. RestartNeeded
// says which of the changes it cannot apply without a restart: listeners,
// the TLS certificate and the data directory. Domains, the registrar's
// expiry limits, authentication settings and logging are reloadable.
package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/switchboard-sip/switchboard/sip/digest"
)

// DefaultFile is the file Load reads when it is given no path and the file
// exists in the working directory.
const DefaultFile = "switchboard.yaml"

// DefaultDataDir is the data directory when the configuration names none,
// relative to the configuration file's directory (to the working directory
// for Default).
const DefaultDataDir = "switchboard-data"

// Config is the configuration of `switchboard serve`. Default, Load and
// Parse return a complete, valid Config; a Config built by hand should
// start from Default and pass Validate before use.
type Config struct {
	// Listen is where the server accepts SIP traffic (YAML key listen).
	// When the file has no listen key, the server listens on UDP and TCP
	// 0.0.0.0:5060 and on TLS 0.0.0.0:5061. When it has one, only the
	// addresses it lists are opened.
	Listen Listen `yaml:"listen"`

	// TLS is the certificate for the TLS and WSS listeners (YAML key tls).
	TLS TLS `yaml:"tls"`

	// DataDir is the directory for the embedded store, the development
	// certificate and other state (YAML key data_dir; default
	// ./switchboard-data). A relative path in the file is relative to the
	// file's directory; Load and Parse make it absolute.
	DataDir string `yaml:"data_dir"`

	// Domains are the domains this server is responsible for (YAML key
	// domains): requests for them are served here, others are proxied.
	// Each is a host name or an IP address; Load and Parse lower-case
	// them, drop a trailing dot, write IP addresses without brackets in
	// their canonical form and remove duplicates.
	//
	// Empty (the default) means the host's own names and addresses plus
	// every domain that has a subscriber account. The server computes that
	// set; Config only stores the list.
	Domains []string `yaml:"domains"`

	// Registrar bounds the expiry of registrations (YAML key registrar).
	Registrar Registrar `yaml:"registrar"`

	// Auth is digest authentication of requests (YAML key auth).
	Auth Auth `yaml:"auth"`

	// Proxy is how requests between users are routed (YAML key proxy).
	Proxy Proxy `yaml:"proxy"`

	// Log is the server's logging (YAML key log).
	Log Log `yaml:"log"`

	// File is the file the configuration was read from, as given to Load
	// or Parse; "" for Default. It is not a YAML key.
	File string `yaml:"-"`
}

// Listen lists the addresses the server listens on, one list per transport.
// Each address is host:port where host is an IP address, "localhost" or
// empty (every address, IPv4 and IPv6); IPv6 addresses are written in
// brackets, "[::1]:5060". Port 0 lets the system choose a free port, which
// is useful in tests.
//
// The default listens on IPv4 only. To serve IPv6 too, replace
// "0.0.0.0:5060" with "[::]:5060" or ":5060": that socket also accepts IPv4
// on Linux, so listing it beside 0.0.0.0 with the same port and transport
// would fail, and Validate refuses it.
//
// TCP, TLS, WS and WSS listeners are all TCP sockets, so two of them cannot
// share an address and port; UDP and TCP can.
type Listen struct {
	UDP []string `yaml:"udp"` // listen.udp; default ["0.0.0.0:5060"]
	TCP []string `yaml:"tcp"` // listen.tcp; default ["0.0.0.0:5060"]
	TLS []string `yaml:"tls"` // listen.tls; default ["0.0.0.0:5061"]
	WS  []string `yaml:"ws"`  // listen.ws (SIP over WebSocket, RFC 7118); default none
	WSS []string `yaml:"wss"` // listen.wss (SIP over secure WebSocket); default none
}

// TLS names the certificate and private key (PEM files) for the TLS and WSS
// listeners. Set both or neither. With neither, the server uses a
// self-signed development certificate that it keeps in the data directory
// and creates when missing; phones will not trust it, so set both in
// production. Relative paths are relative to the configuration file's
// directory; Load and Parse make them absolute.
type TLS struct {
	Cert string `yaml:"cert"` // tls.cert: certificate chain, PEM
	Key  string `yaml:"key"`  // tls.key: private key, PEM
}

// Registrar bounds the expiry of registrations, in seconds (RFC 3261
// §10.2.1.1 and §10.3 steps 7 and 8). Validate requires
// 1 ≤ MinExpires ≤ DefaultExpires ≤ MaxExpires ≤ 2147483647.
type Registrar struct {
	// MinExpires is the shortest registration accepted; a shorter one is
	// refused with 423 Interval Too Brief. YAML registrar.min_expires;
	// default 60.
	MinExpires int `yaml:"min_expires" unit:"seconds"`
	// MaxExpires is the longest registration granted; a longer request is
	// shortened to it. YAML registrar.max_expires; default 7200.
	MaxExpires int `yaml:"max_expires" unit:"seconds"`
	// DefaultExpires is the expiry of a registration that asks for none.
	// YAML registrar.default_expires; default 3600.
	DefaultExpires int `yaml:"default_expires" unit:"seconds"`
}

// Auth configures digest authentication (RFC 3261 §22, RFC 7616).
type Auth struct {
	// Enabled turns on digest authentication of REGISTER. YAML
	// auth.enabled; default true. Turning it
	// off must be explicit, `enabled: false`, and is meant for tests only:
	// without it anyone can register as anyone. Default, Load and Parse
	// set it; a Config built from scratch has it false.
	Enabled bool `yaml:"enabled"`
	// NonceLifetime is how long a nonce the server hands out stays valid.
	// YAML auth.nonce_lifetime, written like "5m" or "300s"; default 5m;
	// at least 1s.
	NonceLifetime Duration `yaml:"nonce_lifetime"`
	// Algorithms are the digest algorithms offered, one challenge each, in
	// this order: MD5 and SHA-256, written in any case. YAML
	// auth.algorithms. Empty (the default) leaves the choice to the auth
	// package: SHA-256 then MD5, as RFC 8760 §2.3 asks. A client that reads
	// only the first challenge and knows only MD5 (SIPp 3.6, some older
	// phones) needs [MD5]. Load and Parse write the names as the digest
	// package does and remove duplicates.
	Algorithms []digest.Algorithm `yaml:"algorithms"`
}

// Proxy configures the stateful proxy (RFC 3261 §16) and the redirect
// server (§8.3) that route requests other than REGISTER.
type Proxy struct {
	// Trusted lists the sources whose requests are neither challenged nor
	// refused as relaying: IP addresses or CIDR prefixes of trunks,
	// gateways and other servers ("192.0.2.10", "2001:db8::/32"). YAML
	// proxy.trusted; default none. Everyone else must authenticate as a
	// local user to reach another domain.
	Trusted []string `yaml:"trusted"`
	// LocalOnly refuses (403) requests to local users unless they come
	// from a trusted source or an authenticated local user. YAML
	// proxy.local_only; default false: anyone may call a local user, as
	// SIP between domains works.
	LocalOnly bool `yaml:"local_only"`
	// Redirect lists local domains whose requests get 302 Moved
	// Temporarily with the callee's contacts instead of being proxied.
	// YAML proxy.redirect; default none. Load and Parse write them as
	// Domains are written.
	Redirect []string `yaml:"redirect"`
	// TimerC is how long an INVITE may ring on one branch before the
	// proxy cancels it (§16.6 step 11 asks for more than 3 minutes).
	// YAML proxy.timer_c, written like "3m1s"; default 3m1s; at least 1s.
	TimerC Duration `yaml:"timer_c"`
}

// Log configures the server's log.
type Log struct {
	// Level is the least severe level logged: debug, info, warn or error.
	// YAML log.level; default info. Load and Parse lower-case it.
	Level string `yaml:"level"`
	// Format is text (slog.TextHandler) or json (slog.JSONHandler).
	// YAML log.format; default text. Load and Parse lower-case it.
	Format string `yaml:"format"`
}

// SlogLevel returns Level as a slog.Level, in any case; a Level that is not
// one of debug, info, warn or error (which Validate refuses) gives
// slog.LevelInfo.
func (l Log) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Duration is a time.Duration written in YAML (and text) the way
// time.ParseDuration reads it: "5m", "300s", "1h30m". A bare number is
// refused, since it would not say its unit.
type Duration time.Duration

// String returns d as time.Duration does, without zero trailing units:
// "5m", "1h30m", "90ms".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText returns d.String().
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses text with time.ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("config: %q is not a duration; write one such as 5m or 300s", text)
	}
	*d = Duration(v)
	return nil
}

// defaults returns the defaults with DataDir still relative.
func defaults() *Config {
	return &Config{
		Listen: Listen{
			UDP: []string{"0.0.0.0:5060"},
			TCP: []string{"0.0.0.0:5060"},
			TLS: []string{"0.0.0.0:5061"},
		},
		DataDir: DefaultDataDir,
		Registrar: Registrar{
			MinExpires:     60,
			MaxExpires:     7200,
			DefaultExpires: 3600,
		},
		Auth: Auth{
			Enabled:       true,
			NonceLifetime: Duration(5 * time.Minute),
		},
		Proxy: Proxy{TimerC: Duration(3*time.Minute + time.Second)},
		Log:   Log{Level: "info", Format: "text"},
	}
}

// Default returns a new Config holding the defaults, the values a file
// with no keys gives:
//
//	listen:    udp 0.0.0.0:5060, tcp 0.0.0.0:5060, tls 0.0.0.0:5061, no ws or wss
//	tls:       none (a self-signed development certificate in data_dir)
//	data_dir:  switchboard-data in the working directory, made absolute
//	domains:   none (the host's names and addresses plus subscriber domains)
//	registrar: min_expires 60, max_expires 7200, default_expires 3600
//	auth:      enabled, nonce_lifetime 5m, algorithms the auth package's
//	           default (SHA-256, MD5)
//	proxy:     no trusted sources, local users reachable by anyone, no
//	           redirect domains, timer_c 3m1s
//	log:       level info, format text
//
// Where a file omits data_dir, the default directory is instead relative
// to the file's directory, like any path written in the file.
func Default() *Config {
	c := defaults()
	c.DataDir = absPath(c.DataDir)
	return c
}

// Summary describes c in one line for operators: the listeners, the data
// directory and the domains, then any setting that needs attention
// (authentication off, a development certificate).
func (c *Config) Summary() string {
	var ls []string
	for _, l := range c.listeners() {
		for _, a := range l.addrs {
			ls = append(ls, l.name+" "+a)
		}
	}
	domains := "the host's names and addresses plus subscriber domains"
	if len(c.Domains) > 0 {
		domains = strings.Join(c.Domains, ", ")
	}
	s := fmt.Sprintf("listen %s; data_dir %s; domains %s", strings.Join(ls, ", "), c.DataDir, domains)
	if (len(c.Listen.TLS) > 0 || len(c.Listen.WSS) > 0) && c.TLS.Cert == "" {
		s += "; tls: self-signed development certificate"
	}
	if !c.Auth.Enabled {
		s += "; auth DISABLED (tests only)"
	}
	return s
}

// transportList is one of Listen's lists with its YAML name.
type transportList struct {
	name  string // udp, tcp, tls, ws, wss
	addrs []string
}

// listeners returns Listen's lists in declaration order.
func (c *Config) listeners() []transportList {
	return []transportList{
		{"udp", c.Listen.UDP},
		{"tcp", c.Listen.TCP},
		{"tls", c.Listen.TLS},
		{"ws", c.Listen.WS},
		{"wss", c.Listen.WSS},
	}
}
