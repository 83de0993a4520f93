package sip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// RFC vectors for ParseAddress (RFC 3261 §20.10, §20.20, §20.39 and the
// examples of §4, §8, §16, §21, RFC 5118), ParseVia (RFC 3261 §20.42,
// RFC 5118 §4), ParseAuth (RFC 3261 §20.7, §20.27, §20.28, §20.44, §22.4,
// RFC 7616 §3.9, RFC 8760 §2.7) and ParseCSeq (RFC 3261 §20.16).

type addrRFCCase struct {
	name    string
	in      string
	display string
	uri     string // URI.String() of the parsed URI
	params  Params // header parameters, raw
	tag     string
	values  map[string]string // header parameter values
	uriPar  map[string]string // URI parameter values
	noPar   []string          // absent header parameters
	str     string            // Address.String(): always name-addr
}

var addrRFCValid = []addrRFCCase{
	// RFC 3261 §4 and §8.1.1.3 message examples.
	{name: "3261-4 To token display", in: "Bob <sip:bob@biloxi.com>",
		display: "Bob", uri: "sip:bob@biloxi.com", str: "Bob <sip:bob@biloxi.com>"},
	{name: "3261-4 From with tag", in: "Alice <sip:alice@atlanta.com>;tag=1928301774",
		display: "Alice", uri: "sip:alice@atlanta.com", params: "tag=1928301774", tag: "1928301774",
		str: "Alice <sip:alice@atlanta.com>;tag=1928301774"},
	{name: "3261-4 Contact no display", in: "<sip:alice@pc33.atlanta.com>",
		uri: "sip:alice@pc33.atlanta.com", str: "<sip:alice@pc33.atlanta.com>"},
	{name: "3261-8.1.1.3 quoted display, LWS before params", in: `"Bob" <sips:bob@biloxi.com> ;tag=a48s`,
		display: "Bob", uri: "sips:bob@biloxi.com", params: "tag=a48s", tag: "a48s",
		str: "Bob <sips:bob@biloxi.com>;tag=a48s"},
	{name: "3261-8.1.1.3 addr-spec with tag", in: "sip:+12125551212@phone2net.com;tag=887s",
		uri: "sip:+12125551212@phone2net.com", params: "tag=887s", tag: "887s", noPar: []string{"user"},
		str: "<sip:+12125551212@phone2net.com>;tag=887s"},
	{name: "3261-10.2.1 Contact expires", in: "<sip:alice@atlanta.com>;expires=3600",
		uri: "sip:alice@atlanta.com", params: "expires=3600", values: map[string]string{"expires": "3600"},
		str: "<sip:alice@atlanta.com>;expires=3600"},

	// RFC 3261 §20.10 Contact (the list split into its two values).
	{name: "3261-20.10 Contact folded params", in: "\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>\r\n   ;q=0.7; expires=3600",
		display: "Mr. Watson", uri: "sip:watson@worcester.bell-telephone.com", params: "q=0.7; expires=3600",
		values: map[string]string{"q": "0.7", "expires": "3600"},
		str:    "Mr. Watson <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600"},
	{name: "3261-20.10 Contact mailto", in: `"Mr. Watson" <mailto:watson@bell-telephone.com> ;q=0.1`,
		display: "Mr. Watson", uri: "mailto:watson@bell-telephone.com", params: "q=0.1",
		values: map[string]string{"q": "0.1"},
		str:    "Mr. Watson <mailto:watson@bell-telephone.com>;q=0.1"},
	{name: "3261-20.10 Contact compact", in: "<sips:bob@192.0.2.4>;expires=60",
		uri: "sips:bob@192.0.2.4", params: "expires=60", values: map[string]string{"expires": "60"},
		str: "<sips:bob@192.0.2.4>;expires=60"},

	// RFC 3261 §20.20 From.
	{name: "3261-20.20 From quoted display with dots", in: `"A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s`,
		display: "A. G. Bell", uri: "sip:agb@bell-telephone.com", params: "tag=a48s", tag: "a48s",
		str: "A. G. Bell <sip:agb@bell-telephone.com>;tag=a48s"},
	{name: "3261-20.20 From addr-spec: tag is a header parameter", in: "sip:+12125551212@server.phone2net.com;tag=887s",
		uri: "sip:+12125551212@server.phone2net.com", params: "tag=887s", tag: "887s",
		str: "<sip:+12125551212@server.phone2net.com>;tag=887s"},
	{name: "3261-20.20 From Anonymous", in: "Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8",
		display: "Anonymous", uri: "sip:c8oqz84zk7z@privacy.org", params: "tag=hyh8", tag: "hyh8",
		str: "Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8"},

	// RFC 3261 §20.39 To.
	{name: "3261-20.39 To two-token display", in: "The Operator <sip:operator@cs.columbia.edu>;tag=287447",
		display: "The Operator", uri: "sip:operator@cs.columbia.edu", params: "tag=287447", tag: "287447",
		str: "The Operator <sip:operator@cs.columbia.edu>;tag=287447"},
	{name: "3261-20.39 To addr-spec", in: "sip:+12125551212@server.phone2net.com",
		uri: "sip:+12125551212@server.phone2net.com", str: "<sip:+12125551212@server.phone2net.com>"},

	// RFC 3261 §20.30/§20.34 Route, §20.31 Reply-To, §21.4.23 Contact.
	{name: "3261-20.30 Record-Route lr is a URI parameter", in: "<sip:server10.biloxi.com;lr>",
		uri: "sip:server10.biloxi.com;lr", uriPar: map[string]string{"lr": ""}, noPar: []string{"lr"},
		str: "<sip:server10.biloxi.com;lr>"},
	{name: "3261-20.31 Reply-To", in: "Bob <sip:bob@biloxi.com>",
		display: "Bob", uri: "sip:bob@biloxi.com", str: "Bob <sip:bob@biloxi.com>"},
	{name: "3261-21.4.23 three-token display", in: "Lee M. Foote <sips:lee.foote@example.com>",
		display: "Lee M. Foote", uri: "sips:lee.foote@example.com", str: "Lee M. Foote <sips:lee.foote@example.com>"},

	// RFC 5118 IPv6 references in name-addr and addr-spec.
	{name: "5118-4.1 Contact IPv6", in: `"Caller" <sip:caller@[2001:db8::1]>`,
		display: "Caller", uri: "sip:caller@[2001:db8::1]", str: "Caller <sip:caller@[2001:db8::1]>"},
	{name: "5118-4.9 Contact IPv4-mapped", in: `"T. desk phone" <sip:ted@[::ffff:192.0.2.2]>`,
		display: "T. desk phone", uri: "sip:ted@[::ffff:192.0.2.2]", str: "T. desk phone <sip:ted@[::ffff:192.0.2.2]>"},
	{name: "5118-4.6 To addr-spec IPv6", in: "sip:user@[2001:db8::10]",
		uri: "sip:user@[2001:db8::10]", str: "<sip:user@[2001:db8::10]>"},
	{name: "5118-4.7 To addr-spec with tag", in: "sip:user@example.net;tag=9817--94",
		uri: "sip:user@example.net", params: "tag=9817--94", tag: "9817--94", str: "<sip:user@example.net>;tag=9817--94"},

	// RFC 3261 §25.1 display-name = *(token LWS) / quoted-string; quoted-pair.
	{name: "quoted-pairs in display", in: `"Bob \"The Builder\" Smith" <sip:bob@biloxi.com>;tag=x`,
		display: `Bob "The Builder" Smith`, uri: "sip:bob@biloxi.com", params: "tag=x", tag: "x",
		str: `"Bob \"The Builder\" Smith" <sip:bob@biloxi.com>;tag=x`},
	{name: "quoted backslashes in display", in: `"C:\\Users\\bob" <sip:bob@biloxi.com>`,
		display: `C:\Users\bob`, uri: "sip:bob@biloxi.com", str: `"C:\\Users\\bob" <sip:bob@biloxi.com>`},
	{name: "quoted-pair of ordinary characters", in: `"\B\o\b" <sip:bob@biloxi.com>`,
		display: "Bob", uri: "sip:bob@biloxi.com", str: "Bob <sip:bob@biloxi.com>"},
	{name: "quoted display with separators", in: `"Watson, Thomas; <x>" <sip:watson@bell-telephone.com>`,
		display: "Watson, Thomas; <x>", uri: "sip:watson@bell-telephone.com",
		str: `"Watson, Thomas; <x>" <sip:watson@bell-telephone.com>`},
	{name: "UTF-8 quoted display", in: "\"J\u00e4s\u00f8n\" <sip:jason@example.com>",
		display: "J\u00e4s\u00f8n", uri: "sip:jason@example.com", str: "\"J\u00e4s\u00f8n\" <sip:jason@example.com>"},
	{name: "empty quoted display", in: `"" <sip:alice@atlanta.com>`,
		uri: "sip:alice@atlanta.com", str: "<sip:alice@atlanta.com>"},
	{name: "4475-3.1.1.3 escaped spaces in user", in: "<sip:I%20have%20spaces@example.net>;tag=938",
		uri: "sip:I%20have%20spaces@example.net", params: "tag=938", tag: "938",
		str: "<sip:I%20have%20spaces@example.net>;tag=938"},
	{name: "quoted display without LWS before <", in: `"Bob"<sip:bob@biloxi.com>`,
		display: "Bob", uri: "sip:bob@biloxi.com", str: "Bob <sip:bob@biloxi.com>"},
	{name: "4475-3.1.1.6 token display without LWS before <", in: "Bob<sip:bob@biloxi.com>",
		display: "Bob", uri: "sip:bob@biloxi.com", str: "Bob <sip:bob@biloxi.com>"},
	{name: "token display with token punctuation", in: "A.b-c!d%e*f_g+h`i'j~k <sip:x@example.com>",
		display: "A.b-c!d%e*f_g+h`i'j~k", uri: "sip:x@example.com", str: "A.b-c!d%e*f_g+h`i'j~k <sip:x@example.com>"},
	{name: "token display with several spaces is re-quoted", in: "Lee   Foote <sip:lee@example.com>",
		display: "Lee   Foote", uri: "sip:lee@example.com", str: `"Lee   Foote" <sip:lee@example.com>`},

	// URI parameters inside <>, header parameters outside (RFC 3261 §20.10).
	{name: "URI and header parameters kept apart", in: "<sip:alice@atlanta.com;transport=tcp>;tag=1",
		uri: "sip:alice@atlanta.com;transport=tcp", params: "tag=1", tag: "1",
		uriPar: map[string]string{"transport": "tcp"}, noPar: []string{"transport"},
		str: "<sip:alice@atlanta.com;transport=tcp>;tag=1"},
	{name: "URI headers inside <>", in: "<sip:alice@atlanta.com?subject=project%20x>;expires=60",
		uri: "sip:alice@atlanta.com?subject=project%20x", params: "expires=60", values: map[string]string{"expires": "60"},
		str: "<sip:alice@atlanta.com?subject=project%20x>;expires=60"},
	{name: "addr-spec tag is a header parameter, not a URI parameter", in: "sip:user@host;tag=1",
		uri: "sip:user@host", params: "tag=1", tag: "1", str: "<sip:user@host>;tag=1"},
	{name: "addr-spec without user: parameters are header parameters", in: "sip:atlanta.com;transport=tcp;tag=2",
		uri: "sip:atlanta.com", params: "transport=tcp;tag=2", tag: "2", values: map[string]string{"transport": "tcp"},
		str: "<sip:atlanta.com>;transport=tcp;tag=2"},
	{name: "addr-spec with ; in user", in: "sip:alice;day=tuesday@atlanta.com;tag=3",
		uri: "sip:alice;day=tuesday@atlanta.com", params: "tag=3", tag: "3", noPar: []string{"day"},
		str: "<sip:alice;day=tuesday@atlanta.com>;tag=3"},
	{name: "addr-spec with quoted header parameter holding @", in: `sip:atlanta.com;tag=4;note="a@b"`,
		uri: "sip:atlanta.com", params: `tag=4;note="a@b"`, tag: "4", values: map[string]string{"note": `"a@b"`},
		str: `<sip:atlanta.com>;tag=4;note="a@b"`},
	{name: "addr-spec with user and quoted header parameter holding @", in: `sip:bob@biloxi.com;note="x@y";tag=5`,
		uri: "sip:bob@biloxi.com", params: `note="x@y";tag=5`, tag: "5", values: map[string]string{"note": `"x@y"`},
		str: `<sip:bob@biloxi.com>;note="x@y";tag=5`},
	{name: "addr-spec LWS before ;", in: "sip:bob@biloxi.com ;tag=6",
		uri: "sip:bob@biloxi.com", params: "tag=6", tag: "6", str: "<sip:bob@biloxi.com>;tag=6"},
	{name: "LWS around = and ;", in: "<sip:bob@biloxi.com> ; tag = 7 ; q=1",
		uri: "sip:bob@biloxi.com", params: " tag = 7 ; q=1", tag: "7", values: map[string]string{"q": "1"},
		str: "<sip:bob@biloxi.com>; tag = 7 ; q=1"},
	{name: "tel URI in name-addr", in: "<tel:+1-201-555-0123>;tag=8",
		uri: "tel:+1-201-555-0123", params: "tag=8", tag: "8", str: "<tel:+1-201-555-0123>;tag=8"},
	{name: "tel addr-spec: ; starts header parameters", in: "tel:+1-201-555-0123;tag=9",
		uri: "tel:+1-201-555-0123", params: "tag=9", tag: "9", str: "<tel:+1-201-555-0123>;tag=9"},
	{name: "flag header parameter", in: "<sip:bob@biloxi.com>;lr",
		uri: "sip:bob@biloxi.com", params: "lr", values: map[string]string{"lr": ""}, str: "<sip:bob@biloxi.com>;lr"},
	{name: "header parameter with IPv6 value", in: "<sip:bob@biloxi.com>;received=[2001:db8::1]",
		uri: "sip:bob@biloxi.com", params: "received=[2001:db8::1]", values: map[string]string{"received": "[2001:db8::1]"},
		str: "<sip:bob@biloxi.com>;received=[2001:db8::1]"},
}

