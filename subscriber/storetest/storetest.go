// Package storetest is the conformance suite of subscriber.Store. Every
// backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{
//			Open: func(t *testing.T, dir string) subscriber.Store {
//				s, err := subscriber.OpenSQLite(filepath.Join(dir, subscriber.FileName))
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			},
//			Durable: true,
//		})
//	}
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip/digest"
	"github.com/switchboard-sip/switchboard/subscriber"
)

// Backend describes the store under test.
type Backend struct {
	// Open opens the store kept in dir, an empty directory for Run's
	// first Open of it. It calls t.Fatal when it cannot. Run closes
	// every store it opens; Open need not arrange that.
	Open func(t *testing.T, dir string) subscriber.Store
	// Durable says that accounts outlive Close: a store opened again on
	// the same dir holds what the closed one held.
	Durable bool
}

// Run checks that the stores b opens keep the contract of
// subscriber.Store, each aspect in a subtest of its own.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"Empty", testEmpty},
		{"AddGet", testAddGet},
		{"AddExists", testAddExists},
		{"PutAddsAndReplaces", testPut},
		{"Delete", testDelete},
		{"ListOrder", testListOrder},
		{"Case", testCase},
		{"Invalid", testInvalid},
		{"OneHA1", testOneHA1},
		{"Canceled", testCanceled},
		{"Close", testClose},
		{"Reopen", testReopen},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ConcurrentAdds", testConcurrentAdds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// when is the time of the accounts the suite writes: not UTC, and with
// nanoseconds, which a store must keep.
var when = time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))

