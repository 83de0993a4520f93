package sip

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tortureKey holds the values a valid torture message must parse to.
type tortureKey struct {
	target  string // Request-URI as written (requests)
	status  int    // status code (responses)
	branch  string // top Via branch
	callID  string
	cseq    CSeq
	bodyLen int
}

// tortureCase is what each element owes one message of RFC 4475 / RFC 5118.
type tortureCase struct {
	uas, proxy, registrar string // verdicts: "ok", "drop" or a status code
	unsupported           string // Unsupported header of a 420 (uas; proxy in proxyUnsupported)
	key                   *tortureKey
	check                 func(t *testing.T, m *Message)
}

// tortureUAS is a user agent that takes SDP, plain text and multipart bodies
// and answers INVITEs with SDP.
var tortureUAS = Policy{
	Role:     RoleUAS,
	Accept:   []string{"application/sdp", "text/plain", "multipart/mixed"},
	Produces: []string{"application/sdp"},
}

const longBranch = "verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongbranchvalue"

// tortureCases names, for every file in INDEX.tsv, the verdict of a UAS, a
// proxy and a registrar (RFC 4475 §3, RFC 5118 §4) and, for the valid ones,
// the values the stack reads from them.
var tortureCases = map[string]tortureCase{
	// RFC 4475 §3.1.1: valid messages.
	"rfc4475/wsinv.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:vivekg@chair-dnrc.example.com;unknownparam",
		branch: "390skdjuw", callID: "wsinv.ndaksdj@192.0.2.1", cseq: CSeq{9, "INVITE"}, bodyLen: 150},
		check: func(t *testing.T, m *Message) {
			mf, err := m.MaxForwards()
			if err != nil || mf != 68 {
				t.Errorf("Max-Forwards = %d, %v; want 68", mf, err)
			}
			to, _ := m.To()
			if to.Tag() != "1918181833n" {
				t.Errorf("To tag = %q", to.Tag())
			}
			from, _ := m.From()
			if from.Display != `J Rosenberg \"` || from.Tag() != "98asjd8" {
				t.Errorf("From = %q tag %q", from.Display, from.Tag())
			}
			var vias []string
			for v, err := range m.Vias() {
				if err != nil {
					t.Fatal(err)
				}
				vias = append(vias, v.Transport+" "+v.Host+" "+v.Branch())
			}
			if want := []string{"UDP 192.0.2.2 390skdjuw", "TCP spindle.example.com z9hG4bK9ikj8", "UDP 192.168.255.111 z9hG4bK30239"}; strings.Join(vias, "|") != strings.Join(want, "|") {
				t.Errorf("Vias = %q, want %q", vias, want)
			}
			if got := m.Get("NewFangledHeader"); got != "newfangled value\r\n continued newfangled value" {
				t.Errorf("unknown folded header kept as %q", got)
			}
			for c, err := range m.Contacts() {
				if err != nil || c.Display != `Quoted string ""` || c.Params.Value("q") != "0.33" {
					t.Errorf("Contact = %+v, %v", c, err)
				}
			}
		}},
	"rfc4475/intmeth.dat": {uas: "501", proxy: "ok", key: &tortureKey{
		target: "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
		branch: "z9hG4bK-.!%66*_+`'~", callID: "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
		cseq: CSeq{139122385, "!interesting-Method0123456789_*+`.%indeed'~"}},
		check: func(t *testing.T, m *Message) {
			if m.RequestURI.User != "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*" || m.RequestURI.Password != "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)" {
				t.Errorf("user %q password %q", m.RequestURI.User, m.RequestURI.Password)
			}
			to, _ := m.To()
			if to.Display != "BEL:\x07 NUL:\x00 DEL:\x7f" {
				t.Errorf("To display = %q", to.Display)
			}
		}},
	"rfc4475/esc01.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:sips%3Auser%40example.com@example.net",
		branch: "z9hG4bKkdjuw", callID: "esc01.239409asdfakjkn23onasd0-3234", cseq: CSeq{234234, "INVITE"}, bodyLen: 150},
		check: func(t *testing.T, m *Message) {
			if got := Unescape(m.RequestURI.User); got != "sips:user@example.com" {
				t.Errorf("unescaped user = %q", got)
			}
		}},
	"rfc4475/escnull.dat": {uas: "ok", proxy: "ok", registrar: "ok", key: &tortureKey{target: "sip:example.com",
		branch: "z9hG4bKkdjuw", callID: "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd", cseq: CSeq{14398234, "REGISTER"}},
		check: func(t *testing.T, m *Message) {
			var users []string
			for c, err := range m.Contacts() {
				if err != nil {
					t.Fatal(err)
				}
				users = append(users, Unescape(c.URI.User))
			}
			if len(users) != 2 || users[0] != "\x00" || users[1] != "\x00\x00" {
				t.Errorf("contact users = %q; want two distinct NUL users", users)
			}
		}},
	"rfc4475/esc02.dat": {uas: "501", proxy: "ok", key: &tortureKey{target: "sip:registrar.example.com",
		branch: "z9hG4bK209%fzsnel234", callID: "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf", cseq: CSeq{29344, "RE%47IST%45R"}},
		check: func(t *testing.T, m *Message) {
			n := 0
			for range m.Contacts() {
				n++
			}
			if n != 2 || !m.Has("C%6Fntact") {
				t.Errorf("want two Contact values and an unknown C%%6Fntact header, got %d", n)
			}
		}},
	"rfc4475/lwsdisp.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@example.com",
		branch: "z9hG4bKkdjuw", callID: "lwsdisp.1234abcd@funky.example.com", cseq: CSeq{60, "OPTIONS"}},
		check: func(t *testing.T, m *Message) {
			from, _ := m.From()
			if from.Display != "caller" || from.URI.User != "caller" {
				t.Errorf("From = %+v", from)
			}
		}},
	"rfc4475/longreq.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@example.com",
		branch: "", callID: "longreq.one" + strings.Repeat("really", 20) + "longcallid", cseq: CSeq{3882340, "INVITE"}, bodyLen: 150},
		check: func(t *testing.T, m *Message) {
			n, long := 0, false
			for v, err := range m.Vias() {
				if err != nil {
					t.Fatal(err)
				}
				n++
				long = long || v.Branch() == longBranch
			}
			if n != 34 || !long {
				t.Errorf("Via count = %d, want 34; long branch found: %v", n, long)
			}
		}},
	"rfc4475/dblreq.dat": {uas: "ok", proxy: "ok", registrar: "ok", key: &tortureKey{target: "sip:example.com",
		branch: "z9hG4bKkdjuw23492", callID: "dblreq.0ha0isndaksdj99sdfafnl3lk233412", cseq: CSeq{8, "REGISTER"}, bodyLen: 0},
		check: func(t *testing.T, m *Message) {
			if out := m.String(); strings.Contains(out, "INVITE") {
				t.Errorf("trailing octets forwarded:\n%s", out)
			}
		}},
	"rfc4475/semiuri.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user;par=u%40example.net@example.com",
		branch: "z9hG4bKkdjuw", callID: "semiuri.0ha0isndaksdj", cseq: CSeq{8, "OPTIONS"}},
		check: func(t *testing.T, m *Message) {
			if m.RequestURI.User != "user;par=u%40example.net" || m.RequestURI.Params != "" || m.RequestURI.Host != "example.com" {
				t.Errorf("Request-URI = %+v", m.RequestURI)
			}
		}},
	"rfc4475/transports.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@example.com",
		branch: "z9hG4bKkdjuw", callID: "transports.kijh4akdnaqjkwendsasfdj", cseq: CSeq{60, "OPTIONS"}},
		check: func(t *testing.T, m *Message) {
			var tr []string
			for v := range m.Vias() {
				tr = append(tr, v.Transport)
			}
			if strings.Join(tr, ",") != "UDP,SCTP,TLS,UNKNOWN,TCP" {
				t.Errorf("transports = %v", tr)
			}
		}},
	"rfc4475/mpart01.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:kumiko@example.org",
		branch: "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-", callID: "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..", cseq: CSeq{1, "MESSAGE"}, bodyLen: 553},
		check: func(t *testing.T, m *Message) {
			if bytes.Count(m.Body, []byte{0}) != 2 {
				t.Errorf("binary body lost its NUL bytes")
			}
		}},
	"rfc4475/unreason.dat": {uas: "ok", proxy: "ok", key: &tortureKey{status: 200,
		branch: "z9hG4bK1324923", callID: "unreason.1234ksdfak3j2erwedfsASdf", cseq: CSeq{35, "INVITE"}, bodyLen: 154},
		check: func(t *testing.T, m *Message) {
			if m.Reason != "= 2**3 * 5**2 но сто девяносто девять - простое" {
				t.Errorf("reason = %q", m.Reason)
			}
		}},
	"rfc4475/noreason.dat": {uas: "ok", proxy: "ok", key: &tortureKey{status: 100,
		branch: "z9hG4bK2398ndaoe", callID: "noreason.asndj203insdf99223ndf", cseq: CSeq{35, "INVITE"}},
		check: func(t *testing.T, m *Message) {
			if m.Reason != "" {
				t.Errorf("reason = %q", m.Reason)
			}
		}},

	// RFC 4475 §3.1.2: invalid messages.
	"rfc4475/badinv01.dat":   {uas: "400", proxy: "400"},
	"rfc4475/clerr.dat":      {uas: "400", proxy: "400"},
	"rfc4475/ncl.dat":        {uas: "400", proxy: "400"},
	"rfc4475/scalar02.dat":   {uas: "400", proxy: "400", registrar: "400"},
	"rfc4475/scalarlg.dat":   {uas: "drop", proxy: "drop"},
	"rfc4475/quotbal.dat":    {uas: "400", proxy: "400"},
	"rfc4475/ltgtruri.dat":   {uas: "400", proxy: "400"},
	"rfc4475/lwsruri.dat":    {uas: "400", proxy: "400"},
	"rfc4475/lwsstart.dat":   {uas: "400", proxy: "400"},
	"rfc4475/trws.dat":       {uas: "400", proxy: "400"},
	"rfc4475/escruri.dat":    {uas: "400", proxy: "400"},
	"rfc4475/baddate.dat":    {uas: "400", proxy: "400"},
	"rfc4475/regbadct.dat":   {uas: "400", proxy: "400", registrar: "400"},
	"rfc4475/badaspec.dat":   {uas: "400", proxy: "400"},
	"rfc4475/baddn.dat":      {uas: "400", proxy: "400"},
	"rfc4475/badvers.dat":    {uas: "505", proxy: "505"},
	"rfc4475/mismatch01.dat": {uas: "400", proxy: "400"},
	"rfc4475/mismatch02.dat": {uas: "501", proxy: "400"},
	"rfc4475/bigcode.dat":    {uas: "drop", proxy: "drop"},

	// RFC 4475 §3.2-§3.4.
	"rfc4475/badbranch.dat": {uas: "400", proxy: "400"},
	"rfc4475/insuf.dat":     {uas: "400", proxy: "400"},
	"rfc4475/unkscm.dat":    {uas: "416", proxy: "416"},
	"rfc4475/novelsc.dat":   {uas: "416", proxy: "416"},
	"rfc4475/unksm2.dat":    {uas: "ok", proxy: "ok", registrar: "400"},
	"rfc4475/bext01.dat":    {uas: "420", proxy: "420", unsupported: "nothingSupportsThis, nothingSupportsThisEither"},
	"rfc4475/invut.dat":     {uas: "415", proxy: "ok"},
	"rfc4475/regaut01.dat":  {uas: "ok", proxy: "ok", registrar: "ok"},
	"rfc4475/multi01.dat":   {uas: "400", proxy: "400"},
	"rfc4475/mcl01.dat":     {uas: "400", proxy: "400"},
	"rfc4475/bcast.dat":     {uas: "drop", proxy: "drop"},
	"rfc4475/zeromf.dat":    {uas: "ok", proxy: "483"},
	"rfc4475/cparam01.dat": {uas: "ok", proxy: "ok", registrar: "ok", check: func(t *testing.T, m *Message) {
		for c := range m.Contacts() {
			if !c.Params.Has("unknownparam") || c.URI.Params != "" {
				t.Errorf("unknownparam must be a contact param: %+v", c)
			}
		}
	}},
	"rfc4475/cparam02.dat": {uas: "ok", proxy: "ok", registrar: "ok", check: func(t *testing.T, m *Message) {
		for c := range m.Contacts() {
			if !c.URI.Params.Has("unknownparam") || c.Params.Has("unknownparam") {
				t.Errorf("unknownparam must be a URI param: %+v", c)
			}
		}
	}},
	"rfc4475/regescrt.dat": {uas: "ok", proxy: "ok", registrar: "ok", check: func(t *testing.T, m *Message) {
		for c := range m.Contacts() {
			if c.URI.Headers != "Route=%3Csip:sip.example.com%3E" {
				t.Errorf("escaped Route header = %q", c.URI.Headers)
			}
		}
	}},
	"rfc4475/sdp01.dat": {uas: "406", proxy: "ok"},
	"rfc4475/inv2543.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:UserB@example.com",
		callID: "inv2543.1717@ift.client.example.com", cseq: CSeq{56, "INVITE"}, bodyLen: 105}},
	// No Via at all: no response could be routed back (RFC 3261 §18.2.2),
	// so it is dropped rather than answered with the 400 INDEX.tsv allows.
	"rfc4475/test.dat": {uas: "drop", proxy: "drop"},

	// RFC 5118 §4.
	"rfc5118/ipv6-good.dat": {uas: "ok", proxy: "ok", registrar: "ok", key: &tortureKey{target: "sip:[2001:db8::10]",
		branch: "z9hG4bKas3-111", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{98176, "REGISTER"}},
		check: wantHost("[2001:db8::10]", 0, "2001:db8::10")},
	"rfc5118/ipv6-bad.dat": {uas: "400", proxy: "400", registrar: "400"},
	"rfc5118/port-ambiguous.dat": {uas: "ok", proxy: "ok", registrar: "ok", key: &tortureKey{target: "sip:[2001:db8::10:5070]",
		branch: "z9hG4bKas3-111", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{98176, "REGISTER"}},
		check: wantHost("[2001:db8::10:5070]", 0, "2001:db8::10:5070")},
	"rfc5118/port-unambiguous.dat": {uas: "ok", proxy: "ok", registrar: "ok", key: &tortureKey{target: "sip:[2001:db8::10]:5070",
		branch: "z9hG4bKas3-111", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{98176, "REGISTER"}},
		check: wantHost("[2001:db8::10]", 5070, "2001:db8::10")},
	"rfc5118/via-received-param-with-delim.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:[2001:db8::10]",
		branch: "z9hG4bKas3-111", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{321, "BYE"}},
		check: wantReceived("2001:db8::9:255")},
	"rfc5118/via-received-param-no-delim.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:[2001:db8::10]",
		branch: "z9hG4bKas3", callID: "SSG95523997077@hlau_4100", cseq: CSeq{921, "OPTIONS"}},
		check: wantReceived("2001:db8::9:255")},
	"rfc5118/ipv6-in-sdp.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@[2001:db8::10]",
		branch: "z9hG4bKas3-111", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{8612, "INVITE"}, bodyLen: 251}},
	"rfc5118/mult-ip-in-header.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@host.example.net",
		branch: "z9hG4bKas3-111", callID: "997077@lau_4100", cseq: CSeq{89187, "BYE"}},
		check: func(t *testing.T, m *Message) {
			var hosts []string
			for v, err := range m.Vias() {
				if err != nil {
					t.Fatal(err)
				}
				hosts = append(hosts, v.Host+"|"+v.Params.Value("received"))
			}
			if len(hosts) != 3 || hosts[0] != "[2001:db8::9:1]|" || hosts[2] != "[2001:db8::9:255]|192.0.2.200" {
				t.Errorf("Via hosts = %q", hosts)
			}
		}},
	"rfc5118/mult-ip-in-sdp.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@[2001:db8::10]",
		branch: "z9hG4bKas3-111", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{8912, "INVITE"}, bodyLen: 189}},
	"rfc5118/ipv4-mapped-ipv6.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@example.com",
		branch: "z9hG4bKbh19", callID: "SSG9559905523997077@hlau_4100", cseq: CSeq{612, "INVITE"}, bodyLen: 245},
		check: func(t *testing.T, m *Message) {
			v, _ := m.Via()
			if a, ok := HostAddr(v.Host); !ok || !a.Is6() || !a.Unmap().Is4() {
				t.Errorf("Via host %q is not an IPv4-mapped IPv6 address", v.Host)
			}
		}},
	"rfc5118/ipv6-bug-abnf-3-colons.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@[2001:db8:::192.0.2.1]",
		branch: "z9hG4bKas3-111", callID: "G9559905523997077@hlau_4100", cseq: CSeq{689, "OPTIONS"}},
		check: wantHost("[2001:db8:::192.0.2.1]", 0, "2001:db8::c000:201")},
	"rfc5118/ipv6-correct-abnf-2-colons.dat": {uas: "ok", proxy: "ok", key: &tortureKey{target: "sip:user@[2001:db8::192.0.2.1]",
		branch: "z9hG4bKas3-111", callID: "G9559905523997077@hlau_4100", cseq: CSeq{689, "OPTIONS"}},
		check: wantHost("[2001:db8::192.0.2.1]", 0, "2001:db8::c000:201")},
}

