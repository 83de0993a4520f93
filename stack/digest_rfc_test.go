package stack

import (
	"strings"
	"testing"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestDigestRFCVectors checks the client's digest arithmetic against the
// worked examples of RFC 2617 §3.5 (MD5) and RFC 7616 §3.9.1 (MD5, SHA-256).
func TestDigestRFCVectors(t *testing.T) {
	cases := []struct {
		name, challenge, pass, cnonce, want string
	}{
		{"RFC 2617 §3.5 MD5",
			`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
			"Circle Of Life", "0a4f113b", "6629fae49393a05397450978507c4ef1"},
		{"RFC 7616 §3.9.1 MD5",
			`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			"Circle of Life", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "8ca523f5e9506fed4657c9700eebdbec"},
		{"RFC 7616 §3.9.1 SHA-256",
			`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
			"Circle of Life", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := sip.ParseAuth(c.challenge)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := digestResponse(ch, "Mufasa", c.pass, "GET", "/dir/index.html", c.cnonce)
			if err != nil {
				t.Fatal(err)
			}
			a, err := sip.ParseAuth(cred)
			if err != nil {
				t.Fatalf("credentials do not parse: %v\n%s", err, cred)
			}
			if got, _ := a.Param("response"); got != c.want {
				t.Errorf("response = %s, want %s", got, c.want)
			}
			for _, p := range []string{"username", "realm", "nonce", "uri", "nc", "cnonce", "qop", "opaque"} {
				if _, ok := a.Param(p); !ok {
					t.Errorf("credentials lack %s: %s", p, cred)
				}
			}
			if !strings.HasPrefix(cred, "Digest ") {
				t.Errorf("scheme: %s", cred)
			}
		})
	}
	ch, _ := sip.ParseAuth(`Digest realm="r", nonce="n", algorithm=SHA-512-256`)
	if _, err := digestResponse(ch, "u", "p", "REGISTER", "sip:r", "c"); err == nil {
		t.Error("SHA-512-256 accepted though it is not implemented")
	}
}