// open opens a store in dir and closes it when the test ends.
func open(t *testing.T, b Backend, dir string) subscriber.Store {
	t.Helper()
	s := b.Open(t, dir)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func fresh(t *testing.T, b Backend) subscriber.Store {
	t.Helper()
	return open(t, b, t.TempDir())
}

// account returns the account of user@domain with password, created at
// when and updated later.
func account(t *testing.T, user, domain, password string) subscriber.Account {
	t.Helper()
	a, err := subscriber.NewAccount(user, domain, password, when)
	if err != nil {
		t.Fatal(err)
	}
	a.Updated = when.Add(time.Hour + time.Nanosecond)
	return a
}

// equal reports whether a and b hold the same account, times compared as
// instants.
func equal(a, b subscriber.Account) bool {
	return a.User == b.User && a.Domain == b.Domain && a.HA1MD5 == b.HA1MD5 && a.HA1SHA256 == b.HA1SHA256 &&
		a.Created.Equal(b.Created) && a.Updated.Equal(b.Updated)
}

func show(a subscriber.Account) string {
	return fmt.Sprintf("{%s md5=%s sha256=%s created=%s updated=%s}", a.Address(), a.HA1MD5, a.HA1SHA256,
		a.Created.Format(time.RFC3339Nano), a.Updated.Format(time.RFC3339Nano))
}

// mustGet fails t unless s holds want under (user, domain).
func mustGet(t *testing.T, s subscriber.Store, user, domain string, want subscriber.Account) {
	t.Helper()
	got, ok, err := s.Get(t.Context(), user, domain)
	if err != nil || !ok || !equal(got, want) {
		t.Fatalf("Get(%q, %q) = %s, %v, %v; want %s, true, nil", user, domain, show(got), ok, err, show(want))
	}
	if got.Created.Location() != time.UTC || got.Updated.Location() != time.UTC {
		t.Errorf("Get(%q, %q): times %v, %v; want them in UTC", user, domain, got.Created, got.Updated)
	}
}

// mustMiss fails t unless s holds nothing under (user, domain).
func mustMiss(t *testing.T, s subscriber.Store, user, domain string) {
	t.Helper()
	got, ok, err := s.Get(t.Context(), user, domain)
	if err != nil || ok {
		t.Fatalf("Get(%q, %q) = %s, %v, %v; want nothing, false, nil", user, domain, show(got), ok, err)
	}
}

// mustList fails t unless s.List returns want, in order.
func mustList(t *testing.T, s subscriber.Store, want ...subscriber.Account) {
	t.Helper()
	got, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.EqualFunc(got, want, equal) {
		var g, w []string
		for _, a := range got {
			g = append(g, show(a))
		}
		for _, a := range want {
			w = append(w, show(a))
		}
		t.Fatalf("List:\n got %v\nwant %v", g, w)
	}
}

func mustPut(t *testing.T, s subscriber.Store, accounts ...subscriber.Account) {
	t.Helper()
	for _, a := range accounts {
		if err := s.Put(t.Context(), a); err != nil {
			t.Fatalf("Put(%s): %v", show(a), err)
		}
	}
}

func testEmpty(t *testing.T, b Backend) {
	s := fresh(t, b)
	mustMiss(t, s, "alice", "example.com")
	mustList(t, s)
	if d, err := s.Domains(t.Context()); err != nil || len(d) != 0 {
		t.Errorf("Domains = %q, %v; want none", d, err)
	}
	if ok, err := s.Delete(t.Context(), "alice", "example.com"); ok || err != nil {
		t.Errorf("Delete of a missing account = %v, %v; want false, nil", ok, err)
	}
}

func testAddGet(t *testing.T, b Backend) {
	s := fresh(t, b)
	a := account(t, "alice", "example.com", "secret")
	if err := s.Add(t.Context(), a); err != nil {
		t.Fatalf("Add: %v", err)
	}
	mustGet(t, s, "alice", "example.com", a)
	mustMiss(t, s, "bob", "example.com")
	mustMiss(t, s, "alice", "example.org")
	mustList(t, s, a)
}

func testAddExists(t *testing.T, b Backend) {
	s := fresh(t, b)
	a := account(t, "alice", "example.com", "secret")
	if err := s.Add(t.Context(), a); err != nil {
		t.Fatalf("Add: %v", err)
	}
	again := account(t, "alice", "example.com", "other")
	if err := s.Add(t.Context(), again); !errors.Is(err, subscriber.ErrExists) {
		t.Fatalf("second Add = %v; want ErrExists", err)
	}
	mustGet(t, s, "alice", "example.com", a)
}

func testPut(t *testing.T, b Backend) {
	s := fresh(t, b)
	a := account(t, "alice", "example.com", "secret")
	mustPut(t, s, a)
	mustGet(t, s, "alice", "example.com", a)
	changed, err := a.WithPassword("new secret", when.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, changed)
	mustGet(t, s, "alice", "example.com", changed)
	mustList(t, s, changed)
}

func testDelete(t *testing.T, b Backend) {
	s := fresh(t, b)
	a := account(t, "alice", "example.com", "secret")
	other := account(t, "alice", "example.org", "secret")
	mustPut(t, s, a, other)
	if ok, err := s.Delete(t.Context(), "alice", "example.com"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v; want true, nil", ok, err)
	}
	mustMiss(t, s, "alice", "example.com")
	mustGet(t, s, "alice", "example.org", other)
	if ok, err := s.Delete(t.Context(), "alice", "example.com"); ok || err != nil {
		t.Fatalf("second Delete = %v, %v; want false, nil", ok, err)
	}
	if err := s.Add(t.Context(), a); err != nil {
		t.Fatalf("Add after Delete: %v", err)
	}
	mustList(t, s, a, other)
}

func testListOrder(t *testing.T, b Backend) {
	s := fresh(t, b)
	// In the order List must return them: by domain, then user, both in
	// byte order.
	want := []subscriber.Account{
		account(t, "eve", "192.0.2.1", "p"),
		account(t, "dave", "[2001:db8::1]", "p"),
		account(t, "carol", "a.example.org", "p"),
		account(t, "alice", "b.example", "p"),
		account(t, "Zed", "example.com", "p"),
		account(t, "alice", "example.com", "p"),
		account(t, "alice.smith", "example.com", "p"),
		account(t, "bob", "example.com", "p"),
	}
	for _, i := range []int{5, 2, 7, 0, 4, 6, 1, 3} {
		mustPut(t, s, want[i])
	}
	mustList(t, s, want...)
	d, err := s.Domains(t.Context())
	if wantD := []string{"192.0.2.1", "[2001:db8::1]", "a.example.org", "b.example", "example.com"}; err != nil || !slices.Equal(d, wantD) {
		t.Errorf("Domains = %q, %v; want %q", d, err, wantD)
	}
}

func testCase(t *testing.T, b Backend) {
	s := fresh(t, b)
	// Built by hand, as another tool might: the store lower-cases the
	// domain (and drops a final dot), never the user.
	upper := subscriber.Account{
		User:    "Alice",
		Domain:  "EXAMPLE.com.",
		HA1MD5:  digest.MD5.HA1("Alice", "example.com", "secret"),
		Created: when,
		Updated: when,
	}
	mustPut(t, s, upper)
	stored := upper
	stored.Domain = "example.com"
	for _, domain := range []string{"example.com", "EXAMPLE.COM", "Example.Com."} {
		mustGet(t, s, "Alice", domain, stored)
	}
	mustMiss(t, s, "alice", "example.com")
	mustMiss(t, s, "ALICE", "example.com")
	lower := account(t, "alice", "Example.COM", "secret")
	if err := s.Add(t.Context(), lower); err != nil {
		t.Fatalf("Add of alice beside Alice: %v", err)
	}
	mustList(t, s, stored, lower)
	if d, err := s.Domains(t.Context()); err != nil || !slices.Equal(d, []string{"example.com"}) {
		t.Errorf("Domains = %q, %v; want [example.com]", d, err)
	}
	if ok, err := s.Delete(t.Context(), "Alice", "Example.Com"); !ok || err != nil {
		t.Fatalf("Delete(Alice, Example.Com) = %v, %v; want true, nil", ok, err)
	}
	mustList(t, s, lower)
}

func testInvalid(t *testing.T, b Backend) {
	s := fresh(t, b)
	good := account(t, "alice", "example.com", "secret")
	bad := map[string]func(a *subscriber.Account){
		"empty user":         func(a *subscriber.Account) { a.User = "" },
		"user with @":        func(a *subscriber.Account) { a.User = "al@ice" },
		"user with :":        func(a *subscriber.Account) { a.User = "alice:secret" },
		"user with space":    func(a *subscriber.Account) { a.User = "al ice" },
		"user with tab":      func(a *subscriber.Account) { a.User = "alice\t" },
		"user with control":  func(a *subscriber.Account) { a.User = "al\x00ice" },
		"user with raw utf8": func(a *subscriber.Account) { a.User = "zoë" },
		"user with bad %":    func(a *subscriber.Account) { a.User = "al%4" },
		"empty domain":       func(a *subscriber.Account) { a.Domain = "" },
		"domain with port":   func(a *subscriber.Account) { a.Domain = "example.com:5060" },
		"domain with _":      func(a *subscriber.Account) { a.Domain = "ex_ample.com" },
		"bare IPv6":          func(a *subscriber.Account) { a.Domain = "2001:db8::1" },
		"bad IPv4":           func(a *subscriber.Account) { a.Domain = "192.0.2.256" },
		"no HA1":             func(a *subscriber.Account) { a.HA1MD5, a.HA1SHA256 = "", "" },
		"upper-case HA1":     func(a *subscriber.Account) { a.HA1MD5 = "ABCDEF0123456789ABCDEF0123456789" },
		"short HA1":          func(a *subscriber.Account) { a.HA1SHA256 = a.HA1MD5 },
	}
	for name, spoil := range bad {
		a := good
		spoil(&a)
		if err := s.Put(t.Context(), a); err == nil {
			t.Errorf("%s: Put(%s) succeeded; want an error", name, show(a))
		}
		if err := s.Add(t.Context(), a); err == nil || errors.Is(err, subscriber.ErrExists) {
			t.Errorf("%s: Add(%s) = %v; want a validation error", name, show(a), err)
		}
	}
	mustList(t, s)
	// A name that cannot be stored is not found, without an error: the
	// server looks up whatever a request's credentials say.
	for _, k := range [][2]string{{"", "example.com"}, {"a b", "example.com"}, {"alice", ""}, {"alice", "exa mple.com"}, {"alice", "::1"}} {
		mustMiss(t, s, k[0], k[1])
		if ok, err := s.Delete(t.Context(), k[0], k[1]); ok || err != nil {
			t.Errorf("Delete(%q, %q) = %v, %v; want false, nil", k[0], k[1], ok, err)
		}
	}
}

func testOneHA1(t *testing.T, b Backend) {
	s := fresh(t, b)
	a := account(t, "alice", "example.com", "secret")
	a.HA1MD5 = ""
	mustPut(t, s, a)
	mustGet(t, s, "alice", "example.com", a)
	got, _, _ := s.Get(t.Context(), "alice", "example.com")
	if _, ok := got.HA1(digest.MD5); ok {
		t.Error("an account stored without an MD5 HA1 came back with one")
	}
}

func testCanceled(t *testing.T, b Backend) {
	s := fresh(t, b)
	a := account(t, "alice", "example.com", "secret")
	mustPut(t, s, a)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Get(ctx, "alice", "example.com"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v; want context.Canceled", err)
	}
	if err := s.Put(ctx, account(t, "bob", "example.com", "x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: %v; want context.Canceled", err)
	}
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context: %v; want context.Canceled", err)
	}
	mustList(t, s, a)
}