func TestAddressRFCExamples(t *testing.T) {
	for _, tc := range addrRFCValid {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAddress(tc.in)
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tc.in, err)
			}
			if a.Display != tc.display {
				t.Errorf("Display = %q, want %q", a.Display, tc.display)
			}
			if got := a.URI.String(); got != tc.uri {
				t.Errorf("URI = %q, want %q", got, tc.uri)
			}
			if a.Params != tc.params {
				t.Errorf("Params = %q, want %q", a.Params, tc.params)
			}
			if got := a.Tag(); got != tc.tag {
				t.Errorf("Tag() = %q, want %q", got, tc.tag)
			}
			if _, ok := a.Params.Get("tag"); ok != (tc.tag != "") {
				t.Errorf("tag present = %v, want %v", ok, tc.tag != "")
			}
			if a.URI.Params.Has("tag") {
				t.Errorf("tag must never be a URI parameter: URI params %q", a.URI.Params)
			}
			for n, want := range tc.values {
				if got, ok := a.Params.Get(n); !ok || got != want {
					t.Errorf("Params.Get(%q) = %q, %v; want %q", n, got, ok, want)
				}
			}
			for n, want := range tc.uriPar {
				if got, ok := a.URI.Params.Get(n); !ok || got != want {
					t.Errorf("URI.Params.Get(%q) = %q, %v; want %q", n, got, ok, want)
				}
			}
			for _, n := range tc.noPar {
				if a.Params.Has(n) {
					t.Errorf("header parameter %q must be absent", n)
				}
			}
			s := a.String()
			if s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
			b, err := ParseAddress(s)
			if err != nil {
				t.Fatalf("ParseAddress(String() = %q): %v", s, err)
			}
			if b != a {
				t.Errorf("parse(String()) = %#v, want %#v", b, a)
			}
		})
	}
}

