package sip

import (
	"errors"
	"net/netip"
	"testing"
)

// RFC vectors for ParseURI, URI.String and URI.Equal: RFC 3261 §19.1
// (examples of §19.1.3, forms of §19.1.1 and §19.1.2, comparison of §19.1.4),
// RFC 5118 (IPv6 references) and RFC 3966 (tel URIs).

type uriRFCCase struct {
	name string
	in   string
	want URI
	// params that must be present with the given value ("" for a bare name)
	params map[string]string
	// absent parameters (for instance a ';' inside the user part)
	noParams []string
	// addr, when set, is the IP address HostAddr must read from Host
	addr string
}

var uriRFCValid = []uriRFCCase{
	// RFC 3261 §19.1.3, every example in order.
	{name: "3261-19.1.3 plain", in: "sip:alice@atlanta.com",
		want: URI{Scheme: "sip", User: "alice", Host: "atlanta.com"}},
	{name: "3261-19.1.3 password transport", in: "sip:alice:secretword@atlanta.com;transport=tcp",
		want:   URI{Scheme: "sip", User: "alice", Password: "secretword", Host: "atlanta.com", Params: "transport=tcp"},
		params: map[string]string{"transport": "tcp", "TRANSPORT": "tcp"}},
	{name: "3261-19.1.3 sips headers", in: "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
		want: URI{Scheme: "sips", User: "alice", Host: "atlanta.com", Headers: "subject=project%20x&priority=urgent"}},
	{name: "3261-19.1.3 telephone-subscriber with password", in: "sip:+1-212-555-1212:1234@gateway.com;user=phone",
		want:   URI{Scheme: "sip", User: "+1-212-555-1212", Password: "1234", Host: "gateway.com", Params: "user=phone"},
		params: map[string]string{"user": "phone"}},
	{name: "3261-19.1.3 sips numeric user", in: "sips:1212@gateway.com",
		want: URI{Scheme: "sips", User: "1212", Host: "gateway.com"}},
	{name: "3261-19.1.3 IPv4 host", in: "sip:alice@192.0.2.4",
		want: URI{Scheme: "sip", User: "alice", Host: "192.0.2.4"}, addr: "192.0.2.4"},
	{name: "3261-19.1.3 no user, method and escaped header", in: "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
		want:   URI{Scheme: "sip", Host: "atlanta.com", Params: "method=REGISTER", Headers: "to=alice%40atlanta.com"},
		params: map[string]string{"method": "REGISTER"}},
	{name: "3261-19.1.3 semicolon in user", in: "sip:alice;day=tuesday@atlanta.com",
		want:     URI{Scheme: "sip", User: "alice;day=tuesday", Host: "atlanta.com"},
		noParams: []string{"day"}},

	// RFC 3261 §19.1.1 and §19.1.4 forms.
	{name: "3261-19.1.1 maddr ttl", in: "sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15",
		want:   URI{Scheme: "sip", User: "alice", Host: "atlanta.com", Params: "maddr=239.255.255.1;ttl=15"},
		params: map[string]string{"maddr": "239.255.255.1", "ttl": "15"}},
	{name: "3261-19.1.2 escaped @ in user", in: "sip:j%40s0n@example.com",
		want: URI{Scheme: "sip", User: "j%40s0n", Host: "example.com"}},
	{name: "3261-19.1.4 escaped unreserved, mixed-case param", in: "sip:%61lice@atlanta.com;transport=TCP",
		want:   URI{Scheme: "sip", User: "%61lice", Host: "atlanta.com", Params: "transport=TCP"},
		params: map[string]string{"transport": "TCP"}},
	{name: "3261-19.1.4 upper-case scheme and user", in: "SIP:ALICE@AtLanTa.CoM;Transport=udp",
		want:   URI{Scheme: "SIP", User: "ALICE", Host: "AtLanTa.CoM", Params: "Transport=udp"},
		params: map[string]string{"transport": "udp"}},
	{name: "3261-19.1.4 explicit port", in: "sip:bob@biloxi.com:5060",
		want: URI{Scheme: "sip", User: "bob", Host: "biloxi.com", Port: 5060}},
	{name: "3261-19.1.4 port and transport", in: "sip:bob@biloxi.com:6000;transport=tcp",
		want:   URI{Scheme: "sip", User: "bob", Host: "biloxi.com", Port: 6000, Params: "transport=tcp"},
		params: map[string]string{"transport": "tcp"}},
	{name: "3261-19.1.4 header value with colon", in: "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
		want:   URI{Scheme: "sip", Host: "biloxi.com", Params: "transport=tcp;method=REGISTER", Headers: "to=sip:bob%40biloxi.com"},
		params: map[string]string{"transport": "tcp", "method": "REGISTER"}},
	{name: "3261-19.1.4 extension params", in: "sip:carol@chicago.com;newparam=5;security=on",
		want:   URI{Scheme: "sip", User: "carol", Host: "chicago.com", Params: "newparam=5;security=on"},
		params: map[string]string{"newparam": "5", "security": "on"}},
	{name: "3261-16.12 lr flag", in: "sip:server10.biloxi.com;lr",
		want:   URI{Scheme: "sip", Host: "server10.biloxi.com", Params: "lr"},
		params: map[string]string{"lr": ""}},
	{name: "3261-25.1 sips port 5061", in: "sips:alice@atlanta.com:5061",
		want: URI{Scheme: "sips", User: "alice", Host: "atlanta.com", Port: 5061}},
	{name: "3261-25.1 max port", in: "sip:alice@atlanta.com:65535",
		want: URI{Scheme: "sip", User: "alice", Host: "atlanta.com", Port: 65535}},
	{name: "3261-25.1 fully qualified hostname with trailing dot", in: "sip:alice@atlanta.com.",
		want: URI{Scheme: "sip", User: "alice", Host: "atlanta.com."}},
	{name: "3261-25.1 user-unreserved characters", in: "sip:a&b=c+d$e,f;g?h/i@atlanta.com",
		want: URI{Scheme: "sip", User: "a&b=c+d$e,f;g?h/i", Host: "atlanta.com"}},
	{name: "3261-25.1 password characters and escape", in: "sip:alice:p%40ss&=+$,w@atlanta.com",
		want: URI{Scheme: "sip", User: "alice", Password: "p%40ss&=+$,w", Host: "atlanta.com"}},
	{name: "3261-25.1 paramchar and escapes in params", in: "sip:alice@atlanta.com;x=[a]/b:c&d+e$f;y=a%20b",
		want:   URI{Scheme: "sip", User: "alice", Host: "atlanta.com", Params: "x=[a]/b:c&d+e$f;y=a%20b"},
		params: map[string]string{"x": "[a]/b:c&d+e$f", "y": "a%20b"}},
	{name: "3261-25.1 empty hvalue and body header", in: "sip:alice@atlanta.com?subject=&body=hello%20world",
		want: URI{Scheme: "sip", User: "alice", Host: "atlanta.com", Headers: "subject=&body=hello%20world"}},
	{name: "4475-3.1.1.3 escaped reserved in user", in: "sip:sips%3Auser%40example.com@example.net",
		want: URI{Scheme: "sip", User: "sips%3Auser%40example.com", Host: "example.net"}},

	// IPv6 references (RFC 3261 §25.1 IPv6reference, RFC 5118).
	{name: "5118-4.1 IPv6 host only", in: "sip:[2001:db8::10]",
		want: URI{Scheme: "sip", Host: "[2001:db8::10]"}, addr: "2001:db8::10"},
	{name: "5118-4.1 IPv6 with user", in: "sip:caller@[2001:db8::1]",
		want: URI{Scheme: "sip", User: "caller", Host: "[2001:db8::1]"}, addr: "2001:db8::1"},
	{name: "5118-4.3 port inside brackets is part of the address", in: "sip:[2001:db8::10:5070]",
		want: URI{Scheme: "sip", Host: "[2001:db8::10:5070]"}, addr: "2001:db8::10:5070"},
	{name: "5118-4.4 port after brackets", in: "sip:[2001:db8::10]:5070",
		want: URI{Scheme: "sip", Host: "[2001:db8::10]", Port: 5070}, addr: "2001:db8::10"},
	{name: "5118-4.9 IPv4-mapped", in: "sip:ted@[::ffff:192.0.2.2]",
		want: URI{Scheme: "sip", User: "ted", Host: "[::ffff:192.0.2.2]"}, addr: "::ffff:192.0.2.2"},
	{name: "5118-4.10 three colons tolerated", in: "sip:user@[2001:db8:::192.0.2.1]",
		want: URI{Scheme: "sip", User: "user", Host: "[2001:db8:::192.0.2.1]"}, addr: "2001:db8::c000:201"},
	{name: "5118-4.10 two colons", in: "sip:user@[2001:db8::192.0.2.1]",
		want: URI{Scheme: "sip", User: "user", Host: "[2001:db8::192.0.2.1]"}, addr: "2001:db8::c000:201"},
	{name: "3261-25.1 three colons with only an IPv4 tail", in: "sip:[:::192.0.2.1]",
		want: URI{Scheme: "sip", Host: "[:::192.0.2.1]"}, addr: "::c000:201"},
	{name: "3261-25.1 sips IPv6 port params", in: "sips:bob@[2001:db8::9:1]:5061;transport=tcp",
		want:   URI{Scheme: "sips", User: "bob", Host: "[2001:db8::9:1]", Port: 5061, Params: "transport=tcp"},
		params: map[string]string{"transport": "tcp"}, addr: "2001:db8::9:1"},

	// RFC 3966 §6 and §11 tel URIs.
	{name: "3966-6 global number", in: "tel:+1-201-555-0123",
		want: URI{Scheme: "tel", User: "+1-201-555-0123"}},
	{name: "3966-6 local number, domain context", in: "tel:7042;phone-context=example.com",
		want:   URI{Scheme: "tel", User: "7042", Params: "phone-context=example.com"},
		params: map[string]string{"phone-context": "example.com"}},
	{name: "3966-6 local number, global-digits context", in: "tel:863-1234;phone-context=+1-914-555",
		want:   URI{Scheme: "tel", User: "863-1234", Params: "phone-context=+1-914-555"},
		params: map[string]string{"phone-context": "+1-914-555"}},
	{name: "3966-11 local number, munich", in: "tel:1234;phone-context=munich.example.com",
		want:   URI{Scheme: "tel", User: "1234", Params: "phone-context=munich.example.com"},
		params: map[string]string{"phone-context": "munich.example.com"}},
	{name: "3966-3 extension and isub", in: "tel:+1-201-555-0123;ext=1234;isub=abc",
		want:   URI{Scheme: "tel", User: "+1-201-555-0123", Params: "ext=1234;isub=abc"},
		params: map[string]string{"ext": "1234", "isub": "abc"}},
	{name: "3966-3 visual separators and * #", in: "tel:*31#(2)1.2;phone-context=example.com",
		want:   URI{Scheme: "tel", User: "*31#(2)1.2", Params: "phone-context=example.com"},
		params: map[string]string{"phone-context": "example.com"}},

	// Other schemes are kept opaque (RFC 3261 §25.1 absoluteURI).
	{name: "3261-20.10 mailto", in: "mailto:watson@bell-telephone.com",
		want: URI{Scheme: "mailto", Opaque: "watson@bell-telephone.com"}},
	{name: "3261-20.9 http", in: "http://www.example.com/alice/photo.jpg",
		want: URI{Scheme: "http", Opaque: "//www.example.com/alice/photo.jpg"}},
}

