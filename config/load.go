package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchboard-sip/switchboard/sip/digest"
)

// Load reads the YAML configuration file at path, takes what it omits from
// the defaults, makes its paths absolute, validates it and returns it with
// File set to path.
//
// With path "", Load reads DefaultFile from the working directory when it
// exists and otherwise returns Default() (File "").
//
// An unreadable file gives an error prefixed "config: ". A file with
// problems gives an Errors listing all of them with their lines; Load
// returns a nil Config with any error.
func Load(path string) (*Config, error) {
	if path == "" {
		if _, err := os.Stat(DefaultFile); errors.Is(err, fs.ErrNotExist) {
			return Default(), nil
		}
		path = DefaultFile
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a file already read: name is the file's name, used in
// error messages and to resolve relative paths (relative to
// filepath.Dir(name), which for a relative name is relative to the working
// directory). The returned Config has File set to name. Any error is an
// Errors.
func Parse(name string, data []byte) (*Config, error) {
	d := &decoder{file: name, lines: make(map[string]int), bad: make(map[string]bool)}
	c := defaults()
	c.File = name
	root, err := d.parseYAML(data)
	if err != nil {
		return nil, Errors{err}
	}
	if root != nil {
		d.decode("", root, reflect.ValueOf(c).Elem(), reflect.ValueOf(defaults()).Elem(), "")
	}
	dir := filepath.Dir(name)
	c.DataDir = resolvePath(dir, c.DataDir)
	c.TLS.Cert = resolvePath(dir, c.TLS.Cert)
	c.TLS.Key = resolvePath(dir, c.TLS.Key)

	ck := &checker{file: name, lines: d.lines, bad: d.bad}
	ck.check(c)
	errs := append(d.errs, ck.errs...)
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int {
			return cmp.Compare(lineOrLast(a.Line), lineOrLast(b.Line))
		})
		return nil, errs
	}
	c.normalize()
	return c, nil
}

// lineOrLast sorts errors without a line after the others.
func lineOrLast(line int) int {
	if line <= 0 {
		return math.MaxInt
	}
	return line
}

// resolvePath makes p, written in a file in dir, absolute; "" stays "".
func resolvePath(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return absPath(p)
}