// RFC 3261 §7.3.1 / §20.10 / §20.30: list values split at commas outside
// quotes and <>, each a name-addr.
func TestAddressRFCLists(t *testing.T) {
	for _, tc := range []struct {
		in   string
		uris []string
		disp []string
	}{
		{"\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>\r\n   ;q=0.7; expires=3600,\r\n   \"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1",
			[]string{"sip:watson@worcester.bell-telephone.com", "mailto:watson@bell-telephone.com"},
			[]string{"Mr. Watson", "Mr. Watson"}},
		{"<sip:server10.biloxi.com;lr>,\r\n              <sip:bigbox3.site3.atlanta.com;lr>",
			[]string{"sip:server10.biloxi.com;lr", "sip:bigbox3.site3.atlanta.com;lr"}, []string{"", ""}},
		{"<sip:alice@atlanta.com>,<sip:carol@chicago.com>",
			[]string{"sip:alice@atlanta.com", "sip:carol@chicago.com"}, []string{"", ""}},
		{`"Watson, Thomas" <sip:watson@bell-telephone.com>, Bob <sip:bob,smith@biloxi.com>`,
			[]string{"sip:watson@bell-telephone.com", "sip:bob,smith@biloxi.com"}, []string{"Watson, Thomas", "Bob"}},
	} {
		var uris, disp []string
		for i := 0; i < len(tc.in); {
			item, next, ok := nextListItem(tc.in, i)
			if !ok {
				t.Fatalf("nextListItem(%q, %d): not closed", tc.in, i)
			}
			a, err := ParseAddress(item)
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", item, err)
			}
			uris = append(uris, a.URI.String())
			disp = append(disp, a.Display)
			i = next
		}
		if len(uris) != len(tc.uris) {
			t.Fatalf("%q: got %d values %q, want %q", tc.in, len(uris), uris, tc.uris)
		}
		for i := range uris {
			if uris[i] != tc.uris[i] || disp[i] != tc.disp[i] {
				t.Errorf("%q value %d: %q %q, want %q %q", tc.in, i, disp[i], uris[i], tc.disp[i], tc.uris[i])
			}
		}
	}
}

func TestAddressRFCMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		`"Bob <sip:bob@biloxi.com>`,                // unterminated quoted display
		`"Bob" sip:bob@biloxi.com`,                 // quoted display without <URI>
		`"Bob" `,                                   // quoted display only
		"<sip:bob@biloxi.com",                      // missing >
		"Bob <sip:bob@biloxi.com> tag=1",           // parameters without ;
		"<sip:bob@biloxi.com>x",                    // junk after >
		"<sip:bob@biloxi.com>;",                    // SEMI must be followed by a parameter
		"<sip:bob@biloxi.com> ; ",                  // same, with LWS
		"sip:bob@biloxi.com;",                      // same, addr-spec
		"<sip:bob@biloxi.com>;tag=1;",              // trailing ;
		"<sip:bob@biloxi.com>;;tag=1",              // empty parameter
		"<sip:bob@biloxi.com>;tag=",                // empty value
		`<sip:bob@biloxi.com>;tag="unterminated`,   // unterminated quoted value
		"<sip:bob@biloxi.com>;t@g=1",               // bad parameter name
		"<sip:bob@biloxi.com>;tag=a b",             // space in value
		"sip:bob@biloxi.com?subject=x",             // addr-spec with URI headers must use <>
		"<sip:bob@>",                               // URI without host
		"< sip:bob@biloxi.com>",                    // LWS inside <>
		"<sip:bob@biloxi.com >",                    // LWS inside <>
		"Bob Smith sip:bob@biloxi.com",             // display name without <>
		"<sip:2001:db8::10>",                       // RFC 5118 §4.2
		"<sip:bob@biloxi.com:65536>",               // port out of range
		"bob@biloxi.com",                           // no scheme
		"<sip:bob@biloxi.com>;tag=1,<sip:carol@x>", // a list is not one address
	} {
		a, err := ParseAddress(in)
		if err == nil {
			t.Errorf("ParseAddress(%q) = %#v, want an error", in, a)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAddress(%q): %v does not match ErrMalformed", in, err)
		}
	}
}

type viaRFCCase struct {
	name                      string
	in                        string
	protocol, version, transp string
	host                      string
	port                      int
	params                    Params
	branch                    string
	values                    map[string]string
	received                  string // address HostAddr must read from received
	str                       string // Via.String()
}

var viaRFCValid = []viaRFCCase{
	{name: "3261-4 INVITE", in: "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "pc33.atlanta.com", params: "branch=z9hG4bK776asdhds",
		branch: "z9hG4bK776asdhds", str: "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"},
	{name: "3261-4 200 OK folded params", in: "SIP/2.0/UDP server10.biloxi.com\r\n   ;branch=z9hG4bKnashds8;received=192.0.2.3",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "server10.biloxi.com",
		params: "branch=z9hG4bKnashds8;received=192.0.2.3", branch: "z9hG4bKnashds8", received: "192.0.2.3",
		values: map[string]string{"received": "192.0.2.3"},
		str:    "SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bKnashds8;received=192.0.2.3"},
	{name: "3261-4 LWS before ;received", in: "SIP/2.0/UDP pc33.atlanta.com\r\n   ;branch=z9hG4bK776asdhds ;received=192.0.2.1",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "pc33.atlanta.com",
		params: "branch=z9hG4bK776asdhds ;received=192.0.2.1", branch: "z9hG4bK776asdhds", received: "192.0.2.1",
		str: "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds ;received=192.0.2.1"},
	{name: "3261-4 no parameters", in: "SIP/2.0/UDP bigbox3.site3.atlanta.com",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "bigbox3.site3.atlanta.com",
		str: "SIP/2.0/UDP bigbox3.site3.atlanta.com"},
	{name: "3261-20.42 host port branch", in: "SIP/2.0/UDP erlang.bell-telephone.com:5060;branch=z9hG4bK87asdks7",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "erlang.bell-telephone.com", port: 5060,
		params: "branch=z9hG4bK87asdks7", branch: "z9hG4bK87asdks7",
		str: "SIP/2.0/UDP erlang.bell-telephone.com:5060;branch=z9hG4bK87asdks7"},
	{name: "3261-20.42 received, folded", in: "SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207\r\n     ;branch=z9hG4bK77asjd",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "192.0.2.1", port: 5060,
		params: "received=192.0.2.207\r\n     ;branch=z9hG4bK77asjd", branch: "z9hG4bK77asjd", received: "192.0.2.207",
		str: "SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207\r\n     ;branch=z9hG4bK77asjd"},
	{name: "3261-20.42 LWS around / and :, ttl, maddr", in: "SIP / 2.0 / UDP first.example.com: 4000;ttl=16\r\n  ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "first.example.com", port: 4000,
		params: "ttl=16\r\n  ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1", branch: "z9hG4bKa7c6a8dlze.1",
		values: map[string]string{"ttl": "16", "maddr": "224.2.0.1"},
		str:    "SIP/2.0/UDP first.example.com:4000;ttl=16\r\n  ;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8dlze.1"},
	{name: "3261-20.42 ttl bounds", in: "SIP/2.0/UDP 192.0.2.1;maddr=239.255.255.1;ttl=255;branch=z9hG4bK1",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "192.0.2.1",
		params: "maddr=239.255.255.1;ttl=255;branch=z9hG4bK1", branch: "z9hG4bK1",
		values: map[string]string{"ttl": "255", "maddr": "239.255.255.1"},
		str:    "SIP/2.0/UDP 192.0.2.1;maddr=239.255.255.1;ttl=255;branch=z9hG4bK1"},
	{name: "3261-20.42 TLS and SCTP transports", in: "SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7",
		protocol: "SIP", version: "2.0", transp: "TLS", host: "client.biloxi.example.com", port: 5061,
		params: "branch=z9hG4bKnashds7", branch: "z9hG4bKnashds7",
		str: "SIP/2.0/TLS client.biloxi.example.com:5061;branch=z9hG4bKnashds7"},
	{name: "3261-25.1 extension transport and quoted extension param", in: `SIP/2.0/SCTP host.example.com;branch=z9hG4bK2;x="a b"`,
		protocol: "SIP", version: "2.0", transp: "SCTP", host: "host.example.com",
		params: `branch=z9hG4bK2;x="a b"`, branch: "z9hG4bK2", values: map[string]string{"x": `"a b"`},
		str: `SIP/2.0/SCTP host.example.com;branch=z9hG4bK2;x="a b"`},

	// RFC 5118.
	{name: "5118-4.1 IPv6 sent-by", in: "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "[2001:db8::9:1]",
		params: "branch=z9hG4bKas3-111", branch: "z9hG4bKas3-111",
		str: "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111"},
	{name: "5118-4.5 received with brackets", in: "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "[2001:db8::9:1]",
		params: "received=[2001:db8::9:255];branch=z9hG4bKas3-111", branch: "z9hG4bKas3-111",
		values: map[string]string{"received": "[2001:db8::9:255]"}, received: "2001:db8::9:255",
		str: "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111"},
	{name: "5118-4.5 received without brackets", in: "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "[2001:db8::9:1]",
		params: "received=2001:db8::9:255;branch=z9hG4bKas3", branch: "z9hG4bKas3",
		values: map[string]string{"received": "2001:db8::9:255"}, received: "2001:db8::9:255",
		str: "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3"},
	{name: "5118-4.7 IPv6 sent-by with port", in: "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "[2001:db8::9:1]", port: 6050,
		params: "branch=z9hG4bKas3-111", branch: "z9hG4bKas3-111",
		str: "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111"},
	{name: "5118-4.7 IPv6 sent-by, IPv4 received", in: "SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200",
		protocol: "SIP", version: "2.0", transp: "TCP", host: "[2001:db8::9:255]",
		params: "branch=z9hG4bK451jj;received=192.0.2.200", branch: "z9hG4bK451jj", received: "192.0.2.200",
		str: "SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200"},
	{name: "5118-4.7 folded allOneLine", in: "SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;\r\n      received=192.0.2.200",
		protocol: "SIP", version: "2.0", transp: "TCP", host: "[2001:db8::9:255]",
		params: "branch=z9hG4bK451jj;\r\n      received=192.0.2.200", branch: "z9hG4bK451jj", received: "192.0.2.200",
		str: "SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;\r\n      received=192.0.2.200"},
	{name: "5118-4.9 IPv4-mapped sent-by with port", in: "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "[::ffff:192.0.2.10]", port: 19823,
		params: "branch=z9hG4bKbh19", branch: "z9hG4bKbh19",
		str: "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19"},

	// rport (RFC 3581): empty in requests, a port in responses.
	{name: "rport empty", in: "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "10.1.1.1", port: 4540,
		params: "rport;branch=z9hG4bKkjshdyff", branch: "z9hG4bKkjshdyff", values: map[string]string{"rport": ""},
		str: "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff"},
	{name: "rport with value", in: "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff",
		protocol: "SIP", version: "2.0", transp: "UDP", host: "10.1.1.1", port: 4540,
		params: "received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff", branch: "z9hG4bKkjshdyff",
		values: map[string]string{"rport": "9988"}, received: "192.0.2.1",
		str: "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff"},
}