func TestURIRFCExamples(t *testing.T) {
	for _, tc := range uriRFCValid {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURI(tc.in)
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tc.in, err)
			}
			if u != tc.want {
				t.Fatalf("ParseURI(%q)\n got %#v\nwant %#v", tc.in, u, tc.want)
			}
			for name, want := range tc.params {
				got, ok := u.Params.Get(name)
				if !ok || got != want {
					t.Errorf("Params.Get(%q) = %q, %v; want %q, true", name, got, ok, want)
				}
			}
			for _, name := range tc.noParams {
				if u.Params.Has(name) {
					t.Errorf("parameter %q must not be present", name)
				}
			}
			if s := u.String(); s != tc.in {
				t.Errorf("String() = %q, want %q", s, tc.in)
			}
			if !u.Equal(&u) {
				t.Errorf("%q does not equal itself", tc.in)
			}
			a, ok := HostAddr(u.Host)
			if tc.addr == "" {
				if ok && !u.IsTel() && u.Opaque == "" && tc.want.Host != "" {
					t.Errorf("HostAddr(%q) = %v, want a domain name", u.Host, a)
				}
			} else if want := netip.MustParseAddr(tc.addr); !ok || a != want {
				t.Errorf("HostAddr(%q) = %v, %v; want %v", u.Host, a, ok, want)
			}
		})
	}
}

