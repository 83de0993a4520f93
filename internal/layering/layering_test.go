package layering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// A row is one row of DESIGN.md's layering table. Paths are relative to the
// module root ("sip", "transport/resolve").
//
// A package may import the packages of the rows above its own, except those
// in never, and also those in alsoMay. Within a row, a package may import its
// own sub-packages (transport imports transport/resolve). Every package's
// tests may also import the test-helper rows and, in an external test, the
// package under test. Standard-library packages are always allowed; other
// modules are allowed except in stdOnly rows.
type row struct {
	pkgs       []string
	stdOnly    bool     // non-test code imports only the standard library
	testHelper bool     // exists for tests; any package's tests may import it
	anything   bool     // may import any project package
	never      []string // above this row, but never to be imported from it
	neverWhy   string   // DESIGN.md's reason for never
	alsoMay    []string // below (or beside) this row, but importable all the same
}

var (
	// sipCore is the SIP stack proper: the wire format up to the
	// transaction-user API.
	sipCore = []string{"sip", "sip/digest", "sip/siptest", "transport", "transport/resolve", "transaction", "dialog", "stack"}
	// transactionUsers are the stack.Handlers and stack.Client users.
	transactionUsers = []string{"registrar", "proxy", "redirect", "ua", "trunk"}
	// services sit behind small interfaces with a conformance suite each.
	services = []string{"location", "auth", "subscriber"}
)

// table is DESIGN.md's table, top to bottom. Keep the two in step: a new
// package gets a row (or joins one) here, a new layer is agreed in DESIGN.md
// first.
var table = []row{
	{pkgs: []string{"sip", "sip/digest"}, stdOnly: true},
	{pkgs: []string{"sip/siptest"}, testHelper: true},
	{pkgs: []string{"transport", "transport/resolve"}},
	{pkgs: []string{"transaction"}},
	{pkgs: []string{"dialog"}},
	{pkgs: []string{"stack"}},
	{
		pkgs:     transactionUsers,
		never:    []string{"transport", "transport/resolve"},
		neverWhy: "transaction users never import transport directly; they are stack.Handlers or built on stack.Client",
		// DESIGN.md lists media, sdp and the services below the
		// transaction users, yet the users are what they serve: the UA
		// plays RTP audio and answers SDP offers; the registrar, proxy
		// and redirect server keep bindings in location and check
		// credentials with auth. Those rows in turn never import the
		// transaction users, so no cycle is allowed.
		alsoMay: slices.Concat([]string{"media", "sdp"}, services),
	},
	{
		pkgs:     []string{"media"},
		never:    slices.Concat(sipCore, transactionUsers),
		neverWhy: "media never imports SIP packages",
	},
	{
		pkgs:     []string{"sdp"},
		never:    transactionUsers,
		neverWhy: "transaction users import sdp, so sdp cannot import them",
	},
	// The SQLite opener the embedded stores share.
	{pkgs: []string{"internal/sqlitedb"}},
	{
		pkgs:     services,
		never:    transactionUsers,
		neverWhy: "location, auth and subscriber never import transaction users",
	},
	// The conformance suites every backend of a service passes.
	{pkgs: []string{"location/storetest", "subscriber/storetest"}, testHelper: true},
	{pkgs: []string{"config"}},
	{pkgs: []string{"admin"}},
	{pkgs: []string{"cmd/switchboard"}, anything: true},
	// Not part of the product: this package, whose test reads go list.
	{pkgs: []string{"internal/layering"}, stdOnly: true},
}

// A violation is an import the table does not allow, or (To == "") a
// package the table does not know.
type violation struct {
	From, To string // module-relative paths, or full paths outside the module
	Msg      string
}

func (v violation) String() string { return v.Msg }

// pkg is what check needs to know of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// layout indexes the table.
type layout struct {
	rowOf map[string]int // module-relative path → index into table
}

func newLayout(t []row) layout {
	l := layout{rowOf: make(map[string]int)}
	for i, r := range t {
		for _, p := range r.pkgs {
			l.rowOf[p] = i
		}
	}
	return l
}

// allowed reports whether from may import to (both module-relative and in
// the table) in non-test code.
func (l layout) allowed(t []row, from, to string) bool {
	fi, ti := l.rowOf[from], l.rowOf[to]
	r := t[fi]
	switch {
	case r.anything:
		return true
	case slices.Contains(r.never, to):
		return false
	case slices.Contains(r.alsoMay, to):
		return true
	case ti < fi:
		return true
	case ti == fi && strings.HasPrefix(to, from+"/"):
		return true
	}
	return false
}