func TestViaRFCExamples(t *testing.T) {
	for _, tc := range viaRFCValid {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVia(tc.in)
			if err != nil {
				t.Fatalf("ParseVia(%q): %v", tc.in, err)
			}
			want := Via{Protocol: tc.protocol, Version: tc.version, Transport: tc.transp, Host: tc.host, Port: tc.port, Params: tc.params}
			if v != want {
				t.Fatalf("ParseVia(%q)\n got %#v\nwant %#v", tc.in, v, want)
			}
			if got := v.Branch(); got != tc.branch {
				t.Errorf("Branch() = %q, want %q", got, tc.branch)
			}
			for n, wv := range tc.values {
				if got, ok := v.Params.Get(n); !ok || got != wv {
					t.Errorf("Params.Get(%q) = %q, %v; want %q", n, got, ok, wv)
				}
			}
			if tc.received != "" {
				a, ok := HostAddr(v.Params.Value("received"))
				if w := netip.MustParseAddr(tc.received); !ok || a != w {
					t.Errorf("received reads as %v, %v; want %v", a, ok, w)
				}
			} else if v.Params.Has("received") {
				t.Errorf("unexpected received parameter")
			}
			s := v.String()
			if s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
			w, err := ParseVia(s)
			if err != nil {
				t.Fatalf("ParseVia(String() = %q): %v", s, err)
			}
			if w != v {
				t.Errorf("parse(String()) = %#v, want %#v", w, v)
			}
		})
	}
}

func TestViaRFCMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"SIP/2.0 pc33.atlanta.com",                                    // no transport
		"SIP/2.0/UDP",                                                 // no sent-by
		"SIP/2.0/UDP ;branch=z9hG4bK1",                                // no host
		"SIP/2.0/ pc33.atlanta.com",                                   // empty transport
		"SIP//UDP pc33.atlanta.com",                                   // empty version
		"SIP/2.0/UDP pc33.atlanta.com:",                               // empty port
		"SIP/2.0/UDP pc33.atlanta.com:65536",                          // port out of range
		"SIP/2.0/UDP pc33.atlanta.com:50a0",                           // bad port
		"SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bK1",                   // IPv6 sent-by without brackets
		"SIP/2.0/UDP [2001:db8::9:1;branch=z9hG4bK1",                  // unclosed reference
		"SIP/2.0/UDP [2001:db8::g];branch=z9hG4bK1",                   // bad IPv6
		"SIP/2.0/UDP pc33.atlanta.com branch=z9hG4bK1",                // no ;
		"SIP/2.0/UDP pc33.atlanta.com;",                               // SEMI must be followed by via-params
		"SIP/2.0/UDP pc33.atlanta.com ; ",                             // same with LWS
		"SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK1;",               // trailing ;
		"SIP/2.0/UDP pc33.atlanta.com;;branch=z9hG4bK1",               // empty parameter
		"SIP/2.0/UDP pc33.atlanta.com;branch=",                        // empty value
		`SIP/2.0/UDP pc33.atlanta.com;branch="z9hG4bK1"`,              // branch is a token
		"SIP/2.0/UDP pc33.atlanta.com;ttl=256",                        // ttl 0-255
		"SIP/2.0/UDP pc33.atlanta.com;ttl=abc",                        // ttl digits
		"SIP/2.0/UDP pc33.atlanta.com;ttl",                            // ttl needs a value
		"SIP/2.0/UDP pc33.atlanta.com;rport=abc",                      // rport digits
		"SIP/2.0/UDP pc33.atlanta.com;rport=65536",                    // rport port range
		"SIP/2.0/UDP pc33.atlanta.com;rport=",                         // empty rport value
		"SIP/2.0/UDP pc33.atlanta.com;received=atlanta.com",           // received is an address
		"SIP/2.0/UDP pc33.atlanta.com;received=[192.0.2.1]",           // IPv4 in brackets
		"SIP/2.0/UDP pc33.atlanta.com;received=2001:db8::g",           // bad IPv6
		"SIP/2.0/UDP pc33.atlanta.com;received",                       // received needs a value
		"SIP/2.0/UDP pc33.atlanta.com;received=[2001:db8::9:255",      // unclosed
		"SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK1, SIP/2.0/UDP x", // a list is not one value
	} {
		v, err := ParseVia(in)
		if err == nil {
			t.Errorf("ParseVia(%q) = %#v, want an error", in, v)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseVia(%q): %v does not match ErrMalformed", in, err)
		}
	}
}

type authRFCCase struct {
	name   string
	in     string
	scheme string
	params map[string]string // unquoted values
	absent []string
}