func TestURIRFCSchemePredicates(t *testing.T) {
	for _, tc := range []struct {
		in                  string
		sip, secure, tel, z bool
	}{
		{"sip:alice@atlanta.com", true, false, false, false},
		{"SIPS:alice@atlanta.com", true, true, false, false},
		{"tel:+1-201-555-0123", false, false, true, false},
		{"mailto:watson@bell-telephone.com", false, false, false, false},
	} {
		u, err := ParseURI(tc.in)
		if err != nil {
			t.Fatalf("ParseURI(%q): %v", tc.in, err)
		}
		if u.IsSIP() != tc.sip || u.IsSecure() != tc.secure || u.IsTel() != tc.tel || u.IsZero() != tc.z {
			t.Errorf("%q: IsSIP %v IsSecure %v IsTel %v IsZero %v", tc.in, u.IsSIP(), u.IsSecure(), u.IsTel(), u.IsZero())
		}
	}
	var zero URI
	if !zero.IsZero() {
		t.Error("zero URI: IsZero false")
	}
}

// RFC 3261 §19.1.2: fields are kept escaped; Unescape decodes them.
func TestURIRFCUnescape(t *testing.T) {
	u, err := ParseURI("sips:alice@atlanta.com?subject=project%20x&priority=urgent")
	if err != nil {
		t.Fatal(err)
	}
	if got := Unescape(u.Headers); got != "subject=project x&priority=urgent" {
		t.Errorf("Unescape(headers) = %q", got)
	}
	u, err = ParseURI("sip:j%40s0n@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := Unescape(u.User); got != "j@s0n" {
		t.Errorf("Unescape(user) = %q, want %q", got, "j@s0n")
	}
	if got := Unescape("%61lice%3bday"); got != "alice;day" {
		t.Errorf("Unescape = %q", got)
	}
}