// check returns every import in pkgs that table t does not allow. module is
// the module path; isStd says whether an import path is the standard
// library's.
func check(t []row, module string, pkgs []pkg, isStd func(string) bool) []violation {
	l := newLayout(t)
	rel := func(path string) (string, bool) {
		if path == module {
			return ".", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	var out []violation
	unknown := make(map[string]bool)
	noRow := func(p string) {
		if unknown[p] {
			return
		}
		unknown[p] = true
		out = append(out, violation{From: p, Msg: fmt.Sprintf(
			"package %s has no row in the layering table: add it to `table` in internal/layering/layering_test.go, "+
				"in the row DESIGN.md puts it in (agree a new layer in DESIGN.md first)", p)})
	}
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue // not ours
		}
		fi, known := l.rowOf[from]
		if !known {
			noRow(from)
			continue
		}
		r := t[fi]
		for _, imp := range p.Imports {
			if isStd(imp) {
				continue
			}
			to, ours := rel(imp)
			if r.stdOnly {
				out = append(out, violation{From: from, To: orFull(to, imp, ours), Msg: fmt.Sprintf(
					"%s imports %s: %s may import only the standard library (DESIGN.md: the wire package is a pure codec)",
					from, imp, from)})
				continue
			}
			if !ours {
				continue // another module; go.mod governs those
			}
			if _, known := l.rowOf[to]; !known {
				noRow(to)
				continue
			}
			if !l.allowed(t, from, to) {
				out = append(out, violation{From: from, To: to, Msg: why(t, l, from, to, "")})
			}
		}
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			to, ours := rel(imp)
			if !ours || isStd(imp) || to == from {
				continue // tests may use other modules; an external test imports its package
			}
			ti, known := l.rowOf[to]
			if !known {
				noRow(to)
				continue
			}
			if t[ti].testHelper || l.allowed(t, from, to) {
				continue
			}
			out = append(out, violation{From: from, To: to, Msg: why(t, l, from, to, "test of ")})
		}
	}
	return out
}

func orFull(rel, full string, ours bool) string {
	if ours {
		return rel
	}
	return full
}

// why explains a disallowed import from → to.
func why(t []row, l layout, from, to, prefix string) string {
	r := t[l.rowOf[from]]
	if slices.Contains(r.never, to) && r.neverWhy != "" {
		return fmt.Sprintf("%s%s imports %s: %s (DESIGN.md)", prefix, from, to, r.neverWhy)
	}
	return fmt.Sprintf("%s%s imports %s, which is not above it in DESIGN.md's layering table; "+
		"move the code, or change DESIGN.md and `table` in internal/layering/layering_test.go together",
		prefix, from, to)
}

// goList is what `go list -deps -test -json` says about the module.
type goList struct {
	module string
	pkgs   []pkg           // the module's own packages
	std    map[string]bool // every package seen → Standard
}

var listOnce = sync.OnceValues(func() (*goList, error) {
	out, err := goCmd(".", "list", "-m", "-f", "{{.Path}}\n{{.Dir}}")
	if err != nil {
		return nil, err
	}
	module, root, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if module == "" || root == "" {
		return nil, fmt.Errorf("go list -m printed %q; want the module path and directory", out)
	}
	out, err = goCmd(root, "list", "-deps", "-test",
		"-json=ImportPath,Standard,ForTest,Module,Imports,TestImports,XTestImports", "./...")
	if err != nil {
		return nil, err
	}
	gl := &goList{module: module, std: make(map[string]bool)}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			pkg
			Standard bool
			ForTest  string
			Module   *struct{ Main bool }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding go list output: %w", err)
		}
		// Skip test variants ("p [q.test]") and test mains ("p.test").
		if p.ForTest != "" || strings.Contains(p.ImportPath, " [") || strings.HasSuffix(p.ImportPath, ".test") {
			continue
		}
		gl.std[p.ImportPath] = p.Standard
		if p.Module != nil && p.Module.Main {
			gl.pkgs = append(gl.pkgs, p.pkg)
		}
	}
	return gl, nil
})

