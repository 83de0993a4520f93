package sip

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Message {
	t.Helper()
	m, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

const simpleInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" +
	"Record-Route: <sip:p1.example.com;lr>\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Timestamp: 54\r\n" +
	"Contact: <sip:alice@pc33.atlanta.example.com>\r\n" +
	"Content-Length: 0\r\n\r\n"

// TestKindOf: every known name, its compact form and any letter case map to
// the same header.
func TestKindOf(t *testing.T) {
	for k := hkind(hAccept); k < numKinds; k++ {
		n := canonicalNames[k]
		for _, v := range []string{n, strings.ToLower(n), strings.ToUpper(n)} {
			if got := kindOf(v); got != k {
				t.Errorf("kindOf(%q) = %v, want %v", v, got, k)
			}
		}
	}
	compact := map[string]string{"i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
		"c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "o": "Event",
		"r": "Refer-To", "b": "Referred-By", "u": "Allow-Events", "x": "Session-Expires", "y": "Identity",
		"a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition"}
	for short, long := range compact {
		if got := CanonicalName(short); got != long {
			t.Errorf("CanonicalName(%q) = %q, want %q", short, got, long)
		}
		if got := CanonicalName(strings.ToUpper(short)); got != long {
			t.Errorf("CanonicalName(%q) = %q, want %q", strings.ToUpper(short), got, long)
		}
	}
	for _, other := range []string{"X-Custom", "g", "Via-X", "Fromm", "Contact_", ""} {
		if got := CanonicalName(other); got != other {
			t.Errorf("CanonicalName(%q) = %q, want it unchanged", other, got)
		}
	}
}

// TestNewResponse follows RFC 3261 §8.2.6.
func TestNewResponse(t *testing.T) {
	req := mustParse(t, simpleInvite)
	ringing := NewResponse(req, 180, "")
	ok := NewResponse(req, 200, "")
	trying := NewResponse(req, 100, "")
	for _, res := range []*Message{ringing, ok, trying} {
		if res.CallID() != req.CallID() || res.Get("Via") != req.Get("Via") || res.Get("From") != req.Get("From") || res.Get("CSeq") != req.Get("CSeq") {
			t.Errorf("%d: Via/From/Call-ID/CSeq not copied:\n%s", res.StatusCode, res)
		}
		if res.Has("Contact") || res.Has("Max-Forwards") {
			t.Errorf("%d: copied a header it should not have", res.StatusCode)
		}
	}
	to1, _ := ringing.To()
	to2, _ := ok.To()
	if to1.Tag() == "" || to1.Tag() != to2.Tag() {
		t.Errorf("To tags %q and %q: want one non-empty tag for the whole transaction", to1.Tag(), to2.Tag())
	}
	if to, _ := trying.To(); to.Tag() != "" {
		t.Errorf("100 Trying carries a To tag %q", to.Tag())
	}
	if trying.Get("Timestamp") != "54" || ok.Has("Timestamp") {
		t.Errorf("Timestamp belongs in 100 only (§8.2.6.1)")
	}
	if !ok.Has("Record-Route") || NewResponse(req, 486, "").Has("Record-Route") {
		t.Errorf("Record-Route belongs in dialog-creating responses only (§12.1.1)")
	}
	if ok.Reason != "OK" || NewResponse(req, 486, "Busy Here, Really").Reason != "Busy Here, Really" {
		t.Errorf("reason phrases wrong")
	}
	// A request from another transaction gets another tag.
	other := mustParse(t, strings.Replace(simpleInvite, "z9hG4bK776asdhds", "z9hG4bK999", 1))
	if to3, _ := NewResponse(other, 200, "").To(); to3.Tag() == to1.Tag() {
		t.Errorf("different requests got the same To tag")
	}
	// An existing To tag is kept.
	inDialog := mustParse(t, strings.Replace(simpleInvite, "To: Bob <sip:bob@biloxi.example.com>", "To: Bob <sip:bob@biloxi.example.com>;tag=abc", 1))
	if got := NewResponse(inDialog, 200, "").Get("To"); got != "Bob <sip:bob@biloxi.example.com>;tag=abc" {
		t.Errorf("To = %q", got)
	}
	back := mustParse(t, ok.String())
	if v := (&Policy{}).Check(back); !v.OK() {
		t.Errorf("built response fails validation: %v", v.Err)
	}
}

func TestHeaderEditing(t *testing.T) {
	m := mustParse(t, simpleInvite)
	m.Prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1")
	if v, _ := m.Via(); v.Host != "proxy.example.com" {
		t.Errorf("Prepend: top Via host = %q", v.Host)
	}
	m.Set("max-forwards", "69")
	if mf, _ := m.MaxForwards(); mf != 69 || m.Get("Max-Forwards") != "69" {
		t.Errorf("Set: Max-Forwards = %d", mf)
	}
	m.Del("v")
	if m.Has("Via") {
		t.Errorf("Del(\"v\") left a Via")
	}
	c := m.Clone()
	c.Set("Call-ID", "changed")
	c.Body = append(c.Body, 'x')
	if m.CallID() == "changed" || len(m.Body) != 0 {
		t.Errorf("Clone shares state with the original")
	}
}

// TestRemoveFirst: the first value of a list header goes, whether it is a
// line of its own or the first item of a comma-separated line.
func TestRemoveFirst(t *testing.T) {
	m := mustParse(t, simpleInvite)
	m.Del("Via")
	m.Add("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2")
	m.Add("Via", "SIP/2.0/UDP c.example.com;branch=z9hG4bK3")
	m.Add("Route", `<sip:p1.example.com;lr>, "x,y" <sip:p2.example.com;lr>`)
	for _, want := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		got, ok := m.RemoveFirst("v")
		if !ok || !strings.Contains(got, want) {
			t.Fatalf("RemoveFirst(Via) = %q, %v; want the Via of %s", got, ok, want)
		}
	}
	if _, ok := m.RemoveFirst("Via"); ok || m.Has("Via") {
		t.Error("RemoveFirst found a fourth Via")
	}
	if got, _ := m.RemoveFirst("Route"); got != "<sip:p1.example.com;lr>" {
		t.Errorf("first Route %q", got)
	}
	if got := m.Get("Route"); got != `"x,y" <sip:p2.example.com;lr>` {
		t.Errorf("remaining Route %q: the comma in the quoted name split it", got)
	}
}