var uriRFCInvalid = []struct{ name, in string }{
	// missing parts
	{"empty", ""},
	{"no scheme", "alice@atlanta.com"},
	{"empty scheme", ":alice@atlanta.com"},
	{"scheme starts with digit", "1sip:alice@atlanta.com"},
	{"scheme only", "sip:"},
	{"missing host after @", "sip:alice@"},
	{"missing host before port", "sip:alice@:5060"},
	{"missing host before params", "sip:;transport=tcp"},
	{"empty user", "sip:@atlanta.com"},
	{"second @", "sip:alice@atlanta.com@biloxi.com"},
	// ports
	{"empty port", "sip:alice@atlanta.com:"},
	{"non-numeric port", "sip:alice@atlanta.com:abc"},
	{"port with trailing letters", "sip:alice@atlanta.com:5060abc"},
	{"negative port", "sip:alice@atlanta.com:-1"},
	{"port 65536", "sip:alice@atlanta.com:65536"},
	{"port overflow", "sip:alice@atlanta.com:99999999999999999999999"},
	{"IPv6 empty port", "sip:[2001:db8::10]:"},
	// %-escapes (RFC 3261 §25.1 escaped = "%" HEXDIG HEXDIG)
	{"bad escape in user", "sip:al%2ice@atlanta.com"},
	{"truncated escape in user", "sip:alice%4@atlanta.com"},
	{"lone percent in user", "sip:%@atlanta.com"},
	{"bad escape in password", "sip:alice:pa%zzss@atlanta.com"},
	{"truncated escape in password", "sip:alice:pass%@atlanta.com"},
	{"bad escape in param", "sip:alice@atlanta.com;x=%G1"},
	{"truncated escape in param", "sip:alice@atlanta.com;x=%4"},
	{"truncated escape in header", "sip:alice@atlanta.com?subject=%2"},
	{"escape in host", "sip:alice@atl%61nta.com"},
	// IPv6 (RFC 5118 §4.2)
	{"5118-4.2 IPv6 without brackets", "sip:2001:db8::10"},
	{"IPv6 without brackets after user", "sip:user@2001:db8::10"},
	{"unclosed IPv6 reference", "sip:[2001:db8::10"},
	{"bad IPv6 digits", "sip:[2001:db8::g]"},
	{"IPv4 in brackets", "sip:[192.0.2.1]"},
	{"IPv6 zone", "sips:[fe80::1%25eth0]"},
	{"three colons without IPv4 tail", "sip:[2001:db8:::10]"},
	{"four colons before IPv4", "sip:[2001:db8::::192.0.2.1]"},
	// white space and delimiters
	{"space in user", "sip:alice smith@atlanta.com"},
	{"space before @", "sip:alice @atlanta.com"},
	{"space in host", "sip:alice@atlanta .com"},
	{"space after ;", "sip:alice@atlanta.com; transport=tcp"},
	{"trailing space", "sip:alice@atlanta.com;transport=tcp "},
	{"leading space", " sip:alice@atlanta.com"},
	{"tab in header", "sip:alice@atlanta.com?subject=a\tb"},
	{"angle brackets around", "<sip:alice@atlanta.com>"},
	{"trailing >", "sip:alice@atlanta.com>"},
	{"< in user", "sip:<alice>@atlanta.com"},
	{"quote in user", "sip:al\"ice@atlanta.com"},
	{"< in opaque URI", "mailto:<watson@bell-telephone.com>"},
	{"space in opaque URI", "mailto:watson @bell-telephone.com"},
	{"empty opaque URI", "mailto:"},
	// parameters and headers (RFC 3261 §25.1 pname = 1*paramchar, header = hname "=" hvalue)
	{"empty param", "sip:alice@atlanta.com;"},
	{"empty param in list", "sip:alice@atlanta.com;;lr"},
	{"empty param value", "sip:alice@atlanta.com;transport="},
	{"empty param name", "sip:alice@atlanta.com;=tcp"},
	{"empty headers", "sip:alice@atlanta.com?"},
	{"header without =", "sip:alice@atlanta.com?subject"},
	{"empty header", "sip:alice@atlanta.com?a=b&"},
	{"empty hname", "sip:alice@atlanta.com?=x"},
	{"junk after host", "sip:alice@atlanta.com/path"},
	// tel (RFC 3966 §3)
	{"tel empty", "tel:"},
	{"tel space", "tel:+1 201 555 0123"},
	{"tel empty param", "tel:+1-201-555-0123;"},
	{"tel letters", "tel:+1-201-555-CALL"},
	{"tel @", "tel:+1-201-555-0123@example.com"},
}