func goCmd(dir string, args ...string) ([]byte, error) {
	// go test puts $GOROOT/bin first on the PATH of the test binary.
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

func (gl *goList) isStd(path string) bool {
	if s, ok := gl.std[path]; ok {
		return s
	}
	return isStdName(path)
}

// isStdName guesses by name alone: standard-library paths have no dot in
// their first element.
func isStdName(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func listModule(t *testing.T) *goList {
	t.Helper()
	gl, err := listOnce()
	if err != nil {
		t.Fatal(err)
	}
	return gl
}

// TestImportDirection enforces DESIGN.md's table on every package of the
// module, test imports included.
func TestImportDirection(t *testing.T) {
	gl := listModule(t)
	if len(gl.pkgs) == 0 {
		t.Fatal("go list found no packages in the module")
	}
	for _, v := range check(table, gl.module, gl.pkgs, gl.isStd) {
		t.Error(v)
	}
}

// TestSIPImportsOnlyStandardLibrary says the first rule of the table on its
// own: sip imports the standard library and nothing else, ours or others'.
func TestSIPImportsOnlyStandardLibrary(t *testing.T) {
	gl := listModule(t)
	var found bool
	for _, p := range gl.pkgs {
		if p.ImportPath != gl.module+"/sip" {
			continue
		}
		found = true
		for _, imp := range p.Imports {
			if !gl.isStd(imp) {
				t.Errorf("sip imports %s; sip may import only the standard library", imp)
			}
		}
	}
	if !found {
		t.Fatalf("go list did not list %s/sip", gl.module)
	}
}

// TestCheckFindsViolations feeds check a made-up module with known faults, so
// that a check which quietly allows everything cannot pass.
func TestCheckFindsViolations(t *testing.T) {
	const m = "example.com/m"
	pkgs := []pkg{
		{ImportPath: m + "/sip", Imports: []string{"fmt", "net/netip", m + "/transport", "github.com/other/lib"},
			XTestImports: []string{"testing", m + "/sip", m + "/sip/siptest"}},
		{ImportPath: m + "/sip/siptest", Imports: []string{"testing", m + "/sip"}},
		{ImportPath: m + "/transport", Imports: []string{"net", m + "/sip", m + "/transport/resolve"}},
		{ImportPath: m + "/transport/resolve", Imports: []string{m + "/sip", "github.com/miekg/dns"}},
		{ImportPath: m + "/transaction", Imports: []string{m + "/transport", m + "/dialog"}},
		{ImportPath: m + "/dialog", Imports: []string{m + "/transaction"},
			TestImports:  []string{m + "/sip/siptest"},
			XTestImports: []string{m + "/dialog", m + "/stack"}},
		{ImportPath: m + "/stack", Imports: []string{m + "/dialog", m + "/transaction"}},
		{ImportPath: m + "/registrar", Imports: []string{m + "/stack", m + "/location", m + "/auth", m + "/transport"}},
		{ImportPath: m + "/ua", Imports: []string{m + "/stack", m + "/media", m + "/sdp", m + "/registrar"}},
		{ImportPath: m + "/media", Imports: []string{"github.com/pion/rtp", m + "/sip"}},
		{ImportPath: m + "/sdp", Imports: []string{"github.com/pion/sdp/v3", m + "/media"}},
		{ImportPath: m + "/location", Imports: []string{m + "/sip", m + "/proxy"}},
		{ImportPath: m + "/proxy", Imports: []string{m + "/stack"}},
		{ImportPath: m + "/admin", Imports: []string{m + "/location", m + "/config"}},
		{ImportPath: m + "/config", Imports: []string{m + "/admin"}},
		{ImportPath: m + "/cmd/switchboard", Imports: []string{m + "/admin", m + "/config", m + "/ua", m + "/transport", m + "/whatsit"}},
		{ImportPath: m + "/newthing", Imports: []string{m + "/sip"}},
		{ImportPath: "github.com/other/lib", Imports: []string{m + "/cmd/switchboard"}}, // not ours: ignored
	}
	got := check(table, m, pkgs, isStdName)
	var gotPairs []string
	for _, v := range got {
		if v.Msg == "" {
			t.Errorf("violation %s → %s has no message", v.From, v.To)
		}
		gotPairs = append(gotPairs, v.From+" → "+v.To)
	}
	want := []string{
		"sip → transport",            // sip imports only the standard library,
		"sip → github.com/other/lib", // not other modules either
		"transaction → dialog",       // dialog is below transaction
		"dialog → stack",             // in a test too
		"registrar → transport",      // transaction users never import transport
		"ua → registrar",             // same row is not above
		"media → sip",                // media never imports SIP packages
		"location → proxy",           // services never import transaction users
		"config → admin",             // admin is below config
		"whatsit → ",                 // imported by cmd/switchboard, has no row
		"newthing → ",                // has no row
	}
	sort.Strings(gotPairs)
	sort.Strings(want)
	if !slices.Equal(gotPairs, want) {
		t.Errorf("check found\n\t%s\nwant\n\t%s", strings.Join(gotPairs, "\n\t"), strings.Join(want, "\n\t"))
		for _, v := range got {
			t.Log(v)
		}
	}
}

// TestTableIsConsistent checks the table itself: each package in one row,
// every named package in some row, and no two packages allowed to import
// each other.
func TestTableIsConsistent(t *testing.T) {
	l := newLayout(table)
	seen := make(map[string]bool)
	for _, r := range table {
		for _, p := range r.pkgs {
			if seen[p] {
				t.Errorf("%s is in more than one row", p)
			}
			seen[p] = true
		}
		for _, p := range slices.Concat(r.never, r.alsoMay) {
			if _, ok := l.rowOf[p]; !ok {
				t.Errorf("row %v names %s, which has no row", r.pkgs, p)
			}
			if slices.Contains(r.never, p) && slices.Contains(r.alsoMay, p) {
				t.Errorf("row %v both forbids and allows %s", r.pkgs, p)
			}
		}
	}
	for a := range l.rowOf {
		for b := range l.rowOf {
			if a < b && l.allowed(table, a, b) && l.allowed(table, b, a) {
				if table[l.rowOf[a]].anything || table[l.rowOf[b]].anything {
					continue // only cmd/switchboard; nothing imports a command
				}
				t.Errorf("%s and %s may import each other", a, b)
			}
		}
	}
}
