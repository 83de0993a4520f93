package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip/digest"
	"github.com/switchboard-sip/switchboard/subscriber"
)

var now = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func TestNewAccount(t *testing.T) {
	a, err := subscriber.NewAccount("Alice.Smith", "Example.COM", "secret", now)
	if err != nil {
		t.Fatal(err)
	}
	want := subscriber.Account{
		User:      "Alice.Smith",
		Domain:    "example.com",
		HA1MD5:    digest.MD5.HA1("Alice.Smith", "example.com", "secret"),
		HA1SHA256: digest.SHA256.HA1("Alice.Smith", "example.com", "secret"),
		Created:   now,
		Updated:   now,
	}
	if a != want {
		t.Errorf("NewAccount = %+v\nwant %+v", a, want)
	}
	b, err := a.WithPassword("other", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Created.Equal(now) || !b.Updated.Equal(now.Add(time.Hour)) || b.HA1MD5 != digest.MD5.HA1("Alice.Smith", "example.com", "other") {
		t.Errorf("WithPassword = %+v", b)
	}
	if _, err := a.WithPassword("", now); err == nil {
		t.Error("WithPassword accepted an empty password")
	}
}

func TestNewAccountNames(t *testing.T) {
	good := []struct{ user, domain, wantDomain string }{
		{"alice", "example.com", "example.com"},
		{"+15551234567;npdi", "EXAMPLE.com.", "example.com"},
		{"a-b_c.d!e~f*g'h(i)j&k=l+m$n,o;p?q/r", "sip-1.example.org", "sip-1.example.org"},
		{"%41lice%20b", "localhost", "localhost"},
		{"1000", "192.0.2.1", "192.0.2.1"},
		{"1000", "[2001:DB8::1]", "[2001:db8::1]"},
		{"x", "a1.b2.c3", "a1.b2.c3"},
	}
	for _, c := range good {
		a, err := subscriber.NewAccount(c.user, c.domain, "p", now)
		if err != nil || a.User != c.user || a.Domain != c.wantDomain {
			t.Errorf("NewAccount(%q, %q) = %q@%q, %v; want %q@%q", c.user, c.domain, a.User, a.Domain, err, c.user, c.wantDomain)
		}
	}
	bad := []struct{ user, domain, why string }{
		{"", "example.com", "empty user"},
		{"al@ice", "example.com", `'@'`},
		{"alice:pw", "example.com", `':'`},
		{"al ice", "example.com", `' '`},
		{"alice\n", "example.com", `'\n'`},
		{"\x7f", "example.com", `'\x7f'`},
		{"zoë", "example.com", `'ë'`},
		{"100%", "example.com", "escape"},
		{"a%zz", "example.com", "escape"},
		{"alice", "", "empty domain"},
		{"alice", "example..com", "label"},
		{"alice", "-example.com", "label"},
		{"alice", "example-.com", "label"},
		{"alice", "example.123", "label"},
		{"alice", "exa mple.com", "label"},
		{"alice", "example.com:5060", "':'"},
		{"alice", "2001:db8::1", "brackets"},
		{"alice", "[2001:db8::1", "IPv6"},
		{"alice", "[192.0.2.1]", "IPv6"},
		{"alice", "[fe80::1%eth0]", "IPv6"},
		{"alice", "192.0.2", "IPv4"},
		{"alice", "256.0.0.1", "IPv4"},
		{"alice", strings.Repeat("a", 64) + ".com", "label"},
		{"alice", strings.Repeat("abcdefghi.", 26) + "com", "253"},
	}
	for _, c := range bad {
		_, err := subscriber.NewAccount(c.user, c.domain, "p", now)
		if err == nil || !strings.HasPrefix(err.Error(), "subscriber: ") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("NewAccount(%q, %q) = %v; want an error about %s", c.user, c.domain, err, c.why)
		}
	}
	if _, err := subscriber.NewAccount("alice", "example.com", "", now); err == nil {
		t.Error("NewAccount accepted an empty password")
	}
}

func TestParseAddress(t *testing.T) {
	u, d, err := subscriber.ParseAddress("Bob@Example.Org")
	if u != "Bob" || d != "example.org" || err != nil {
		t.Errorf("ParseAddress = %q, %q, %v", u, d, err)
	}
	for _, s := range []string{"", "bob", "@example.org", "bob@", "bob@example.org@x", "sip:bob@example.org"} {
		if _, _, err := subscriber.ParseAddress(s); err == nil {
			t.Errorf("ParseAddress(%q) succeeded", s)
		}
	}
}

// failing is a Store whose reads fail.
type failing struct{ subscriber.Memory }

func (*failing) Get(context.Context, string, string) (subscriber.Account, bool, error) {
	return subscriber.Account{}, false, errors.New("subscriber: disk on fire")
}

func TestCredentials(t *testing.T) {
	ctx := t.Context()
	s := new(subscriber.Memory)
	a, err := subscriber.NewAccount("alice", "example.com", "secret", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	sha, err := subscriber.NewAccount("bob", "example.com", "hunter2", now)
	if err != nil {
		t.Fatal(err)
	}
	sha.HA1MD5 = "" // a SHA-256-only account refuses MD5
	if err := s.Put(ctx, sha); err != nil {
		t.Fatal(err)
	}
	c := subscriber.Credentials{Store: s}
	cases := []struct {
		user, realm string
		alg         digest.Algorithm
		want        string
		ok          bool
	}{
		{"alice", "example.com", digest.MD5, digest.MD5.HA1("alice", "example.com", "secret"), true},
		{"alice", "example.com", digest.SHA256, digest.SHA256.HA1("alice", "example.com", "secret"), true},
		{"alice", "example.com", digest.MD5, "b1726872c344b6dc8365b774f8fd6412", true},
		{"bob", "example.com", digest.SHA256, digest.SHA256.HA1("bob", "example.com", "hunter2"), true},
		{"bob", "example.com", digest.MD5, "", false},
		{"Alice", "example.com", digest.MD5, "", false},
		{"carol", "example.com", digest.MD5, "", false},
		{"alice", "example.org", digest.MD5, "", false},
		{"alice", "example.com", digest.Algorithm("SHA-512-256"), "", false},
		{"al ice", "example.com", digest.MD5, "", false},
	}
	for _, tc := range cases {
		got, ok, err := c.HA1(ctx, tc.user, tc.realm, tc.alg)
		if got != tc.want || ok != tc.ok || err != nil {
			t.Errorf("HA1(%q, %q, %s) = %q, %v, %v; want %q, %v, nil", tc.user, tc.realm, tc.alg, got, ok, err, tc.want, tc.ok)
		}
	}
	if _, ok, err := (subscriber.Credentials{Store: new(failing)}).HA1(ctx, "alice", "example.com", digest.MD5); ok || err == nil {
		t.Errorf("HA1 from a failing store = %v, %v; want false and the error", ok, err)
	}
}

func ExampleCredentials() {
	ctx := context.Background()
	store := new(subscriber.Memory)
	a, err := subscriber.NewAccount("alice", "Example.com", "secret", time.Now())
	if err != nil {
		panic(err)
	}
	if err := store.Add(ctx, a); err != nil {
		panic(err)
	}
	creds := subscriber.Credentials{Store: store}
	ha1, ok, err := creds.HA1(ctx, "alice", "example.com", digest.MD5)
	fmt.Println(ha1, ok, err)
	_, ok, err = creds.HA1(ctx, "bob", "example.com", digest.MD5)
	fmt.Println(ok, err)
	// Output:
	// b1726872c344b6dc8365b774f8fd6412 true <nil>
	// false <nil>
}