func TestURIRFCMalformed(t *testing.T) {
	for _, tc := range uriRFCInvalid {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURI(tc.in)
			if err == nil {
				t.Fatalf("ParseURI(%q) = %#v, want an error", tc.in, u)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseURI(%q): error %v does not match ErrMalformed", tc.in, err)
			}
			if u != (URI{}) {
				t.Errorf("ParseURI(%q) returned %#v with the error, want the zero URI", tc.in, u)
			}
		})
	}
}

// RFC 3261 §19.1.4: the sets listed as equivalent and as not equivalent,
// compared in both directions.
var uriRFCEquivalent = [][]string{
	{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"},
	{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"},
	{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
		"sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"},
	{"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
		"sip:alice@atlanta.com?priority=urgent&subject=project%20x"},
	// "equality is not transitive": each is equivalent to the bare URI.
	{"sip:carol@chicago.com", "sip:carol@chicago.com;security=off"},
	// Further consequences of the §19.1.4 rules.
	{"sip:alice@atlanta.com;transport=tcp;lr", "sip:alice@atlanta.com;transport=tcp"}, // lr only in one: ignored
	{"sip:alice@atlanta.com;maddr=239.255.255.1", "sip:alice@atlanta.com;MADDR=239.255.255.1"},
	{"sip:alice%3Bday@atlanta.com", "sip:alice%3bday@atlanta.com"}, // hex digits are case-insensitive
	{"sip:%75se%72@example.com", "sip:user@example.com"},           // RFC 4475 §3.1.1.3
	{"sip:alice@atlanta.com?Subject=x", "sip:alice@atlanta.com?subject=x"},
	{"sip:alice@[2001:DB8::1]", "sip:alice@[2001:db8::1]"},
}

var uriRFCNotEquivalent = []struct{ a, b, why string }{
	{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", "different usernames"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", "can resolve to different ports"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", "can resolve to different transports"},
	{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp", "can resolve to different port and transports"},
	{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", "different header component"},
	{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4", "even though that's what phone21.boxesbybob.com resolves to"},
	{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off", "equality is not transitive"},
	// Further §19.1.4 rules.
	{"sip:alice@atlanta.com", "sips:alice@atlanta.com", "a SIP and SIPS URI are never equivalent"},
	{"sip:alice@atlanta.com", "sip:ALICE@atlanta.com", "userinfo is case-sensitive"},
	{"sip:alice:secretword@atlanta.com", "sip:alice@atlanta.com", "password in one only"},
	{"sip:alice:secretword@atlanta.com", "sip:alice:SecretWord@atlanta.com", "password is case-sensitive"},
	{"sip:atlanta.com", "sip:alice@atlanta.com", "user in one only"},
	{"sip:alice@atlanta.com", "sip:alice@atlanta.com;user=ip", "user parameter in one only, even the default"},
	{"sip:alice@atlanta.com", "sip:alice@atlanta.com;ttl=1", "ttl parameter in one only, even the default"},
	{"sip:alice@atlanta.com", "sip:alice@atlanta.com;method=INVITE", "method parameter in one only, even the default"},
	{"sip:alice@atlanta.com", "sip:alice@atlanta.com;maddr=239.255.255.1", "maddr in one only"},
	{"sip:alice@atlanta.com;transport=tcp", "sip:alice@atlanta.com;transport=udp", "parameter in both must match"},
	{"sip:alice@atlanta.com:5060", "sip:alice@atlanta.com:5061", "different ports"},
	{"sip:alice@atlanta.com?subject=x", "sip:alice@atlanta.com?subject=x&priority=urgent", "header in one only"},
	{"sip:alice@atlanta.com?subject=x", "sip:alice@atlanta.com?subject=y", "different header values"},
	{"sip:alice%3Bday@atlanta.com", "sip:alice;day@atlanta.com", "an escaped reserved character is not the character itself"},
	{"sip:alice@atlanta.com;x=a%2Fb", "sip:alice@atlanta.com;x=a/b", "escaped reserved '/' in a parameter"},
	{"sip:alice@atlanta.com?to=a%3Fb", "sip:alice@atlanta.com?to=a?b", "escaped reserved '?' in a header"},
}

func mustParseURIRFC(t *testing.T, s string) URI {
	t.Helper()
	u, err := ParseURI(s)
	if err != nil {
		t.Fatalf("ParseURI(%q): %v", s, err)
	}
	return u
}

func TestURIRFCEqual(t *testing.T) {
	for _, set := range uriRFCEquivalent {
		for _, a := range set {
			for _, b := range set {
				ua, ub := mustParseURIRFC(t, a), mustParseURIRFC(t, b)
				if !ua.Equal(&ub) {
					t.Errorf("%q and %q should be equivalent", a, b)
				}
			}
		}
	}
	for _, tc := range uriRFCNotEquivalent {
		ua, ub := mustParseURIRFC(t, tc.a), mustParseURIRFC(t, tc.b)
		if ua.Equal(&ub) {
			t.Errorf("%q equals %q, want not equivalent (%s)", tc.a, tc.b, tc.why)
		}
		if ub.Equal(&ua) {
			t.Errorf("%q equals %q, want not equivalent (%s)", tc.b, tc.a, tc.why)
		}
	}
}

// Unescaped characters outside the reserved set still match their escapes.
func TestURIRFCEqualUnreservedEscapes(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"sip:%61%6C%69%63%65@atlanta.com", "sip:alice@atlanta.com"},
		{"sip:alice:secret%77ord@atlanta.com", "sip:alice:secretword@atlanta.com"},
		{"sip:alice@atlanta.com;transport=%74cp", "sip:alice@atlanta.com;transport=TCP"},
		{"sip:alice@atlanta.com?subject=project%20x", "sip:alice@atlanta.com?%73ubject=project%20x"},
	} {
		ua, ub := mustParseURIRFC(t, tc.a), mustParseURIRFC(t, tc.b)
		if !ua.Equal(&ub) || !ub.Equal(&ua) {
			t.Errorf("%q and %q should be equivalent", tc.a, tc.b)
		}
	}
}
