package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig runs `switchboard check-config` on good and bad files and
// checks what an operator sees and the exit status.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := write("good.yaml", "listen:\n  udp: [127.0.0.1:5070]\ndata_dir: data\ndomains: [Example.com]\n")
	code, out, errOut := runCLI("check-config", "-config", good)
	wantOut := "ok: " + good + "\n" +
		"listen udp 127.0.0.1:5070; data_dir " + filepath.Join(dir, "data") + "; domains example.com\n"
	if code != 0 || out != wantOut || errOut != "" {
		t.Errorf("good file: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0, stdout:\n%s", code, out, errOut, wantOut)
	}

	example := "../../config/example.yaml"
	if code, out, errOut := runCLI("check-config", "-config", example); code != 0 || !strings.HasPrefix(out, "ok: "+example+"\n") || errOut != "" {
		t.Errorf("example.yaml: exit %d\n%s%s", code, out, errOut)
	}

	bad := write("bad.yaml", "listn:\n  udp: []\nregistrar:\n  min_expires: 0\n  max_expires: abc\n")
	code, out, errOut = runCLI("check-config", "-config", bad)
	wantErr := bad + ":1: listn: unknown field; did you mean listen?\n" +
		bad + ":4: registrar.min_expires: 0 is below 1; set a number of seconds ≥ 1\n" +
		bad + `:5: registrar.max_expires: "abc" is not a number of seconds; write a whole number such as 7200` + "\n"
	if code != 1 || out != "" || errOut != wantErr {
		t.Errorf("bad file: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1, stderr:\n%s", code, out, errOut, wantErr)
	}

	syntax := write("syntax.yaml", "log:\n\tlevel: info\n")
	if code, out, errOut := runCLI("check-config", "-config", syntax); code != 1 || out != "" ||
		errOut != syntax+":2: invalid YAML: found character that cannot start any token; indent with spaces, not tabs\n" {
		t.Errorf("syntax error: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	missing := filepath.Join(dir, "missing.yaml")
	if code, _, errOut := runCLI("check-config", "-config", missing); code != 1 ||
		!strings.HasPrefix(errOut, "config: open "+missing) || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}

	for _, args := range [][]string{
		{"check-config", "-nope"},
		{"check-config", good},
		{"check-config", "-config"},
	} {
		if code, out, errOut := runCLI(args...); code != 2 || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and a usage message", args, code, out, errOut)
		}
	}
}

// TestCheckConfigDefaultFile: without -config, check-config reads
// ./switchboard.yaml when present, else checks the defaults.
func TestCheckConfigDefaultFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, errOut := runCLI("check-config")
	wantOut := "ok: defaults\n" +
		"listen udp 0.0.0.0:5060, tcp 0.0.0.0:5060, tls 0.0.0.0:5061; data_dir " + filepath.Join(dir, "switchboard-data") +
		"; domains the host's names and addresses plus subscriber domains; tls: self-signed development certificate\n"
	if code != 0 || out != wantOut || errOut != "" {
		t.Errorf("no file: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errOut, wantOut)
	}

	if err := os.WriteFile("switchboard.yaml", []byte("auth:\n  enabled: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI("check-config")
	if code != 0 || !strings.HasPrefix(out, "ok: switchboard.yaml\n") || !strings.HasSuffix(out, "; auth DISABLED (tests only)\n") {
		t.Errorf("./switchboard.yaml: exit %d\n%s", code, out)
	}

	if err := os.WriteFile("switchboard.yaml", []byte("log:\n  level: loud\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI("check-config")
	if code != 1 || out != "" || errOut != `switchboard.yaml:2: log.level: "loud" is not a log level; use debug, info, warn or error`+"\n" {
		t.Errorf("bad ./switchboard.yaml: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
