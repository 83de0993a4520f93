package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-sip/switchboard/auth"
	"github.com/switchboard-sip/switchboard/sip/digest"
	"github.com/switchboard-sip/switchboard/subscriber"
)

// The server hands subscriber.Credentials to the digest verifier.
var _ auth.Credentials = subscriber.Credentials{}

// runUser runs the CLI with stdin as its standard input (not a terminal).
func runUser(stdin string, args ...string) (code int, out, errOut string) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

// storedHA1 reads the MD5 HA1 of user@domain from the database in dir, as
// the server would.
func storedHA1(t *testing.T, dir, user, domain string) (string, bool) {
	t.Helper()
	s, err := subscriber.OpenSQLite(filepath.Join(dir, subscriber.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ha1, ok, err := subscriber.Credentials{Store: s}.HA1(context.Background(), user, domain, digest.MD5)
	if err != nil {
		t.Fatal(err)
	}
	return ha1, ok
}

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	data := []string{"-data", dir}
	user := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runUser(stdin, append(append([]string{"user"}, args...), data...)...)
	}

	code, out, errOut := user("", "add", "alice@Example.com", "-password", "first")
	if code != 0 || out != "added alice@example.com\n" {
		t.Fatalf("add: exit %d, %q, %q", code, out, errOut)
	}
	if ha1, ok := storedHA1(t, dir, "alice", "example.com"); !ok || ha1 != digest.MD5.HA1("alice", "example.com", "first") {
		t.Fatalf("after add, MD5 HA1 = %q, %v", ha1, ok)
	}

	// Flags may also come first; the password may be piped.
	code, out, errOut = runUser("s3cret\n", "user", "add", "-data", dir, "bob@example.org")
	if code != 0 || out != "added bob@example.org\n" {
		t.Fatalf("add with a piped password: exit %d, %q, %q", code, out, errOut)
	}
	if ha1, ok := storedHA1(t, dir, "bob", "example.org"); !ok || ha1 != digest.MD5.HA1("bob", "example.org", "s3cret") {
		t.Fatalf("piped password: MD5 HA1 = %q, %v", ha1, ok)
	}
	// A piped password without a final newline, with CRLF.
	if code, _, errOut := user("crlf\r\n", "add", "carol@example.org"); code != 0 {
		t.Fatalf("add carol: exit %d, %q", code, errOut)
	}
	if ha1, _ := storedHA1(t, dir, "carol", "example.org"); ha1 != digest.MD5.HA1("carol", "example.org", "crlf") {
		t.Fatal("a CRLF-terminated piped password kept its CR")
	}

	code, out, errOut = user("", "add", "alice@example.com", "-password", "again")
	if want := "switchboard user add: user alice@example.com exists; use `switchboard user passwd` to change the password\n"; code != 1 || out != "" || errOut != want {
		t.Fatalf("add again: exit %d, %q, %q; want 1 and %q", code, out, errOut, want)
	}

	code, out, errOut = user("", "list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	row := regexp.MustCompile(`^(\S+)\s+(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\s+MD5,SHA-256$`)
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "USER@DOMAIN") ||
		!row.MatchString(lines[1]) || !strings.HasPrefix(lines[1], "alice@example.com ") ||
		!strings.HasPrefix(lines[2], "bob@example.org ") || !strings.HasPrefix(lines[3], "carol@example.org ") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = user("", "passwd", "alice@example.com", "-password", "second")
	if code != 0 || out != "changed the password of alice@example.com\n" {
		t.Fatalf("passwd: exit %d, %q, %q", code, out, errOut)
	}
	if ha1, ok := storedHA1(t, dir, "alice", "example.com"); !ok || ha1 != digest.MD5.HA1("alice", "example.com", "second") {
		t.Fatalf("after passwd, MD5 HA1 = %q, %v; want that of the new password", ha1, ok)
	}
	if code, _, errOut := user("piped\n", "passwd", "bob@example.org"); code != 0 {
		t.Fatalf("passwd with a piped password: exit %d, %q", code, errOut)
	} else if ha1, _ := storedHA1(t, dir, "bob", "example.org"); ha1 != digest.MD5.HA1("bob", "example.org", "piped") {
		t.Fatal("passwd with a piped password did not change the HA1")
	}

	code, out, errOut = user("", "passwd", "dave@example.com", "-password", "x")
	if code != 1 || !strings.Contains(errOut, "user dave@example.com does not exist") {
		t.Fatalf("passwd of a missing user: exit %d, %q, %q", code, out, errOut)
	}

	code, out, errOut = user("", "remove", "alice@example.com")
	if code != 0 || out != "removed alice@example.com\n" {
		t.Fatalf("remove: exit %d, %q, %q", code, out, errOut)
	}
	if _, ok := storedHA1(t, dir, "alice", "example.com"); ok {
		t.Fatal("alice is still there after remove")
	}
	code, _, errOut = user("", "remove", "alice@example.com")
	if code != 1 || !strings.Contains(errOut, "user alice@example.com does not exist") {
		t.Fatalf("second remove: exit %d, %q", code, errOut)
	}
	code, out, _ = user("", "list")
	if code != 0 || strings.Contains(out, "alice") || !strings.Contains(out, "bob@example.org") {
		t.Fatalf("list after remove: exit %d\n%s", code, out)
	}
}