// absPath returns p made absolute against the working directory, or p when
// the working directory is unknown.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// normalize puts a valid Config's values in the forms the fields document.
func (c *Config) normalize() {
	for _, l := range []*[]string{&c.Listen.UDP, &c.Listen.TCP, &c.Listen.TLS, &c.Listen.WS, &c.Listen.WSS} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	var domains []string
	for _, d := range c.Domains {
		d = normalizeDomain(d)
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	c.Domains = domains
	var algs []digest.Algorithm
	for _, a := range c.Auth.Algorithms {
		a, _ = digest.ParseAlgorithm(string(a))
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	c.Auth.Algorithms = algs
	var redirect []string
	for _, d := range c.Proxy.Redirect {
		d = normalizeDomain(d)
		if !slices.Contains(redirect, d) {
			redirect = append(redirect, d)
		}
	}
	c.Proxy.Redirect = redirect
	if len(c.Proxy.Trusted) == 0 {
		c.Proxy.Trusted = nil
	}
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
}

// A decoder fills a Config from a yaml.Node tree, field by field, so that
// each problem is reported with its line and the decoding goes on.
type decoder struct {
	file  string
	lines map[string]int  // field path → line of its key (or list entry)
	bad   map[string]bool // field paths that could not be decoded
	errs  Errors
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.bad[path] = true
}

// parseYAML returns the top node of the file's only document, or nil for
// an empty file.
func (d *decoder) parseYAML(data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, d.syntaxError(data, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &Error{File: d.file, Line: next.Line, Msg: "a second YAML document; keep the whole configuration in one document (remove the ---)"}
	} else if err != io.EOF {
		return nil, d.syntaxError(data, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// syntaxError turns the YAML parser's "yaml: line N: problem" into an Error
// on line N.
func (d *decoder) syntaxError(data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	hint := "check the indentation and the quoting around here"
	if strings.HasPrefix(msg, "did not find expected") {
		// The parser's line is where the construct it was reading began,
		// often the line before the mistake.
		hint = "check the indentation and the quoting of this line and the next"
	}
	if strings.Contains(msg, "tab") || line > 0 && strings.Contains(lineOf(data, line), "\t") {
		hint = "indent with spaces, not tabs"
	}
	return &Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg + "; " + hint}
}

// lineOf returns the 1-based line n of data, or "".
func lineOf(data []byte, n int) string {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if i+1 == n {
			return string(l)
		}
	}
	return ""
}

// decode stores node n into v, the field at path; def is the field's
// default and unit its unit tag, for messages. A null node leaves v as it
// is.
func (d *decoder) decode(path string, n *yaml.Node, v, def reflect.Value, unit string) {
	n = deref(n)
	if isNull(n) {
		return
	}
	switch {
	case v.Type() == reflect.TypeFor[Duration]():
		d.duration(path, n, v, def)
	case v.Kind() == reflect.Struct:
		d.mapping(path, n, v, def)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		// []string, or a slice of a string type such as []digest.Algorithm
		d.list(path, n, v)
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n.Line, path, "want a single value, not %s", show(n))
			return
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Int:
		d.integer(path, n, v, def, unit)
	case v.Kind() == reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.errorf(n.Line, path, "%s is not true or false; write true or false", show(n))
			return
		}
		v.SetBool(b)
	default:
		panic("config: field " + path + " has a type the decoder does not handle: " + v.Type().String())
	}
}

// deref follows aliases (*name) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// show describes n for a message: a scalar as written (quoted when it is a
// string), a collection by its kind.
func show(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.ShortTag() == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// A field is a YAML key of a struct.
type field struct {
	key   string
	index int
}

// fieldsOf returns t's YAML keys in declaration order.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		fs = append(fs, field{key, i})
	}
	return fs
}

func keysOf(fs []field) []string {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) mapping(path string, n *yaml.Node, v, def reflect.Value) {
	fields := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		if path == "" {
			d.errorf(n.Line, "", "the file holds %s; write a mapping of keys such as %s", show(n), strings.Join(keysOf(fields), ", "))
			return
		}
		d.errorf(n.Line, path, "want a mapping of %s, not %s", strings.Join(keysOf(fields), ", "), show(n))
		return
	}
	if v.Type() == reflect.TypeFor[Listen]() {
		// A listen section replaces the default listeners.
		v.SetZero()
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "a key that is %s; keys are plain names such as %s", show(k), fields[0].key)
			continue
		}
		p := join(path, k.Value)
		if k.Value == "<<" {
			d.errorf(k.Line, p, "merge keys are not supported; write the keys out")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, p, "set twice (first on line %d); remove one", first)
			continue
		}
		seen[k.Value] = k.Line
		j := slices.IndexFunc(fields, func(f field) bool { return f.key == k.Value })
		if j < 0 {
			d.errorf(k.Line, p, "unknown field; %s", suggest(path, k.Value, keysOf(fields)))
			continue
		}
		d.lines[p] = k.Line
		f := fields[j]
		d.decode(p, val, v.Field(f.index), def.Field(f.index), v.Type().Field(f.index).Tag.Get("unit"))
	}
}

func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		if n.Kind == yaml.ScalarNode {
			d.errorf(n.Line, path, "want a list, not the single value %s; write [%s] or put each entry on its own line after \"- \"", show(n), n.Value)
		} else {
			d.errorf(n.Line, path, "want a list, not %s", show(n))
		}
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		e = deref(e)
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = e.Line
		switch {
		case isNull(e):
			d.errorf(e.Line, p, "empty entry; fill it in or remove it")
		case e.Kind != yaml.ScalarNode:
			d.errorf(e.Line, p, "want a single value, not %s", show(e))
		}
		// Keep bad entries in place so that indices match the file.
		out.Index(i).SetString(e.Value)
	}
	v.Set(out)
}