// TestListValues: header lines and commas are equivalent (RFC 3261 §7.3.1),
// commas in quotes and <> are not separators.
func TestListValues(t *testing.T) {
	m := mustParse(t, "OPTIONS sip:a@b SIP/2.0\r\n"+
		"Supported: timer, 100rel\r\nk: path\r\n"+
		"Contact: \"Doe, John\" <sip:j,1@h;x=2>, <sip:k@h>;q=0.5\r\n"+
		"m: sip:l@h\r\n\r\n")
	if got := slices.Collect(m.Values("Supported")); !slices.Equal(got, []string{"timer", "100rel", "path"}) {
		t.Errorf("Supported values = %q", got)
	}
	var users []string
	for c, err := range m.Contacts() {
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, c.Display+"|"+c.URI.User)
	}
	if want := []string{"Doe, John|j,1", "|k", "|l"}; !slices.Equal(users, want) {
		t.Errorf("contacts = %q, want %q", users, want)
	}
}

// TestParseFraming covers leading CRLFs (§7.5), folded lines (§7.3.1) and
// bare-LF line ends.
func TestParseFraming(t *testing.T) {
	m := mustParse(t, "\r\n\r\nOPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\n ;branch=z9hG4bK1\nSubject: a\n\tb\n\n")
	if m.Method != "OPTIONS" {
		t.Fatalf("method %q", m.Method)
	}
	if v, err := m.Via(); err != nil || v.Branch() != "z9hG4bK1" {
		t.Errorf("folded Via: %+v %v", v, err)
	}
	if got := m.Get("s"); got != "a\n\tb" {
		t.Errorf("folded Subject kept as %q", got)
	}
	for _, bad := range []string{"", "\r\n\r\n", "hello", "<html>\r\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

// TestRegressionNamelessHeaderLine: a header line ":" (found by FuzzParse)
// once serialized as an empty line and ended the header section early.
func TestRegressionNamelessHeaderLine(t *testing.T) {
	m := mustParse(t, "0 A:0\n:")
	wire := m.String()
	if !strings.Contains(wire, "\r\n:\r\n") {
		t.Errorf("nameless line not written back as it came: %q", wire)
	}
	back := mustParse(t, wire)
	if back.Defect() == nil || len(back.Body) != 0 {
		t.Errorf("re-parse: defect %v, body %q", back.Defect(), back.Body)
	}
	// No Via: nothing to route an answer to.
	if v := (&Policy{}).Check(back); !v.Drop {
		t.Errorf("verdict %v, want drop", v)
	}
}

// TestValidatorResponses covers verdicts the torture corpus does not.
func TestValidatorResponses(t *testing.T) {
	uas := Policy{Extensions: []string{"100rel"}}
	cases := []struct {
		name, edit, from, want string
		p                      Policy
	}{
		{"ok", "", "", "ok", uas},
		{"supported Require", "Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: 100rel", "ok", uas},
		{"missing Via", "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n", "", "drop", uas},
		{"unusable Via", "SIP/2.0/UDP pc33", "SIP/2.0/UDP <pc33>", "drop", uas},
		{"missing CSeq", "CSeq: 314159 INVITE\r\n", "", "400", uas},
		{"two Call-IDs", "Max-Forwards: 70", "Max-Forwards: 70\r\nCall-ID: x", "400", uas},
		{"Max-Forwards 256", "Max-Forwards: 70", "Max-Forwards: 256", "400", uas},
		{"bad Expires", "Max-Forwards: 70", "Max-Forwards: 70\r\nExpires: soon", "400", uas},
		{"empty Via value", "Max-Forwards: 70", "Max-Forwards: 70\r\nVia: ", "400", uas},
		{"Contact * outside REGISTER", "Contact: <sip:alice@pc33.atlanta.example.com>", "Contact: *", "400", uas},
		{"Contact q above 1", "pc33.atlanta.example.com>", "pc33.atlanta.example.com>;q=1.5", "400", uas},
		{"Contact q 0.755", "pc33.atlanta.example.com>", "pc33.atlanta.example.com>;q=0.755", "ok", uas},
		{"bad Content-Type", "Max-Forwards: 70", "Max-Forwards: 70\r\nContent-Type: sdp", "400", uas},
		{"SIP/3.0", "SIP/2.0\r\nVia", "SIP/3.0\r\nVia", "505", uas},
		{"proxy Max-Forwards 0", "Max-Forwards: 70", "Max-Forwards: 0", "483", Policy{Role: RoleProxy}},
		{"UAS Max-Forwards 0", "Max-Forwards: 70", "Max-Forwards: 0", "ok", uas},
		{"sips only", "", "", "416", Policy{Schemes: []string{"sips"}}},
		{"method not in list", "", "", "501", Policy{Methods: []string{"OPTIONS"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := simpleInvite
			if c.edit != "" {
				s = strings.Replace(s, c.edit, c.from, 1)
			}
			m := mustParse(t, s)
			if got := c.p.Check(m); verdictCode(got) != c.want {
				t.Errorf("verdict %v (%v), want %s", got, got.Err, c.want)
			}
		})
	}
	// Require is not applied to ACK and CANCEL (§8.2.2.3).
	for _, method := range []string{"ACK", "CANCEL"} {
		m := mustParse(t, strings.NewReplacer("INVITE sip", method+" sip", "314159 INVITE", "314159 "+method, "Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: foo").Replace(simpleInvite))
		if v := uas.Check(m); !v.OK() {
			t.Errorf("%s with unknown Require: %v", method, v)
		}
	}
	if v := uas.Check(mustParse(t, strings.Replace(simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: foo", 1))); v.Code != 420 {
		t.Errorf("INVITE with unknown Require: %v", v)
	}
	// An ACK that fails is dropped, never answered (§17.1.1.3).
	ack := mustParse(t, strings.NewReplacer("INVITE sip", "ACK sip", "314159 INVITE", "314159 ACK", "Max-Forwards: 70", "Max-Forwards: x").Replace(simpleInvite))
	if v := uas.Check(ack); !v.Drop {
		t.Errorf("bad ACK: verdict %v, want drop", v)
	}
}

func verdictCode(v Verdict) string {
	switch {
	case v.Drop:
		return "drop"
	case v.Code == 0:
		return "ok"
	}
	return string(appendUint(nil, uint64(v.Code)))
}

// TestValidatorEdgeCases covers verdicts a review of the validator found
// wrong: control characters, empty Accept, 32-bit CSeq, token68
// credentials, large expiry values and the wildcard Contact rules.
func TestValidatorEdgeCases(t *testing.T) {
	uas := Policy{}
	registrar := Policy{Role: RoleRegistrar}
	register := strings.NewReplacer("INVITE sip:bob@biloxi.example.com", "REGISTER sip:biloxi.example.com",
		"314159 INVITE", "314159 REGISTER").Replace(simpleInvite)
	cases := []struct {
		name, base, edit, to, want string
		p                          Policy
	}{
		{"bare CR in a value", simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nSubject: x\rContent-Length: 500", "400", uas},
		{"NUL in a value", simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nSubject: x\x00y", "400", uas},
		{"NUL in a quoted-pair", simpleInvite, "To: Bob", "To: \"B\\\x00b\"", "ok", uas},
		{"folded value", simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nSubject: a\r\n b", "ok", uas},
		{"empty Accept", simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nAccept:", "ok", uas},
		{"CSeq 2^32-1", simpleInvite, "314159 INVITE", "4294967295 INVITE", "ok", uas},
		{"CSeq 2^32", simpleInvite, "314159 INVITE", "4294967296 INVITE", "400", uas},
		{"Bearer credentials", simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", "ok", uas},
		{"huge Contact expires", simpleInvite, "pc33.atlanta.example.com>", "pc33.atlanta.example.com>;expires=4294967296", "ok", uas},
		{"huge Expires", simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nExpires: 99999999999", "ok", uas},
		{"Contact * in INVITE", simpleInvite, "Contact: <sip:alice@pc33.atlanta.example.com>", "Contact: *", "400", uas},
		{"Contact * after another", register, "Max-Forwards: 70", "Max-Forwards: 70\r\nExpires: 0\r\nContact: *", "400", registrar},
		{"Contact * without Expires 0", register, "Contact: <sip:alice@pc33.atlanta.example.com>", "Contact: *\r\nExpires: 3600", "400", registrar},
		{"Contact * with Expires 0", register, "Contact: <sip:alice@pc33.atlanta.example.com>", "Contact: *\r\nExpires: 0", "ok", registrar},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mustParse(t, strings.Replace(c.base, c.edit, c.to, 1))
			if got := c.p.Check(m); verdictCode(got) != c.want {
				t.Errorf("verdict %v (%v), want %s", got, got.Err, c.want)
			}
		})
	}
	m := mustParse(t, strings.Replace(simpleInvite, "Max-Forwards: 70", "Max-Forwards: 70\r\nExpires: 99999999999", 1))
	if e, err := m.Expires(); err != nil || e != 1<<32-1 {
		t.Errorf("Expires() = %d, %v; want it clamped to 2^32-1", e, err)
	}
}

// TestResponseTags: To tags differ between requests (CSeq included), stay
// the same for one request, and a malformed To never gets a second tag;
// REFER's 2xx carries Record-Route.
func TestResponseTags(t *testing.T) {
	a := mustParse(t, simpleInvite)
	b := mustParse(t, strings.Replace(simpleInvite, "314159 INVITE", "314160 INVITE", 1))
	ta, _ := NewResponse(a, 200, "").To()
	ta2, _ := NewResponse(a, 486, "").To()
	tb, _ := NewResponse(b, 200, "").To()
	if ta.Tag() != ta2.Tag() || ta.Tag() == tb.Tag() || len(ta.Tag()) != 16 {
		t.Errorf("tags %q %q %q", ta.Tag(), ta2.Tag(), tb.Tag())
	}
	bad := mustParse(t, strings.Replace(simpleInvite, "To: Bob <sip:bob@biloxi.example.com>", "To: <sip:bob@biloxi.example.com>;tag=abc;x=", 1))
	if got := NewResponse(bad, 400, "").Get("To"); strings.Count(got, "tag=") != 1 {
		t.Errorf("malformed To got another tag: %q", got)
	}
	refer := mustParse(t, strings.NewReplacer("INVITE sip", "REFER sip", "314159 INVITE", "314159 REFER").Replace(simpleInvite))
	if !NewResponse(refer, 202, "").Has("Record-Route") {
		t.Error("202 to REFER lacks Record-Route")
	}
}

// TestResponseTagInputs: the To tag follows each part of the transaction
// identity, and a To that has a tag keeps it (a display name that merely
// contains ";tag=" does not count).
func TestResponseTagInputs(t *testing.T) {
	base := mustParse(t, simpleInvite)
	tag := func(m *Message) string {
		to, err := NewResponse(m, 200, "").To()
		if err != nil {
			t.Fatal(err)
		}
		return to.Tag()
	}
	want := tag(base)
	for _, c := range []struct{ old, new string }{
		{"Call-ID: a84b4c76e66710", "Call-ID: a84b4c76e66711"},
		{";tag=1928301774", ";tag=1928301775"},
		{"branch=z9hG4bK776asdhds", "branch=z9hG4bK776asdhdt"},
		{"pc33.atlanta.example.com", "pc34.atlanta.example.com"},
	} {
		if !strings.Contains(simpleInvite, c.old) {
			t.Fatalf("test message lacks %q", c.old)
		}
		if got := tag(mustParse(t, strings.Replace(simpleInvite, c.old, c.new, 1))); got == want {
			t.Errorf("changing %q to %q kept the tag %q", c.old, c.new, got)
		}
	}
	for _, to := range []string{
		`To: "x;tag=y" <sip:bob@biloxi.example.com>`,
		`To: sip:bob@biloxi.example.com;user=phone`,
	} {
		m := mustParse(t, strings.Replace(simpleInvite, "To: Bob <sip:bob@biloxi.example.com>", to, 1))
		if got := NewResponse(m, 200, "").Get("To"); !strings.HasSuffix(got, ";tag="+tag(m)) || len(tag(m)) != 16 {
			t.Errorf("%s: response To %q", to, got)
		}
	}
	m := mustParse(t, strings.Replace(simpleInvite, "To: Bob <sip:bob@biloxi.example.com>", `To: "a;tag=b" <sip:bob@biloxi.example.com>;tag=kept`, 1))
	if got := NewResponse(m, 200, "").Get("To"); strings.Count(got, "tag=") != 2 || !strings.HasSuffix(got, ";tag=kept") {
		t.Errorf("To with a tag: %q", got)
	}
}

// TestStreamFoldedContentLength: HCOLON allows folding before the value.
func TestStreamFoldedContentLength(t *testing.T) {
	msg := strings.Replace(simpleInvite, "Content-Length: 0\r\n\r\n", "Content-Length:\r\n 3\r\n\r\nabc", 1)
	m, err := NewStreamReader(strings.NewReader(msg)).ReadMessage()
	if err != nil || string(m.Body) != "abc" {
		t.Fatalf("folded Content-Length over a stream: %v", err)
	}
}

// TestCheckOutgoing: values that would split into extra headers or a
// second message are refused before they reach the wire.
func TestCheckOutgoing(t *testing.T) {
	base := func() *Message {
		u, _ := ParseURI("sip:bob@example.com")
		return NewRequest("INVITE", u, Address{URI: u, Params: "tag=1"}, Address{URI: u}, "cid", 1)
	}
	if err := CheckOutgoing(base()); err != nil {
		t.Fatalf("a plain request refused: %v", err)
	}
	if err := CheckOutgoing(NewResponse(mustParse(t, simpleInvite), 200, "")); err != nil {
		t.Fatalf("a plain response refused: %v", err)
	}
	bad := []func(m *Message){
		func(m *Message) { m.Add("Subject", "hi\r\nContact: <sip:evil@x>") },
		func(m *Message) { m.Add("Subject", "end\r\n") },
		func(m *Message) { m.Add("X-A:B", "v") },
		func(m *Message) { m.Method = "INVITE sip:x SIP/2.0\r\nX:" },
		func(m *Message) { m.RequestURI.Host = "b.com x" },
		func(m *Message) { m.Headers = append(m.Headers, Header{}) },
		func(m *Message) {
			a := Address{Display: "Eve\r\nX-Injected: 1", URI: m.RequestURI}
			m.Set("From", a.String())
		},
	}
	for i, f := range bad {
		m := base()
		f(m)
		if err := CheckOutgoing(m); err == nil {
			t.Errorf("case %d accepted:\n%q", i, m.String())
		}
	}
	res := NewResponse(mustParse(t, simpleInvite), 200, "OK\r\nX-Evil: 1")
	if CheckOutgoing(res) == nil {
		t.Error("a reason phrase with CRLF accepted")
	}
}