func wantHost(host string, port int, addr string) func(*testing.T, *Message) {
	return func(t *testing.T, m *Message) {
		u := m.RequestURI
		a, ok := HostAddr(u.Host)
		if u.Host != host || u.Port != port || !ok || a.String() != addr {
			t.Errorf("Request-URI host %q port %d addr %v; want %q %d %s", u.Host, u.Port, a, host, port, addr)
		}
	}
}

func wantReceived(addr string) func(*testing.T, *Message) {
	return func(t *testing.T, m *Message) {
		v, _ := m.Via()
		a, ok := HostAddr(v.Params.Value("received"))
		if !ok || a.String() != addr || v.Branch() == "" {
			t.Errorf("received = %q (%v), branch %q; want %s", v.Params.Value("received"), a, v.Branch(), addr)
		}
	}
}

type indexRow struct {
	file, verdict, expected, wire string
}

func readIndex(t *testing.T) []indexRow {
	t.Helper()
	f, err := os.Open("testdata/INDEX.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []indexRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 12 {
			t.Fatalf("INDEX.tsv: short row %q", sc.Text())
		}
		rows = append(rows, indexRow{file: c[0], verdict: c[5], expected: c[6], wire: c[8]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestTortureCorpusIntact checks that testdata holds the corpus byte for byte.
func TestTortureCorpusIntact(t *testing.T) {
	sums, err := os.ReadFile("testdata/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(sums)) {
		want, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s: sha256 mismatch; the file was altered (line endings?)", name)
		}
		n++
	}
	if n < 62 {
		t.Errorf("SHA256SUMS covers %d files, want at least 62", n)
	}
}

// TestTorture runs every RFC 4475 and RFC 5118 message of INDEX.tsv through
// Parse and Check in each role.
func TestTorture(t *testing.T) {
	rows := readIndex(t)
	if len(rows) != 62 {
		t.Fatalf("INDEX.tsv has %d messages, want 62", len(rows))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		seen[row.file] = true
		tc, ok := tortureCases[row.file]
		if !ok {
			t.Errorf("%s: no expectation in tortureCases", row.file)
			continue
		}
		t.Run(strings.TrimSuffix(row.file, ".dat"), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", row.wire))
			if err != nil {
				t.Fatal(err)
			}
			// The verdict class in INDEX.tsv bounds what the table may say.
			switch row.verdict {
			case "valid":
				if tc.proxy != "ok" && tc.uas != "ok" {
					t.Fatalf("table contradicts INDEX: valid message rejected by every role")
				}
			case "invalid":
				if tc.uas == "ok" || tc.proxy == "ok" {
					t.Fatalf("table contradicts INDEX: invalid message accepted")
				}
			}
			for _, code := range []string{tc.uas, tc.proxy, tc.registrar} {
				if code != "" && code != "ok" && code != "drop" && !strings.Contains(row.expected, code) {
					t.Fatalf("table says %s but INDEX expects %q", code, row.expected)
				}
			}
			m, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			roles := []struct {
				name, want string
				p          Policy
			}{{"uas", tc.uas, tortureUAS}, {"proxy", tc.proxy, Policy{Role: RoleProxy}}, {"registrar", tc.registrar, Policy{Role: RoleRegistrar}}}
			for _, r := range roles {
				if r.want == "" {
					continue
				}
				v := r.p.Check(m)
				got := "ok"
				switch {
				case v.Drop:
					got = "drop"
				case v.Code != 0:
					got = string(appendUint(nil, uint64(v.Code)))
				}
				if got != r.want {
					t.Errorf("%s verdict = %s (%v); want %s", r.name, got, v.Err, r.want)
					continue
				}
				if v.Code != 0 {
					checkRejection(t, m, v, r.name, tc)
				}
			}
			if tc.key != nil {
				checkKey(t, m, tc.key)
				checkRoundTrip(t, m)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
	for f := range tortureCases {
		if !seen[f] {
			t.Errorf("tortureCases has %s, which INDEX.tsv does not list", f)
		}
	}
}

// checkRejection builds the response a verdict calls for and checks it is a
// well-formed answer to m.
func checkRejection(t *testing.T, m *Message, v Verdict, role string, tc tortureCase) {
	t.Helper()
	res := v.Response(m)
	wire := res.Bytes()
	back, err := Parse(wire)
	if err != nil {
		t.Fatalf("%s: response does not parse: %v\n%s", role, err, wire)
	}
	if back.StatusCode != v.Code || back.CallID() != m.CallID() {
		t.Errorf("%s: response %d Call-ID %q", role, back.StatusCode, back.CallID())
	}
	switch v.Code {
	case 420:
		want := tc.unsupported
		if role == "proxy" {
			want = "noProxiesSupportThis, norDoAnyProxiesSupportThis"
		}
		if got := back.Get("Unsupported"); got != want {
			t.Errorf("%s: Unsupported = %q, want %q", role, got, want)
		}
	case 501:
		if !back.Has("Allow") {
			t.Errorf("%s: 501 without Allow", role)
		}
	case 415:
		if !back.Has("Accept") {
			t.Errorf("%s: 415 without Accept", role)
		}
	}
}

func checkKey(t *testing.T, m *Message, k *tortureKey) {
	t.Helper()
	if k.status != 0 {
		if m.StatusCode != k.status {
			t.Errorf("status = %d, want %d", m.StatusCode, k.status)
		}
	} else if got := m.RequestTarget(); got != k.target {
		t.Errorf("Request-URI = %q, want %q", got, k.target)
	}
	v, err := m.Via()
	if err != nil || v.Branch() != k.branch {
		t.Errorf("branch = %q (%v), want %q", v.Branch(), err, k.branch)
	}
	if got := m.CallID(); got != k.callID {
		t.Errorf("Call-ID = %q, want %q", got, k.callID)
	}
	if c, err := m.CSeq(); err != nil || c != k.cseq {
		t.Errorf("CSeq = %+v (%v), want %+v", c, err, k.cseq)
	}
	if len(m.Body) != k.bodyLen {
		t.Errorf("body length = %d, want %d", len(m.Body), k.bodyLen)
	}
}

// checkRoundTrip: Parse → AppendTo → Parse gives the same message.
func checkRoundTrip(t *testing.T, m *Message) {
	t.Helper()
	wire := m.Bytes()
	if len(wire) != m.MarshalSize() {
		t.Errorf("MarshalSize %d, wrote %d", m.MarshalSize(), len(wire))
	}
	back, err := Parse(wire)
	if err != nil {
		t.Fatalf("re-Parse: %v\n%s", err, wire)
	}
	if diff := compareMessages(m, back); diff != "" {
		t.Errorf("round trip changed the message: %s\n%s", diff, wire)
	}
}
