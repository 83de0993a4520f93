package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-sip/switchboard/sip/digest"
)

func mustParse(t *testing.T, name, data string) *Config {
	t.Helper()
	c, err := Parse(name, []byte(data))
	if err != nil {
		t.Fatalf("Parse(%q):\n%v", data, err)
	}
	return c
}

// parseErrors returns Parse's problems, one string per line.
func parseErrors(t *testing.T, data string) []string {
	t.Helper()
	c, err := Parse("switchboard.yaml", []byte(data))
	if err == nil {
		t.Fatalf("Parse(%q) = %+v, want an error", data, c)
	}
	if c != nil {
		t.Errorf("Parse returned a Config along with an error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error %T is not an Errors: %v", err, err)
	}
	if got := strings.Split(err.Error(), "\n"); len(got) != len(errs) {
		t.Errorf("Error() has %d lines for %d errors", len(got), len(errs))
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestDefault(t *testing.T) {
	c := Default()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen: Listen{
			UDP: []string{"0.0.0.0:5060"},
			TCP: []string{"0.0.0.0:5060"},
			TLS: []string{"0.0.0.0:5061"},
		},
		DataDir:   filepath.Join(wd, "switchboard-data"),
		Registrar: Registrar{MinExpires: 60, MaxExpires: 7200, DefaultExpires: 3600},
		Auth:      Auth{Enabled: true, NonceLifetime: Duration(5 * time.Minute)},
		Proxy:     Proxy{TimerC: Duration(3*time.Minute + time.Second)},
		Log:       Log{Level: "info", Format: "text"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	c.Listen.UDP[0] = "changed"
	c.Registrar.MinExpires = 1
	if d := Default(); d.Listen.UDP[0] != "0.0.0.0:5060" || d.Registrar.MinExpires != 60 {
		t.Error("Default shares memory between calls")
	}
}

// TestEmptyFile: a file without keys (or only comments, or null) gives the
// defaults, the data directory being next to the file.
func TestEmptyFile(t *testing.T) {
	for _, data := range []string{"", "# nothing\n", "~\n", "---\n", "{}\n"} {
		c := mustParse(t, "/etc/sb/switchboard.yaml", data)
		want := Default()
		want.DataDir = "/etc/sb/switchboard-data"
		want.File = "/etc/sb/switchboard.yaml"
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Parse(%q) = %+v\nwant %+v", data, c, want)
		}
	}
}

// TestExample: example.yaml lists every key with its default value.
func TestExample(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, "example.yaml", string(data))
	want := Default() // the working directory is the example's directory
	want.File = "example.yaml"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("example.yaml = %+v\nwant the defaults %+v", c, want)
	}
	// Every key appears in the example.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	var inFile []string
	var walk func(path string, n *yaml.Node)
	walk = func(path string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			inFile = append(inFile, p)
			walk(p, n.Content[i+1])
		}
	}
	walk("", root.Content[0])
	var all []string
	allPaths("", reflect.TypeFor[Config](), &all)
	if !slices.Equal(inFile, all) {
		t.Errorf("example.yaml has the keys\n%v\nwant, in this order,\n%v", inFile, all)
	}
}

// TestMarshalRoundTrip: a Config written with yaml.Marshal reads back the
// same.
func TestMarshalRoundTrip(t *testing.T) {
	c := Default()
	c.Domains = []string{"example.com"}
	c.Auth.NonceLifetime = Duration(90 * time.Second)
	data, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "nonce_lifetime: 1m30s") {
		t.Errorf("nonce_lifetime not written as a duration:\n%s", data)
	}
	back := mustParse(t, "x.yaml", string(data))
	back.File = ""
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip:\n%s\ngave %+v\nwant %+v", data, back, c)
	}
}