var authRFCValid = []authRFCCase{
	{name: "3261-20.7 Authorization", in: "Digest username=\"Alice\", realm=\"atlanta.com\",\r\n nonce=\"84a4cc6f3082121f32b42a2187831a9e\",\r\n response=\"7587245234b3434cc3412213e5f113a5432\"",
		scheme: "Digest", params: map[string]string{"username": "Alice", "realm": "atlanta.com",
			"nonce": "84a4cc6f3082121f32b42a2187831a9e", "response": "7587245234b3434cc3412213e5f113a5432"},
		absent: []string{"qop", "uri", "opaque", "alice"}},
	{name: "3261-20.27 Proxy-Authenticate", in: "Digest realm=\"atlanta.com\",\r\n domain=\"sip:ss1.carrier.com\", qop=\"auth\",\r\n nonce=\"f84f1cec41e6cbe5aea9c8e88d359\",\r\n opaque=\"\", stale=FALSE, algorithm=MD5",
		scheme: "Digest", params: map[string]string{"realm": "atlanta.com", "domain": "sip:ss1.carrier.com", "qop": "auth",
			"nonce": "f84f1cec41e6cbe5aea9c8e88d359", "opaque": "", "stale": "FALSE", "algorithm": "MD5"},
		absent: []string{"username", "response"}},
	{name: "3261-20.28 Proxy-Authorization", in: "Digest username=\"Alice\", realm=\"atlanta.com\",\r\n    nonce=\"c60f3082ee1212b402a21831ae\",\r\n    response=\"245f23415f11432b3434341c022\"",
		scheme: "Digest", params: map[string]string{"username": "Alice", "realm": "atlanta.com",
			"nonce": "c60f3082ee1212b402a21831ae", "response": "245f23415f11432b3434341c022"}},
	{name: "3261-20.44 WWW-Authenticate", in: "Digest realm=\"atlanta.com\",\r\n  domain=\"sip:boxesbybob.com\", qop=\"auth\",\r\n  nonce=\"f84f1cec41e6cbe5aea9c8e88d359\",\r\n  opaque=\"\", stale=FALSE, algorithm=MD5",
		scheme: "Digest", params: map[string]string{"realm": "atlanta.com", "domain": "sip:boxesbybob.com", "qop": "auth",
			"nonce": "f84f1cec41e6cbe5aea9c8e88d359", "opaque": "", "stale": "FALSE", "algorithm": "MD5"}},
	{name: "3261-22.4 challenge qop list", in: "Digest\r\n        realm=\"biloxi.com\",\r\n        qop=\"auth,auth-int\",\r\n        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
		scheme: "Digest", params: map[string]string{"realm": "biloxi.com", "qop": "auth,auth-int",
			"nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093", "opaque": "5ccc069c403ebaf9f0171e9517f40e41"}},
	{name: "3261-22.4 credentials with qop, nc, cnonce, uri", in: "Digest username=\"bob\",\r\n        realm=\"biloxi.com\",\r\n        nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n        uri=\"sip:bob@biloxi.com\",\r\n        qop=auth,\r\n        nc=00000001,\r\n        cnonce=\"0a4f113b\",\r\n        response=\"6629fae49393a05397450978507c4ef1\",\r\n        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
		scheme: "Digest", params: map[string]string{"username": "bob", "realm": "biloxi.com", "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
			"uri": "sip:bob@biloxi.com", "qop": "auth", "nc": "00000001", "cnonce": "0a4f113b",
			"response": "6629fae49393a05397450978507c4ef1", "opaque": "5ccc069c403ebaf9f0171e9517f40e41"}},

	// RFC 7616 §3.9.1 (SHA-256 and MD5).
	{name: "7616-3.9.1 SHA-256 challenge", in: "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=SHA-256,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
		scheme: "Digest", params: map[string]string{"realm": "http-auth@example.org", "qop": "auth, auth-int", "algorithm": "SHA-256",
			"nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}},
	{name: "7616-3.9.1 MD5 challenge", in: "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    algorithm=MD5,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
		scheme: "Digest", params: map[string]string{"realm": "http-auth@example.org", "qop": "auth, auth-int", "algorithm": "MD5"}},
	{name: "7616-3.9.1 MD5 credentials", in: "Digest username=\"Mufasa\",\r\n    realm=\"http-auth@example.org\",\r\n    uri=\"/dir/index.html\",\r\n    algorithm=MD5,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    nc=00000001,\r\n    cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n    qop=auth,\r\n    response=\"8ca523f5e9506fed4657c9700eebdbec\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
		scheme: "Digest", params: map[string]string{"username": "Mufasa", "uri": "/dir/index.html", "algorithm": "MD5",
			"nc": "00000001", "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "qop": "auth",
			"response": "8ca523f5e9506fed4657c9700eebdbec"}},
	{name: "7616-3.9.1 SHA-256 credentials", in: "Digest username=\"Mufasa\",\r\n    realm=\"http-auth@example.org\",\r\n    uri=\"/dir/index.html\",\r\n    algorithm=SHA-256,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    nc=00000001,\r\n    cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n    qop=auth,\r\n    response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
		scheme: "Digest", params: map[string]string{"username": "Mufasa", "realm": "http-auth@example.org", "algorithm": "SHA-256",
			"response": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}},

	// RFC 7616 §3.9.2 (SHA-512-256, charset, userhash, username*).
	{name: "7616-3.9.2 challenge charset userhash", in: "Digest\r\n    realm=\"api@example.org\",\r\n    qop=\"auth\",\r\n    algorithm=SHA-512-256,\r\n    nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n    opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n    charset=UTF-8,\r\n    userhash=true",
		scheme: "Digest", params: map[string]string{"realm": "api@example.org", "qop": "auth", "algorithm": "SHA-512-256",
			"nonce": "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", "opaque": "HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS",
			"charset": "UTF-8", "userhash": "true"}},
	{name: "7616-3.9.2 credentials userhash", in: "Digest\r\n    username=\"488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec\",\r\n    realm=\"api@example.org\",\r\n    uri=\"/doe.json\",\r\n    algorithm=SHA-512-256,\r\n    nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n    nc=00000001,\r\n    cnonce=\"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v\",\r\n    qop=auth,\r\n    response=\"ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd\",\r\n    opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n    userhash=true",
		scheme: "Digest", params: map[string]string{"username": "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec",
			"uri": "/doe.json", "algorithm": "SHA-512-256", "cnonce": "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
			"response": "ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd", "userhash": "true"},
		absent: []string{"username*"}},
	{name: "7616-3.9.2 credentials username*", in: "Digest\r\n    username*=UTF-8''J%C3%A4s%C3%B8n%20Doe,\r\n    realm=\"api@example.org\",\r\n    uri=\"/doe.json\",\r\n    algorithm=SHA-512-256,\r\n    nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\",\r\n    nc=00000001,\r\n    cnonce=\"NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v\",\r\n    qop=auth,\r\n    response=\"ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd\",\r\n    opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\",\r\n    userhash=false",
		scheme: "Digest", params: map[string]string{"username*": "UTF-8''J%C3%A4s%C3%B8n%20Doe", "realm": "api@example.org", "userhash": "false"},
		absent: []string{"username"}},

	// RFC 8760 §2.7: request-digest = LDQUOT *LHEX RDQUOT (may be empty).
	{name: "8760-2.7 empty response before a challenge", in: `Digest username="bob", realm="biloxi.com", nonce="", uri="sip:biloxi.com", response=""`,
		scheme: "Digest", params: map[string]string{"username": "bob", "realm": "biloxi.com", "nonce": "", "uri": "sip:biloxi.com", "response": ""}},
	{name: "8760-2.7 SHA-512-256-sess", in: `Digest realm="biloxi.com", qop="auth", algorithm=SHA-512-256-sess, nonce="abc"`,
		scheme: "Digest", params: map[string]string{"algorithm": "SHA-512-256-sess", "qop": "auth"}},

	// RFC 3261 §25.1: quoted-pair, case-insensitive names, EQUAL = SWS "=" SWS.
	{name: "quoted-pairs in realm", in: `Digest realm="a \"quoted\" \\realm", nonce="x,y"`,
		scheme: "Digest", params: map[string]string{"realm": `a "quoted" \realm`, "nonce": "x,y"}},
	{name: "name case and LWS around =", in: "Digest REALM = \"atlanta.com\" , Nonce=abc",
		scheme: "Digest", params: map[string]string{"realm": "atlanta.com", "Realm": "atlanta.com", "nonce": "abc"}},
	{name: "other scheme", in: `Newauth realm="apps", type=1, title="Login to \"apps\""`,
		scheme: "Newauth", params: map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}},
	{name: "scheme only", in: "Digest", scheme: "Digest", absent: []string{"realm"}},
}

func TestAuthRFCExamples(t *testing.T) {
	for _, tc := range authRFCValid {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAuth(tc.in)
			if err != nil {
				t.Fatalf("ParseAuth(%q): %v", tc.in, err)
			}
			if a.Scheme != tc.scheme {
				t.Errorf("Scheme = %q, want %q", a.Scheme, tc.scheme)
			}
			for n, want := range tc.params {
				got, ok := a.Param(n)
				if !ok || got != want {
					t.Errorf("Param(%q) = %q, %v; want %q, true", n, got, ok, want)
				}
			}
			for _, n := range tc.absent {
				if got, ok := a.Param(n); ok {
					t.Errorf("Param(%q) = %q, want absent", n, got)
				}
			}
			b, err := ParseAuth(a.String())
			if err != nil {
				t.Fatalf("ParseAuth(String() = %q): %v", a.String(), err)
			}
			if b != a {
				t.Errorf("parse(String()) = %#v, want %#v", b, a)
			}
		})
	}
}

func TestAuthRFCMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		`"Digest" realm="a"`,                // scheme is a token
		`Digest=realm`,                      // no LWS after the scheme
		`Digest realm`,                      // auth-param needs "="
		`Digest realm=`,                     // and a value
		`Digest realm="atlanta.com`,         // unterminated quoted-string
		`Digest realm="a" nonce="b"`,        // missing comma
		`Digest realm="a",,nonce="b"`,       // empty auth-param
		`Digest ,realm="a"`,                 // empty auth-param
		`Digest realm=atlanta com`,          // LWS in a token value
		`Digest username=Alice Smith`,       // same
		`Digest re@lm="a"`,                  // bad name
		`Digest realm="a"x, nonce="b"`,      // junk after the quoted-string
		`Digest realm=<sip:atlanta.com>`,    // not a token
		"Digest realm=\"a\",\r\n nonce=\"b", // unterminated, folded
	} {
		a, err := ParseAuth(in)
		if err == nil {
			t.Errorf("ParseAuth(%q) = %#v, want an error", in, a)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseAuth(%q): %v does not match ErrMalformed", in, err)
		}
	}
}

