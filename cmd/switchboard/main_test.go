package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, out, errOut string) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestParseCommand runs `switchboard parse` on torture messages and checks
// the verdict line and exit status an operator sees.
func TestParseCommand(t *testing.T) {
	dir := "../../sip/testdata/rfc4475"
	cases := []struct {
		file, role, verdict string
		code                int
		shows               string
	}{
		{"wsinv.dat", "uas", "verdict: ok", 0, `via SIP/2.0/UDP host=192.0.2.2 port=0 branch="390skdjuw"`},
		{"badvers.dat", "uas", "verdict: 505 Version Not Supported", 1, "version SIP/7.0 is not supported"},
		{"zeromf.dat", "proxy", "verdict: 483 Too Many Hops", 1, "Max-Forwards"},
		{"zeromf.dat", "uas", "verdict: ok", 0, "OPTIONS"},
		{"unkscm.dat", "proxy", "verdict: 416 Unsupported URI Scheme", 1, "nobodyKnowsThisScheme"},
		{"bext01.dat", "uas", "verdict: 420 Bad Extension", 1, "nothingSupportsThis"},
		{"intmeth.dat", "uas", "verdict: 501 Not Implemented", 1, "not implemented"},
		{"unksm2.dat", "registrar", "verdict: 400 Bad Request", 1, "isbn"},
		{"bigcode.dat", "uas", "verdict: drop", 1, "status code out of range"},
		{"badinv01.dat", "uas", "verdict: 400 Bad Request", 1, "bad Via"},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.role, func(t *testing.T) {
			code, out, _ := runCLI("parse", "-role", c.role, filepath.Join(dir, c.file))
			if code != c.code || lastLine(out) != c.verdict || !strings.Contains(out, c.shows) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d, last line %q, containing %q", code, out, c.code, c.verdict, c.shows)
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tmp := t.TempDir()
	garbage := filepath.Join(tmp, "garbage")
	os.WriteFile(garbage, []byte("hello world"), 0o644)
	code, out, _ := runCLI("parse", garbage)
	if code != 1 || !strings.Contains(out, "missing SIP-Version") || lastLine(out) != "verdict: drop" {
		t.Errorf("garbage: exit %d\n%s", code, out)
	}
	big := filepath.Join(tmp, "big")
	os.WriteFile(big, append([]byte("MESSAGE sip:a@b SIP/2.0\r\n\r\n"), bytes.Repeat([]byte("x"), 70000)...), 0o644)
	code, out, _ = runCLI("parse", big)
	if code != 1 || !strings.Contains(out, "larger than 64 KiB") {
		t.Errorf("oversized: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI("parse", filepath.Join(tmp, "missing")); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("parse", "-role", "b2bua", garbage); code != 2 || !strings.Contains(errOut, "unknown role") {
		t.Errorf("bad role: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "switchboard ") {
		t.Errorf("version: %d %q", code, out)
	}
}