func TestUserCommandPasswords(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"empty stdin", "", nil, "standard input is empty"},
		{"empty line", "\n", nil, "empty password refused"},
		{"empty flag", "", []string{"-password", ""}, "empty password refused"},
	} {
		args := append([]string{"user", "add", "alice@example.com", "-data", dir}, c.args...)
		code, out, errOut := runUser(c.stdin, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, %q, %q; want 1 and %q", c.name, code, out, errOut, c.want)
		}
	}
	if _, ok := storedHA1(t, dir, "alice", "example.com"); ok {
		t.Error("a refused password still added the user")
	}
}

func TestUserCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user"}, "usage: switchboard user add"},
		{[]string{"user", "frob"}, `unknown command "frob"`},
		{[]string{"user", "add"}, "usage:"},
		{[]string{"user", "add", "alice"}, `"alice" is not USER@DOMAIN`},
		{[]string{"user", "add", "@example.com"}, "empty user"},
		{[]string{"user", "add", "alice@"}, "empty domain"},
		{[]string{"user", "add", "al ice@example.com"}, "not allowed"},
		{[]string{"user", "add", "alice@example.com", "bob@example.com"}, "usage:"},
		{[]string{"user", "remove", "alice@example.com", "-password", "x"}, "not defined: -password"},
		{[]string{"user", "list", "extra"}, "usage:"},
		{[]string{"user", "list", "-frob"}, "not defined: -frob"},
	} {
		code, out, errOut := runUser("pw\n", append(c.args, "-data", dir)...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, %q, %q; want 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, subscriber.FileName)); err == nil {
		t.Error("a usage error created the database")
	}
}

// TestUserCommandDataDir checks where the database goes: the data_dir of
// -config, or ./switchboard-data with neither flag, and that passwd,
// remove and list do not create a database.
func TestUserCommandDataDir(t *testing.T) {
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "etc", "switchboard.yaml")
	os.MkdirAll(filepath.Dir(cfg), 0o755)
	if err := os.WriteFile(cfg, []byte("data_dir: ../var/sb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runUser("", "user", "add", "-config", cfg, "alice@example.com", "-password", "pw"); code != 0 {
		t.Fatalf("add -config: exit %d, %q", code, errOut)
	}
	dataDir := filepath.Join(tmp, "var", "sb")
	if _, ok := storedHA1(t, dataDir, "alice", "example.com"); !ok {
		t.Fatalf("add -config %s did not write to %s", cfg, dataDir)
	}
	if code, out, _ := runUser("", "user", "list", "-config", cfg); code != 0 || !strings.Contains(out, "alice@example.com") {
		t.Fatalf("list -config: exit %d, %q", code, out)
	}
	if code, _, errOut := runUser("", "user", "list", "-config", filepath.Join(tmp, "missing.yaml")); code != 1 || errOut == "" {
		t.Fatalf("list with a missing config file: exit %d, %q", code, errOut)
	}

	t.Chdir(tmp)
	for _, args := range [][]string{{"list"}, {"remove", "bob@example.com"}, {"passwd", "bob@example.com", "-password", "x"}} {
		code, out, errOut := runUser("", append([]string{"user"}, args...)...)
		wantCode := 1
		if args[0] == "list" {
			wantCode = 0
		}
		if code != wantCode || out != "" || !strings.Contains(errOut, "no subscriber database at "+filepath.Join(tmp, "switchboard-data", subscriber.FileName)) {
			t.Errorf("%s without a database: exit %d, %q, %q", args[0], code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "switchboard-data")); err == nil {
		t.Fatal("list, remove or passwd created the data directory")
	}
	if code, _, errOut := runUser("pw\n", "user", "add", "bob@example.com"); code != 0 {
		t.Fatalf("add with the default data dir: exit %d, %q", code, errOut)
	}
	if _, ok := storedHA1(t, filepath.Join(tmp, "switchboard-data"), "bob", "example.com"); !ok {
		t.Fatal("add without -data or -config did not write to ./switchboard-data")
	}
}
