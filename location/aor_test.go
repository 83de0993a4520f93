package location

import (
	"testing"

	"github.com/switchboard-sip/switchboard/sip"
)

func TestCanonicalAOR(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sip:alice@Example.COM", "sip:alice@example.com"},
		{"sips:alice@example.com;transport=tcp", "sip:alice@example.com"},
		{"sip:%61lice@example.com", "sip:alice@example.com"},
		{"sip:null-%00-null@example.com", "sip:null-%00-null@example.com"},
		{"sip:a%2fb@example.com", "sip:a/b@example.com"},
		{"sip:a%40b@example.com", "sip:a%40b@example.com"},
		{"sip:example.com", "sip:example.com"},
	} {
		u, err := sip.ParseURI(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := CanonicalAOR(&u); got != c.want {
			t.Errorf("CanonicalAOR(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