func TestFullFile(t *testing.T) {
	const file = `# every key, none at its default
listen:
  udp: ["127.0.0.1:5070", "[::1]:5070"]
  tcp: [127.0.0.1:5070]
  tls: [127.0.0.1:5071]
  ws: [127.0.0.1:8080]
  wss: ["localhost:8443"]
tls:
  cert: certs/cert.pem
  key: /etc/ssl/key.pem
data_dir: ../var/switchboard
domains:
  - Example.COM.
  - example.com
  - "[2001:DB8::1]"
  - 192.0.2.1
registrar:
  min_expires: 30
  max_expires: 0x10000
  default_expires: 600
auth:
  enabled: false
  nonce_lifetime: 300s
  algorithms: [md5, SHA-256, MD5]
proxy:
  trusted: [192.0.2.10, "2001:db8::/32"]
  local_only: true
  redirect: [Redirect.Example.COM]
  timer_c: 5m
log:
  level: DEBUG
  format: json
`
	c := mustParse(t, "/srv/sb/conf/switchboard.yaml", file)
	want := &Config{
		Listen: Listen{
			UDP: []string{"127.0.0.1:5070", "[::1]:5070"},
			TCP: []string{"127.0.0.1:5070"},
			TLS: []string{"127.0.0.1:5071"},
			WS:  []string{"127.0.0.1:8080"},
			WSS: []string{"localhost:8443"},
		},
		TLS:       TLS{Cert: "/srv/sb/conf/certs/cert.pem", Key: "/etc/ssl/key.pem"},
		DataDir:   "/srv/sb/var/switchboard",
		Domains:   []string{"example.com", "2001:db8::1", "192.0.2.1"},
		Registrar: Registrar{MinExpires: 30, MaxExpires: 65536, DefaultExpires: 600},
		Auth:      Auth{Enabled: false, NonceLifetime: Duration(5 * time.Minute), Algorithms: []digest.Algorithm{digest.MD5, digest.SHA256}},
		Proxy: Proxy{Trusted: []string{"192.0.2.10", "2001:db8::/32"}, LocalOnly: true,
			Redirect: []string{"redirect.example.com"}, TimerC: Duration(5 * time.Minute)},
		Log:  Log{Level: "debug", Format: "json"},
		File: "/srv/sb/conf/switchboard.yaml",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if got := c.Log.SlogLevel(); got != slog.LevelDebug {
		t.Errorf("SlogLevel = %v", got)
	}
}

// TestListenReplacesDefaults: a listen section opens only what it lists.
func TestListenReplacesDefaults(t *testing.T) {
	c := mustParse(t, "x.yaml", "listen:\n  ws: [\"127.0.0.1:0\"]\n")
	if want := (Listen{WS: []string{"127.0.0.1:0"}}); !reflect.DeepEqual(c.Listen, want) {
		t.Errorf("Listen = %+v, want %+v", c.Listen, want)
	}
	// A null listen is no listen section.
	c = mustParse(t, "x.yaml", "listen:\nregistrar:\n")
	if !reflect.DeepEqual(c.Listen, Default().Listen) || c.Registrar != Default().Registrar {
		t.Errorf("null sections: %+v", c)
	}
	// Other sections merge with the defaults.
	c = mustParse(t, "x.yaml", "registrar:\n  max_expires: 9000\n")
	if want := (Registrar{MinExpires: 60, MaxExpires: 9000, DefaultExpires: 3600}); c.Registrar != want {
		t.Errorf("Registrar = %+v, want %+v", c.Registrar, want)
	}
}

func TestRelativePaths(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, dataDir, want string }{
		{"/etc/sb/switchboard.yaml", "data", "/etc/sb/data"},
		{"/etc/sb/switchboard.yaml", "./data/", "/etc/sb/data"},
		{"/etc/sb/switchboard.yaml", "../../var/lib/sb", "/var/lib/sb"},
		{"/etc/sb/switchboard.yaml", "/var/lib/sb", "/var/lib/sb"},
		{"switchboard.yaml", "data", filepath.Join(wd, "data")},
		{"conf/switchboard.yaml", "data", filepath.Join(wd, "conf", "data")},
		{"conf/switchboard.yaml", "", filepath.Join(wd, "conf", "switchboard-data")}, // omitted: the default
	}
	for _, c := range cases {
		data := ""
		if c.dataDir != "" {
			data = "data_dir: " + c.dataDir + "\n"
		}
		got := mustParse(t, c.name, data)
		if got.DataDir != c.want {
			t.Errorf("%s with data_dir %q: DataDir = %q, want %q", c.name, c.dataDir, got.DataDir, c.want)
		}
	}
	got := mustParse(t, "/etc/sb/switchboard.yaml", "tls:\n  cert: certs/c.pem\n  key: ../k.pem\n")
	if got.TLS.Cert != "/etc/sb/certs/c.pem" || got.TLS.Key != "/etc/k.pem" {
		t.Errorf("TLS = %+v", got.TLS)
	}
}