func (d *decoder) integer(path string, n *yaml.Node, v, def reflect.Value, unitTag string) {
	unit := "a whole number"
	if unitTag != "" {
		unit = "a number of " + unitTag
	}
	example := strconv.FormatInt(def.Int(), 10)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "want %s such as %s, not %s", unit, example, show(n))
		return
	}
	var i int
	if n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		if n.Value != "" && strings.Trim(n.Value, "+-0123456789_") == "" {
			d.errorf(n.Line, path, "%s is too large; write %s such as %s", n.Value, unit, example)
		} else {
			d.errorf(n.Line, path, "%s is not %s; write a whole number such as %s", show(n), unit, example)
		}
		return
	}
	v.SetInt(int64(i))
}

func (d *decoder) duration(path string, n *yaml.Node, v, def reflect.Value) {
	example := Duration(def.Int()).String()
	switch {
	case n.Kind != yaml.ScalarNode:
		d.errorf(n.Line, path, "want a duration such as %s, not %s", example, show(n))
		return
	case n.ShortTag() == "!!int":
		d.errorf(n.Line, path, "%s has no unit; write %ss for seconds, or a duration such as %s", n.Value, n.Value, example)
		return
	}
	t, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n.Line, path, "%s is not a duration; write one such as %s or 300s", show(n), example)
		return
	}
	v.SetInt(int64(t))
}

// suggest says what an unknown key in the mapping at path may have meant:
// the closest of the mapping's keys, else the closest key of another
// section, else the list of the keys allowed here.
func suggest(path, key string, keys []string) string {
	if k, ok := closest(key, keys); ok {
		return "did you mean " + join(path, k) + "?"
	}
	var all []string
	allPaths("", reflect.TypeFor[Config](), &all)
	best, bestD := "", -1
	for _, p := range all {
		name := p[strings.LastIndex(p, ".")+1:]
		dist := distance(normalizeKey(key), normalizeKey(name))
		if near(dist, name) && (bestD < 0 || dist < bestD) {
			best, bestD = p, dist
		}
	}
	if best != "" {
		return "did you mean " + best + "?"
	}
	// A key written short or long: lifetime for nonce_lifetime.
	var within []string
	for _, k := range keys {
		nk, nc := normalizeKey(key), normalizeKey(k)
		if len(nk) >= 4 && strings.Contains(nc, nk) || len(nc) >= 4 && strings.Contains(nk, nc) {
			within = append(within, k)
		}
	}
	if len(within) == 1 {
		return "did you mean " + join(path, within[0]) + "?"
	}
	where := "here"
	if path != "" {
		where = "under " + path
	}
	return "the fields " + where + " are " + strings.Join(keys, ", ")
}

// allPaths appends the path of every key of t, sections and leaves.
func allPaths(path string, t reflect.Type, out *[]string) {
	for _, f := range fieldsOf(t) {
		p := join(path, f.key)
		*out = append(*out, p)
		if ft := t.Field(f.index).Type; ft.Kind() == reflect.Struct {
			allPaths(p, ft, out)
		}
	}
}

// closest returns the candidate nearest to key in edit distance, ignoring
// case and treating "-" as "_", when it is near enough to be a likely typo.
func closest(key string, candidates []string) (string, bool) {
	nk := normalizeKey(key)
	best, bestD := "", -1
	for _, c := range candidates {
		if dist := distance(nk, normalizeKey(c)); bestD < 0 || dist < bestD {
			best, bestD = c, dist
		}
	}
	if bestD < 0 || !near(bestD, best) {
		return "", false
	}
	return best, true
}

// near reports whether a key at edit distance dist from name is likely a
// typo of it.
func near(dist int, name string) bool {
	return dist <= max(1, len(name)/3)
}

func normalizeKey(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}

// distance is the edit distance between a and b in bytes, counting a
// swap of two neighbouring bytes as one edit (optimal string alignment).
func distance(a, b string) int {
	// rows[i%3] holds the distances from a[:i] to each prefix of b.
	var rows [3][]int
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur, prev, prev2 := rows[i%3], rows[(i-1)%3], rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
	}
	return rows[len(a)%3][len(b)]
}