func TestCSeqRFC(t *testing.T) {
	for _, tc := range []struct {
		in     string
		seq    uint32
		method string
		str    string
	}{
		{"4711 INVITE", 4711, "INVITE", "4711 INVITE"},       // RFC 3261 §20.16
		{"314159 INVITE", 314159, "INVITE", "314159 INVITE"}, // RFC 3261 §4
		{"63104 OPTIONS", 63104, "OPTIONS", "63104 OPTIONS"}, // RFC 3261 §11.1
		{"98176 REGISTER", 98176, "REGISTER", "98176 REGISTER"},
		{"0 ACK", 0, "ACK", "0 ACK"},
		{"2147483647 BYE", 2147483647, "BYE", "2147483647 BYE"},
		{"4294967295 BYE", 4294967295, "BYE", "4294967295 BYE"}, // §20.16: 32 bits
		{"  321 \t BYE  ", 321, "BYE", "321 BYE"},               // LWS
		{"1\r\n INFO", 1, "INFO", "1 INFO"},                     // folded LWS
		{"007 CANCEL", 7, "CANCEL", "7 CANCEL"},
		{"8 NEWMETHOD-x.1", 8, "NEWMETHOD-x.1", "8 NEWMETHOD-x.1"}, // extension-method = token
		{"9 invite", 9, "invite", "9 invite"},                      // method is case-sensitive: kept as written
	} {
		c, err := ParseCSeq(tc.in)
		if err != nil {
			t.Errorf("ParseCSeq(%q): %v", tc.in, err)
			continue
		}
		if c.Seq != tc.seq || c.Method != tc.method {
			t.Errorf("ParseCSeq(%q) = %d %q, want %d %q", tc.in, c.Seq, c.Method, tc.seq, tc.method)
		}
		if s := c.String(); s != tc.str {
			t.Errorf("String() = %q, want %q", s, tc.str)
		}
		if d, err := ParseCSeq(c.String()); err != nil || d != c {
			t.Errorf("parse(String()) = %v, %v; want %v", d, err, c)
		}
	}
	for _, in := range []string{
		"",
		"INVITE",                      // no number
		"4711",                        // no method
		"4711 ",                       // no method
		"4711INVITE",                  // LWS required
		"-1 INVITE",                   // not 1*DIGIT
		"+1 INVITE",                   // not 1*DIGIT
		"0x10 INVITE",                 // not decimal
		"47 11 INVITE",                // two numbers
		"4711 INV ITE",                // method is one token
		"4711 INVITE,",                // not a token
		"4711 INVITE;x=1",             // no parameters
		"4294967296 INVITE",           // RFC 3261 §20.16: 32 bits
		"4294967296 INVITE",           // RFC 3261 §20.16: beyond 32 bits
		"36893488147419103232 INVITE", // RFC 4475 §3.1.2.4 overflow
	} {
		if c, err := ParseCSeq(in); err == nil {
			t.Errorf("ParseCSeq(%q) = %v, want an error", in, c)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCSeq(%q): %v does not match ErrMalformed", in, err)
		}
	}
}

// Header parameter lists (RFC 3261 §7.3.1: names are case-insensitive,
// values kept as written).
func TestParamsRFC(t *testing.T) {
	p := Params("branch=z9hG4bK776asdhds ;Received=192.0.2.1;rport;x=\"a;b=c\";maddr=[2001:db8::1]")
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"branch", "z9hG4bK776asdhds", true},
		{"BRANCH", "z9hG4bK776asdhds", true},
		{"received", "192.0.2.1", true},
		{"rport", "", true},
		{"x", `"a;b=c"`, true},
		{"b", "", false}, // inside a quoted-string
		{"maddr", "[2001:db8::1]", true},
		{"ttl", "", false},
	} {
		if v, ok := p.Get(tc.name); v != tc.value || ok != tc.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tc.name, v, ok, tc.value, tc.ok)
		}
	}
	var names []string
	for n := range p.All() {
		names = append(names, n)
	}
	if want := []string{"branch", "Received", "rport", "x", "maddr"}; len(names) != len(want) {
		t.Errorf("All() names = %q, want %q", names, want)
	} else {
		for i := range want {
			if names[i] != want[i] {
				t.Errorf("All() names = %q, want %q", names, want)
				break
			}
		}
	}
	if got := Params("received=192.0.2.1;branch=z9hG4bK1").With("rport", "5060"); got != "received=192.0.2.1;branch=z9hG4bK1;rport=5060" {
		t.Errorf("With append = %q", got)
	}
	if got := Params("rport;branch=z9hG4bK1").With("RPORT", "5060"); got != "RPORT=5060;branch=z9hG4bK1" {
		t.Errorf("With replace = %q", got)
	}
	if got := Params("").With("lr", ""); got != "lr" {
		t.Errorf("With flag = %q", got)
	}
	if got := Params("tag=1;lr;x=2;LR").Without("lr"); got != "tag=1;x=2" {
		t.Errorf("Without = %q", got)
	}
	if got := Params("tag=1").Without("lr"); got != "tag=1" {
		t.Errorf("Without absent = %q", got)
	}
}

// TestAuthAll: All yields every auth-param in order, values unquoted and
// quoted-pairs resolved, names as written.
func TestAuthAll(t *testing.T) {
	a, err := ParseAuth(`Digest username="al\"ice", Realm=example.com, nc=00000001, uri="sip:x;a=\"b\""`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for n, v := range a.All() {
		got = append(got, n+"="+v)
	}
	want := []string{`username=al"ice`, "Realm=example.com", "nc=00000001", `uri=sip:x;a="b"`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("All = %q, want %q", got, want)
	}
}