func testClose(t *testing.T, b Backend) {
	s := b.Open(t, t.TempDir())
	a := account(t, "alice", "example.com", "secret")
	mustPut(t, s, a)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	check := func(op string, err error) {
		if !errors.Is(err, subscriber.ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", op, err)
		}
	}
	check("Put", s.Put(ctx, a))
	check("Add", s.Add(ctx, account(t, "bob", "example.com", "x")))
	_, _, err := s.Get(ctx, "alice", "example.com")
	check("Get", err)
	_, err = s.Delete(ctx, "alice", "example.com")
	check("Delete", err)
	_, err = s.List(ctx)
	check("List", err)
	_, err = s.Domains(ctx)
	check("Domains", err)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v; want nil", err)
	}
}

func testReopen(t *testing.T, b Backend) {
	if !b.Durable {
		t.Skip("the backend is not durable")
	}
	dir := t.TempDir()
	s := b.Open(t, dir)
	a := account(t, "alice", "example.com", "secret")
	gone := account(t, "bob", "example.com", "secret")
	mustPut(t, s, a, gone)
	if _, err := s.Delete(t.Context(), "bob", "example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = open(t, b, dir)
	mustGet(t, s, "alice", "example.com", a)
	mustMiss(t, s, "bob", "example.com")
	mustList(t, s, a)
}

func testConcurrentPuts(t *testing.T, b Backend) {
	s := fresh(t, b)
	const writers, each = 8, 10
	shared := account(t, "shared", "example.com", "p")
	var wg sync.WaitGroup
	var want []subscriber.Account
	for w := range writers {
		var mine []subscriber.Account
		for i := range each {
			mine = append(mine, account(t, fmt.Sprintf("u%d-%d", w, i), fmt.Sprintf("d%d.example", w%3), "p"))
		}
		want = append(want, mine...)
		wg.Go(func() {
			for _, a := range mine {
				if err := s.Put(t.Context(), a); err != nil {
					t.Errorf("Put(%s): %v", a.Address(), err)
				}
				if err := s.Put(t.Context(), shared); err != nil {
					t.Errorf("Put(%s): %v", shared.Address(), err)
				}
				if got, ok, err := s.Get(t.Context(), a.User, a.Domain); err != nil || !ok || !equal(got, a) {
					t.Errorf("Get(%s) after Put = %s, %v, %v", a.Address(), show(got), ok, err)
				}
			}
		})
	}
	wg.Wait()
	want = append(want, shared)
	slices.SortFunc(want, func(x, y subscriber.Account) int {
		return cmp.Or(cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.User, y.User))
	})
	mustList(t, s, want...)
}

func testConcurrentAdds(t *testing.T, b Backend) {
	s := fresh(t, b)
	const adders = 8
	var wg sync.WaitGroup
	errs := make([]error, adders)
	var tries []subscriber.Account
	for i := range adders {
		tries = append(tries, account(t, "alice", "example.com", fmt.Sprint("password ", i)))
	}
	for i, a := range tries {
		wg.Go(func() { errs[i] = s.Add(t.Context(), a) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Errorf("Adds %d and %d of one account both succeeded", won, i)
		case !errors.Is(err, subscriber.ErrExists):
			t.Errorf("Add %d: %v; want nil or ErrExists", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no Add succeeded")
	}
	mustGet(t, s, "alice", "example.com", tries[won])
}