func TestLoad(t *testing.T) {
	t.Chdir(t.TempDir())
	wd, _ := os.Getwd()

	// No file given and none in the working directory: the defaults.
	c, err := Load("")
	if err != nil || !reflect.DeepEqual(c, Default()) || c.File != "" {
		t.Errorf(`Load("") without a file = %+v, %v; want Default()`, c, err)
	}

	// A missing file that was asked for is an error.
	_, err = Load("missing.yaml")
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: open missing.yaml") {
		t.Errorf("Load(missing) = %v", err)
	}

	// ./switchboard.yaml is read when present.
	if err := os.WriteFile(DefaultFile, []byte("data_dir: here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Load("")
	if err != nil || c.File != DefaultFile || c.DataDir != filepath.Join(wd, "here") {
		t.Errorf(`Load("") with ./switchboard.yaml = %+v, %v`, c, err)
	}

	// Errors name the file as given.
	if err := os.WriteFile("bad.yaml", []byte("\n\nregistrar:\n  min_expires: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load("bad.yaml")
	if want := "bad.yaml:4: registrar.min_expires: 0 is below 1; set a number of seconds ≥ 1"; err == nil || err.Error() != want {
		t.Errorf("Load(bad.yaml) = %v\nwant %s", err, want)
	}
}

// TestErrors checks each problem's exact message and line.
func TestErrors(t *testing.T) {
	cases := []struct{ name, data, want string }{
		// unknown keys
		{"typo", "data_dir: x\nlistn:\n  udp: [1.2.3.4:5]\n",
			"switchboard.yaml:2: listn: unknown field; did you mean listen?"},
		{"nested typo", "registrar:\n  min_expire: 5\n",
			"switchboard.yaml:2: registrar.min_expire: unknown field; did you mean registrar.min_expires?"},
		{"camel case", "\ndataDir: x\n",
			"switchboard.yaml:2: dataDir: unknown field; did you mean data_dir?"},
		{"hyphen", "registrar:\n  default-expires: 5\n",
			"switchboard.yaml:2: registrar.default-expires: unknown field; did you mean registrar.default_expires?"},
		{"wrong section", "max_expires: 100\n",
			"switchboard.yaml:1: max_expires: unknown field; did you mean registrar.max_expires?"},
		{"shortened", "auth:\n  lifetime: 5m\n",
			"switchboard.yaml:2: auth.lifetime: unknown field; did you mean auth.nonce_lifetime?"},
		{"nothing close", "auth:\n  realm: x\n",
			"switchboard.yaml:2: auth.realm: unknown field; the fields under auth are enabled, nonce_lifetime, algorithms"},
		{"nothing close at top", "frobnicate: 1\n",
			"switchboard.yaml:1: frobnicate: unknown field; the fields here are listen, tls, data_dir, domains, registrar, auth, proxy, log"},
		{"duplicate", "log:\n  level: info\n  level: debug\n",
			"switchboard.yaml:3: log.level: set twice (first on line 2); remove one"},

		// types
		{"not a number", "registrar:\n  max_expires: abc\n",
			`switchboard.yaml:2: registrar.max_expires: "abc" is not a number of seconds; write a whole number such as 7200`},
		{"fraction", "registrar:\n\n  default_expires: 1.5\n",
			`switchboard.yaml:3: registrar.default_expires: 1.5 is not a number of seconds; write a whole number such as 3600`},
		{"too large", "registrar:\n  max_expires: 99999999999999999999\n",
			`switchboard.yaml:2: registrar.max_expires: 99999999999999999999 is too large; write a number of seconds such as 7200`},
		{"list for number", "registrar:\n  min_expires: [1]\n",
			`switchboard.yaml:2: registrar.min_expires: want a number of seconds such as 60, not a list`},
		{"scalar for section", "registrar: 5\n",
			`switchboard.yaml:1: registrar: want a mapping of min_expires, max_expires, default_expires, not 5`},
		{"scalar for list", "listen:\n  udp: 0.0.0.0:5060\n",
			`switchboard.yaml:2: listen.udp: want a list, not the single value "0.0.0.0:5060"; write [0.0.0.0:5060] or put each entry on its own line after "- "`},
		{"mapping in list", "domains:\n  - example.com\n  - {a: b}\n",
			`switchboard.yaml:3: domains[1]: want a single value, not a mapping`},
		{"null in list", "domains:\n  - example.com\n  -\n",
			`switchboard.yaml:3: domains[1]: empty entry; fill it in or remove it`},
		{"list for string", "data_dir: [a, b]\n",
			`switchboard.yaml:1: data_dir: want a single value, not a list`},
		{"trusted not an address", "proxy:\n  trusted: [192.0.2.10, 10.0.0.0/33]\n",
			`switchboard.yaml:2: proxy.trusted[1]: "10.0.0.0/33" is not an IP address or CIDR prefix; write one such as 192.0.2.10 or 198.51.100.0/24`},
		{"timer_c too short", "proxy:\n  timer_c: 10ms\n",
			`switchboard.yaml:2: proxy.timer_c: 10ms is shorter than 1s; set a duration such as 3m1s`},
		{"bool", "auth:\n  enabled: maybe\n",
			`switchboard.yaml:2: auth.enabled: "maybe" is not true or false; write true or false`},
		{"duration without unit", "auth:\n  nonce_lifetime: 300\n",
			`switchboard.yaml:2: auth.nonce_lifetime: 300 has no unit; write 300s for seconds, or a duration such as 5m`},
		{"not a duration", "auth:\n  nonce_lifetime: five minutes\n",
			`switchboard.yaml:2: auth.nonce_lifetime: "five minutes" is not a duration; write one such as 5m or 300s`},
		{"top level list", "- a\n- b\n",
			`switchboard.yaml:1: the file holds a list; write a mapping of keys such as listen, tls, data_dir, domains, registrar, auth, proxy, log`},
		{"merge key", "log:\n  <<: {level: info}\n",
			`switchboard.yaml:2: log.<<: merge keys are not supported; write the keys out`},
		{"key not a name", "log:\n  [a]: 1\n",
			`switchboard.yaml:2: log: a key that is a list; keys are plain names such as level`},

		// YAML syntax
		// yaml.v3 gives a parser error the line where the construct began:
		// the mistake here is on line 3.
		{"syntax", "log:\n  level: info\n format: json\n",
			`switchboard.yaml:2: invalid YAML: did not find expected key; check the indentation and the quoting of this line and the next`},
		{"bad indent", "log:\n  level: info\n    format: json\n",
			`switchboard.yaml:3: invalid YAML: mapping values are not allowed in this context; check the indentation and the quoting around here`},
		{"tab", "log:\n\tlevel: info\n",
			`switchboard.yaml:2: invalid YAML: found character that cannot start any token; indent with spaces, not tabs`},
		{"unclosed", "domains: [a.example\nlog: {}\n",
			`switchboard.yaml:1: invalid YAML: did not find expected ',' or ']'; check the indentation and the quoting of this line and the next`},
		{"two documents", "log: {}\n---\nlog: {}\n",
			`switchboard.yaml:2: a second YAML document; keep the whole configuration in one document (remove the ---)`},

		// listen
		{"no port", "listen:\n  udp:\n    - 192.0.2.1\n",
			`switchboard.yaml:3: listen.udp[0]: "192.0.2.1" has no port; write host:port such as 0.0.0.0:5060`},
		{"bad port", "listen:\n  tls: [\"192.0.2.1:sips\"]\n",
			`switchboard.yaml:2: listen.tls[0]: "192.0.2.1:sips": port "sips" is not a number from 0 to 65535; write host:port such as 0.0.0.0:5061`},
		{"port range", "listen:\n  tcp:\n    - 127.0.0.1:5060\n    - 127.0.0.1:65536\n",
			`switchboard.yaml:4: listen.tcp[1]: "127.0.0.1:65536": port "65536" is not a number from 0 to 65535; write host:port such as 0.0.0.0:5060`},
		{"host name", "listen:\n  ws: [pbx.example.com:80]\n",
			`switchboard.yaml:2: listen.ws[0]: "pbx.example.com:80": pbx.example.com is not an IP address; listen on an IP address, localhost or an empty host (every address), such as 0.0.0.0:5060`},
		{"ipv6 without brackets", "listen:\n  udp: ['::1:5060']\n",
			`switchboard.yaml:2: listen.udp[0]: "::1:5060" is ambiguous; write IPv6 addresses in brackets such as [::1]:5060`},
		{"empty address", "listen:\n  udp: ['']\n",
			`switchboard.yaml:2: listen.udp[0]: empty entry; write host:port such as 0.0.0.0:5060`},
		{"no listeners", "listen:\n  udp: []\n",
			`switchboard.yaml:1: listen: no addresses to listen on; list at least one under udp, tcp, tls, ws or wss, or remove listen for the defaults`},
		{"same address twice", "listen:\n  udp:\n    - 127.0.0.1:5060\n    - 127.0.0.1:5060\n",
			`switchboard.yaml:4: listen.udp[1]: 127.0.0.1:5060 clashes with listen.udp[0] (127.0.0.1:5060, line 3): both take UDP port 5060 on the same address; change a port or remove one`},
		{"tcp and tls share a port", "listen:\n  tcp: [127.0.0.1:5060]\n  tls: [127.0.0.1:5060]\n",
			`switchboard.yaml:3: listen.tls[0]: 127.0.0.1:5060 clashes with listen.tcp[0] (127.0.0.1:5060, line 2): both take TCP port 5060 on the same address; change a port or remove one`},
		{"dual stack wildcard", "listen:\n  udp: [0.0.0.0:5060]\n  tcp: [0.0.0.0:5060]\n  ws: [\"[::]:5060\"]\n",
			`switchboard.yaml:4: listen.ws[0]: [::]:5060 clashes with listen.tcp[0] (0.0.0.0:5060, line 3): [::]:5060 takes TCP port 5060 on every address, IPv4 and IPv6; change a port or remove one`},
		{"ipv4 wildcard", "listen:\n  udp: [127.0.0.1:5060, 0.0.0.0:5060]\n",
			`switchboard.yaml:2: listen.udp[1]: 0.0.0.0:5060 clashes with listen.udp[0] (127.0.0.1:5060, line 2): 0.0.0.0:5060 takes UDP port 5060 on every IPv4 address; change a port or remove one`},
		{"localhost", "listen:\n  tcp: [127.0.0.1:5060]\n  wss: [localhost:5060]\n",
			`switchboard.yaml:3: listen.wss[0]: localhost:5060 clashes with listen.tcp[0] (127.0.0.1:5060, line 2): both take TCP port 5060 on the same address; change a port or remove one`},

		// tls, data_dir, domains
		{"cert without key", "tls:\n  cert: cert.pem\n",
			`switchboard.yaml:2: tls.cert: set without tls.key; set both, or neither to use a self-signed development certificate`},
		{"key without cert", "tls:\n  cert: \"\"\n  key: key.pem\n",
			`switchboard.yaml:3: tls.key: set without tls.cert; set both, or neither to use a self-signed development certificate`},
		{"empty data_dir", "data_dir: ''\n",
			`switchboard.yaml:1: data_dir: empty; name a directory, or remove data_dir for ./switchboard-data`},
		{"domain with scheme", "domains: [example.com, \"sip:example.com\"]\n",
			`switchboard.yaml:1: domains[1]: "sip:example.com" is not a host name or IP address; write a bare domain such as example.com`},
		{"domain with port", "domains:\n  - example.com:5060\n",
			`switchboard.yaml:2: domains[0]: "example.com:5060" is not a host name or IP address; write a bare domain such as example.com`},
		{"bad address", "domains:\n  - 192.0.2.300\n",
			`switchboard.yaml:2: domains[0]: "192.0.2.300" is not a host name or IP address; write a bare domain such as example.com`},
		{"empty domain", "domains: ['']\n",
			`switchboard.yaml:1: domains[0]: empty entry; fill it in or remove it`},

		// registrar
		{"min below 1", "registrar:\n  min_expires: 0\n",
			`switchboard.yaml:2: registrar.min_expires: 0 is below 1; set a number of seconds ≥ 1`},
		{"max too large", "registrar:\n  max_expires: 2147483648\n",
			`switchboard.yaml:2: registrar.max_expires: 2147483648 is above 2147483647; set a number of seconds ≤ 2147483647`},
		{"min above default", "registrar:\n  min_expires: 4000\n",
			`switchboard.yaml:2: registrar.min_expires: 4000 is above registrar.default_expires (3600, the default); set min_expires ≤ 3600 or raise default_expires`},
		{"default below min", "registrar:\n  default_expires: 30\n",
			`switchboard.yaml:2: registrar.default_expires: 30 is below registrar.min_expires (60, the default); set default_expires ≥ 60 or lower min_expires`},
		{"default above max, both set", "registrar:\n  max_expires: 100\n  default_expires: 200\n",
			`switchboard.yaml:2: registrar.max_expires: 100 is below registrar.default_expires (200, line 3); set max_expires ≥ 200 or lower default_expires`},
		{"max below default", "registrar:\n  max_expires: 1000\n",
			`switchboard.yaml:2: registrar.max_expires: 1000 is below registrar.default_expires (3600, the default); set max_expires ≥ 3600 or lower default_expires`},

		// auth, log
		{"nonce lifetime", "auth:\n  nonce_lifetime: 500ms\n",
			`switchboard.yaml:2: auth.nonce_lifetime: 500ms is shorter than 1s; set a duration such as 5m`},
		{"negative nonce lifetime", "auth:\n  nonce_lifetime: -5m\n",
			`switchboard.yaml:2: auth.nonce_lifetime: -5m is shorter than 1s; set a duration such as 5m`},
		{"algorithm", "auth:\n  algorithms:\n    - MD5\n    - SHA-512-256\n",
			`switchboard.yaml:4: auth.algorithms[1]: "SHA-512-256" is not a digest algorithm this server implements; use MD5 or SHA-256`},
		{"empty algorithm", "auth:\n  algorithms: ['']\n",
			`switchboard.yaml:2: auth.algorithms[0]: empty entry; fill it in or remove it`},
		{"log level", "log:\n  level: verbose\n",
			`switchboard.yaml:2: log.level: "verbose" is not a log level; use debug, info, warn or error`},
		{"log format", "log:\n  format: xml\n",
			`switchboard.yaml:2: log.format: "xml" is not a log format; use text or json`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseErrors(t, c.data)
			if len(got) != 1 || got[0] != c.want {
				t.Errorf("Parse(%q):\n%s\nwant\n%s", c.data, strings.Join(got, "\n"), c.want)
			}
		})
	}
}

// TestManyErrors: every problem is reported, in line order, and a field
// with a type error is not reported again by validation.
func TestManyErrors(t *testing.T) {
	const file = `listn: {}
listen:
  udp: [192.0.2.1]
  tcp: [":5060", "[::1]:5061"]
tls: {key: k.pem}
domains: [ok.example, "bad domain"]
registrar:
  min_expires: abc
  max_expires: 10
auth: {enabled: perhaps, nonce_lifetime: 1h}
log:
  level: loud
`
	got := parseErrors(t, file)
	want := []string{
		"switchboard.yaml:1: listn: unknown field; did you mean listen?",
		`switchboard.yaml:3: listen.udp[0]: "192.0.2.1" has no port; write host:port such as 0.0.0.0:5060`,
		"switchboard.yaml:5: tls.key: set without tls.cert; set both, or neither to use a self-signed development certificate",
		`switchboard.yaml:6: domains[1]: "bad domain" is not a host name or IP address; write a bare domain such as example.com`,
		`switchboard.yaml:8: registrar.min_expires: "abc" is not a number of seconds; write a whole number such as 60`,
		"switchboard.yaml:9: registrar.max_expires: 10 is below registrar.default_expires (3600, the default); set max_expires ≥ 3600 or lower default_expires",
		`switchboard.yaml:10: auth.enabled: "perhaps" is not true or false; write true or false`,
		`switchboard.yaml:12: log.level: "loud" is not a log level; use debug, info, warn or error`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A listen section whose only entry has the wrong type is not also
	// reported as empty.
	got = parseErrors(t, "listen:\n  udp: [[1]]\n")
	if len(got) != 1 || !strings.Contains(got[0], "listen.udp[0]: want a single value, not a list") {
		t.Errorf("got %q", got)
	}
}

func TestAliases(t *testing.T) {
	c := mustParse(t, "x.yaml", "listen:\n  udp: &a [127.0.0.1:5060]\n  tcp: *a\n")
	if !slices.Equal(c.Listen.TCP, []string{"127.0.0.1:5060"}) {
		t.Errorf("alias: %+v", c.Listen)
	}
}

// TestValidate: a Config built in code is checked the same way, without
// lines.
func TestValidate(t *testing.T) {
	c := Default()
	c.Registrar.MinExpires = 0
	c.Listen = Listen{}
	c.Domains = []string{"Example.COM", "[::1]"}
	err := c.Validate()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("Validate = %v", err)
	}
	want := "config: listen: no addresses to listen on; list at least one under udp, tcp, tls, ws or wss, or remove listen for the defaults\n" +
		"config: registrar.min_expires: 0 is below 1; set a number of seconds ≥ 1"
	if err.Error() != want {
		t.Errorf("Validate:\n%v\nwant\n%s", err, want)
	}
	if c.Domains[0] != "Example.COM" {
		t.Error("Validate modified the Config")
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "listen" {
		t.Errorf("errors.As(*Error) = %v", e)
	}
}

func TestRestartNeeded(t *testing.T) {
	a := Default()
	if got := a.RestartNeeded(Default()); got != nil {
		t.Errorf("same config: %v", got)
	}
	b := Default()
	b.Listen.WS = []string{} // empty and nil lists are the same
	b.Domains = []string{"example.com"}
	b.Registrar.MaxExpires = 100
	b.Auth.Enabled = false
	b.Auth.Algorithms = []digest.Algorithm{digest.MD5}
	b.Log.Level = "debug"
	b.File = "other.yaml"
	if got := a.RestartNeeded(b); got != nil {
		t.Errorf("reloadable changes: %v", got)
	}
	b.Listen.UDP = []string{"0.0.0.0:5070"}
	b.TLS = TLS{Cert: "/c.pem", Key: "/k.pem"}
	b.DataDir = "/elsewhere"
	want := []string{"listen.udp", "tls.cert", "tls.key", "data_dir"}
	if got := a.RestartNeeded(b); !slices.Equal(got, want) {
		t.Errorf("RestartNeeded = %v, want %v", got, want)
	}

	// Every field is classified as documented: changing it alone needs a
	// restart exactly when it is under listen, tls or data_dir. A new field
	// fails here until it is added to the right list in RestartNeeded's
	// doc comment and this test.
	restart := []string{"listen.udp", "listen.tcp", "listen.tls", "listen.ws", "listen.wss", "tls.cert", "tls.key", "data_dir"}
	reload := []string{"domains", "registrar.min_expires", "registrar.max_expires", "registrar.default_expires", "auth.enabled", "auth.nonce_lifetime", "auth.algorithms", "proxy.trusted", "proxy.local_only", "proxy.redirect", "proxy.timer_c", "log.level", "log.format"}
	var leaves []string
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		for _, f := range fieldsOf(v.Type()) {
			p, fv := join(path, f.key), v.Field(f.index)
			if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[Duration]() {
				walk(p, fv)
				continue
			}
			leaves = append(leaves, p)
			n := Default()
			changeField(t, reflect.ValueOf(n).Elem(), p)
			got := Default().RestartNeeded(n)
			switch {
			case slices.Contains(restart, p):
				if !slices.Equal(got, []string{p}) {
					t.Errorf("changing %s: RestartNeeded = %v, want [%s]", p, got, p)
				}
			case slices.Contains(reload, p):
				if got != nil {
					t.Errorf("changing %s: RestartNeeded = %v, want none", p, got)
				}
			default:
				t.Errorf("field %s is neither reloadable nor restart-only in this test", p)
			}
		}
	}
	walk("", reflect.ValueOf(Default()).Elem())
	if len(leaves) != len(restart)+len(reload) {
		t.Errorf("fields %v", leaves)
	}
}

// changeField changes the field at path in the struct v.
func changeField(t *testing.T, v reflect.Value, path string) {
	for key := range strings.SplitSeq(path, ".") {
		i := slices.IndexFunc(fieldsOf(v.Type()), func(f field) bool { return f.key == key })
		v = v.Field(fieldsOf(v.Type())[i].index)
	}
	switch v.Kind() {
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		s.Index(0).SetString("changed")
		v.Set(s)
	case reflect.String:
		v.SetString(v.String() + "-changed")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	default:
		t.Fatalf("changeField: %s has kind %s", path, v.Kind())
	}
}

func TestSlogLevel(t *testing.T) {
	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"error": slog.LevelError, "ERROR": slog.LevelError, "": slog.LevelInfo,
	} {
		if got := (Log{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute:                  "5m",
		90 * time.Second:                 "1m30s",
		2 * time.Hour:                    "2h",
		time.Hour + 30*time.Minute:       "1h30m",
		time.Hour + time.Second:          "1h0m1s",
		1500 * time.Millisecond:          "1.5s",
		0:                                "0s",
		-5 * time.Minute:                 "-5m",
		24*time.Hour + 10*time.Minute:    "24h10m",
		3*time.Hour + 5*time.Millisecond: "3h0m0.005s",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(Duration(d).String())); err != nil || back != Duration(d) {
			t.Errorf("UnmarshalText(%q) = %v, %v", Duration(d).String(), time.Duration(back), err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("300")); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("UnmarshalText(300) = %v", err)
	}
}

func TestSummary(t *testing.T) {
	c := Default()
	c.DataDir = "/var/lib/sb"
	want := "listen udp 0.0.0.0:5060, tcp 0.0.0.0:5060, tls 0.0.0.0:5061; data_dir /var/lib/sb; " +
		"domains the host's names and addresses plus subscriber domains; tls: self-signed development certificate"
	if got := c.Summary(); got != want {
		t.Errorf("Summary =\n%s\nwant\n%s", got, want)
	}
	c.Listen = Listen{UDP: []string{"127.0.0.1:0"}}
	c.Domains = []string{"a.example", "b.example"}
	c.Auth.Enabled = false
	want = "listen udp 127.0.0.1:0; data_dir /var/lib/sb; domains a.example, b.example; auth DISABLED (tests only)"
	if got := c.Summary(); got != want {
		t.Errorf("Summary =\n%s\nwant\n%s", got, want)
	}
}

func TestSuggest(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"kitten", "sitting", 3}, {"", "abc", 3}, {"abc", "", 3}, {"ab", "ba", 1}, {"domian", "domains", 2}, {"listen", "listen", 0}} {
		if d := distance(c.a, c.b); d != c.d {
			t.Errorf("distance(%q, %q) = %d, want %d", c.a, c.b, d, c.d)
		}
	}
	for key, want := range map[string]string{
		"listen":  "did you mean listen?",
		"LISTEN":  "did you mean listen?",
		"domian":  "did you mean domains?",
		"registr": "did you mean registrar?",
		"udp":     "did you mean listen.udp?",
		"x":       "the fields here are listen, tls, data_dir, domains, registrar, auth, proxy, log",
	} {
		if got := suggest("", key, keysOf(fieldsOf(reflect.TypeFor[Config]()))); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
