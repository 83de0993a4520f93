package digest

import "testing"

// TestRFCVectors: the worked examples of RFC 2617 §3.5 (MD5) and RFC 7616
// §3.9.1 (MD5 and SHA-256), user Mufasa, GET /dir/index.html, qop=auth.
func TestRFCVectors(t *testing.T) {
	cases := []struct {
		name, alg, realm, pass, nonce, cnonce, want string
	}{
		{"RFC 2617 §3.5", "", "testrealm@host.com", "Circle Of Life",
			"dcd98b7102dd2f0e8b11d0f600bfb0c093", "0a4f113b", "6629fae49393a05397450978507c4ef1"},
		{"RFC 7616 §3.9.1 MD5", "MD5", "http-auth@example.org", "Circle of Life",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			"8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 §3.9.1 SHA-256", "sha-256", "http-auth@example.org", "Circle of Life",
			"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, c := range cases {
		a, ok := ParseAlgorithm(c.alg)
		if !ok {
			t.Fatalf("%s: algorithm %q not supported", c.name, c.alg)
		}
		ha1 := a.HA1("Mufasa", c.realm, c.pass)
		got := a.Response(ha1, c.nonce, "00000001", c.cnonce, "auth", "GET", "/dir/index.html")
		if !Equal(got, c.want) {
			t.Errorf("%s: response %s, want %s", c.name, got, c.want)
		}
	}
}

// TestRFC2069: without qop, KD(HA1, nonce:HA2), checked against the value
// written out by hand from RFC 2617 §3.2.2.1's definition.
func TestRFC2069(t *testing.T) {
	ha1 := MD5.HA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	if ha1 != "939e7578ed9e3c518a452acee763bce9" {
		t.Fatalf("HA1 %s", ha1)
	}
	ha2 := MD5.h("GET", "/dir/index.html")
	if got, want := MD5.Response(ha1, "n", "", "", "", "GET", "/dir/index.html"), MD5.h(ha1, "n", ha2); got != want {
		t.Errorf("without qop: %s, want %s", got, want)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, s := range []string{"SHA-512-256", "MD5-sess", "SHA-256-sess", "x"} {
		if _, ok := ParseAlgorithm(s); ok {
			t.Errorf("%s accepted though not implemented", s)
		}
	}
	if Equal("abc", "abd") || Equal("abc", "ab") || !Equal("abc", "abc") {
		t.Error("Equal")
	}
}
