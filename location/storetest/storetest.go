// Package storetest is the conformance suite of location.Store: every
// backend (the embedded SQLite store, Memory, and the shared stores to
// come) runs it from its tests.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Config{
//			Open: func(t *testing.T, dir string) location.Store {
//				s, err := location.Open(filepath.Join(dir, location.FileName))
//				if err != nil {
//					t.Fatal(err)
//				}
//				return s
//			},
//			Durable: true,
//		})
//	}
//
// Each case is a subtest with a store of its own, so a failure names the
// behaviour that broke. Times are fixed, not read from a clock: the suite
// passes now to every call, as the Store contract asks.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/location"
)

// An Opener opens a store for one subtest. dir is an empty directory the
// suite created for that subtest (t.TempDir()); a durable store keeps its
// data there, so that calling the Opener again with the same dir opens the
// same bindings. An Opener that cannot open the store calls t.Fatal.
//
// The suite closes every store it opens (and ignores ErrClosed from a
// store it closed itself); an Opener registers cleanups only for what it
// set up besides the store, such as a server or a database schema.
type Opener func(t *testing.T, dir string) location.Store

// Config describes the backend under test.
type Config struct {
	// Open opens a store; it is required.
	Open Opener
	// Durable says that bindings survive Close: Run then also closes
	// stores and reopens them with the same dir, and expects every
	// binding back with every field equal.
	Durable bool
}

// Run runs the conformance suite against the backend c describes.
func Run(t *testing.T, c Config) {
	t.Helper()
	if c.Open == nil {
		t.Fatal("storetest: Config.Open is nil")
	}
	s := suite{c}
	t.Run("AddLookup", s.addLookup)
	t.Run("RoundTrip", s.roundTrip)
	t.Run("Replace", s.replace)
	t.Run("RemoveAll", s.removeAll)
	t.Run("FnError", s.fnError)
	t.Run("Copies", s.copies)
	t.Run("AORField", s.aorField)
	t.Run("ExcludeExpired", s.excludeExpired)
	t.Run("FnSeesLive", s.fnSeesLive)
	t.Run("Expire", s.expire)
	t.Run("ListOrder", s.listOrder)
	t.Run("Independent", s.independent)
	t.Run("ConcurrentSameAOR", s.concurrentSameAOR)
	t.Run("ConcurrentAORs", s.concurrentAORs)
	t.Run("ConcurrentExpire", s.concurrentExpire)
	t.Run("Closed", s.closed)
	if c.Durable {
		t.Run("Reopen", s.reopen)
		t.Run("ReopenExpire", s.reopenExpire)
	}
	// The AsyncStore cases run when the backend is one.
	t.Run("Async", s.async)
	t.Run("AsyncFnError", s.asyncFnError)
	t.Run("AsyncConcurrentSameAOR", s.asyncConcurrentSameAOR)
	t.Run("AsyncClosed", s.asyncClosed)
}

type suite struct{ c Config }

// base returns the suite's "now". Its nanoseconds check that times
// round-trip exactly.
func base() time.Time { return time.Date(2026, time.March, 14, 15, 9, 26, 535897932, time.UTC) }

// open opens a store in a new directory.
func (s suite) open(t *testing.T) location.Store {
	t.Helper()
	st, _ := s.openIn(t, t.TempDir())
	return st
}

// openIn opens a store in dir and registers its Close.
func (s suite) openIn(t *testing.T, dir string) (location.Store, string) {
	t.Helper()
	st := s.c.Open(t, dir)
	if st == nil {
		t.Fatal("storetest: Opener returned nil")
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil && !errors.Is(err, location.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return st, dir
}

// binding returns a binding with every field set, distinct per aor and
// contact, expiring at exp.
func binding(aor, contact string, exp time.Time) location.Binding {
	return location.Binding{
		AOR:       aor,
		Contact:   contact,
		Params:    `+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1`,
		Q:         700,
		Expires:   exp,
		CallID:    "call-" + contact + "@host.example",
		CSeq:      4294967295,
		Path:      []string{"<sip:edge1.example.net;lr>", "<sip:edge2.example.net;lr;ob>"},
		Instance:  "<urn:uuid:00000000-0000-0000-0000-000000000001>",
		RegID:     1,
		Transport: "TLS",
		Source:    netip.MustParseAddrPort("[2001:db8::1]:50600"),
		Local:     netip.MustParseAddrPort("192.0.2.10:5061"),
		Conn:      1<<63 + 42,
		UserAgent: "Softphone/1.0 (test; \"quoted\")",
		Updated:   base().Add(-time.Second),
	}
}

// diff describes how got differs from want, field by field, or returns "".
// Times compare with time.Equal; a nil and an empty Path are equal.
func diff(want, got location.Binding) string {
	var d []string
	f := func(name string, eq bool, w, g any) {
		if !eq {
			d = append(d, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
		}
	}
	f("AOR", got.AOR == want.AOR, want.AOR, got.AOR)
	f("Contact", got.Contact == want.Contact, want.Contact, got.Contact)
	f("Params", got.Params == want.Params, want.Params, got.Params)
	f("Q", got.Q == want.Q, want.Q, got.Q)
	f("Expires", got.Expires.Equal(want.Expires), want.Expires, got.Expires)
	f("CallID", got.CallID == want.CallID, want.CallID, got.CallID)
	f("CSeq", got.CSeq == want.CSeq, want.CSeq, got.CSeq)
	f("Path", slices.Equal(got.Path, want.Path), want.Path, got.Path)
	f("Instance", got.Instance == want.Instance, want.Instance, got.Instance)
	f("RegID", got.RegID == want.RegID, want.RegID, got.RegID)
	f("Transport", got.Transport == want.Transport, want.Transport, got.Transport)
	f("Source", got.Source == want.Source, want.Source.String(), got.Source.String())
	f("Local", got.Local == want.Local, want.Local.String(), got.Local.String())
	f("Conn", got.Conn == want.Conn, want.Conn, got.Conn)
	f("UserAgent", got.UserAgent == want.UserAgent, want.UserAgent, got.UserAgent)
	f("Updated", got.Updated.Equal(want.Updated), want.Updated, got.Updated)
	return strings.Join(d, "; ")
}

// byContact sorts a copy of bs by AOR and contact.
func byContact(bs []location.Binding) []location.Binding {
	bs = slices.Clone(bs)
	slices.SortStableFunc(bs, func(a, b location.Binding) int {
		if c := strings.Compare(a.AOR, b.AOR); c != 0 {
			return c
		}
		return strings.Compare(a.Contact, b.Contact)
	})
	return bs
}

// same fails t unless got and want hold the same bindings; order matters
// only when ordered is set.
func same(t *testing.T, what string, got, want []location.Binding, ordered bool) {
	t.Helper()
	if !ordered {
		got, want = byContact(got), byContact(want)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d bindings %v, want %d %v", what, len(got), contacts(got), len(want), contacts(want))
		return
	}
	for i := range want {
		if d := diff(want[i], got[i]); d != "" {
			t.Errorf("%s: binding %d (%s %s): %s", what, i, want[i].AOR, want[i].Contact, d)
		}
	}
}

func contacts(bs []location.Binding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.AOR+" "+b.Contact)
	}
	return out
}

// set replaces the bindings of aor with bs (copied), failing t on error.
func set(t *testing.T, st location.Store, aor string, now time.Time, bs ...location.Binding) {
	t.Helper()
	_, err := st.Update(context.Background(), aor, now, func([]location.Binding) ([]location.Binding, error) {
		return slices.Clone(bs), nil
	})
	if err != nil {
		t.Fatalf("Update %s: %v", aor, err)
	}
}

func lookup(t *testing.T, st location.Store, aor string, now time.Time) []location.Binding {
	t.Helper()
	got, err := st.Lookup(context.Background(), aor, now)
	if err != nil {
		t.Fatalf("Lookup %s: %v", aor, err)
	}
	return got
}

func list(t *testing.T, st location.Store, now time.Time) []location.Binding {
	t.Helper()
	got, err := st.List(context.Background(), now)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

const (
	alice = "sip:alice@example.com"
	bob   = "sip:bob@example.com"
)

func (s suite) addLookup(t *testing.T) {
	st := s.open(t)
	if got := lookup(t, st, alice, base()); len(got) != 0 {
		t.Fatalf("Lookup of an unknown AOR = %v, want none", contacts(got))
	}
	b := binding(alice, "sip:alice@192.0.2.1:5060", base().Add(time.Hour))
	var seen []location.Binding
	got, err := st.Update(context.Background(), alice, base(), func(cur []location.Binding) ([]location.Binding, error) {
		seen = slices.Clone(cur)
		return append(cur, b), nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(seen) != 0 {
		t.Errorf("fn saw %v for a new AOR, want none", contacts(seen))
	}
	same(t, "Update's result", got, []location.Binding{b}, true)
	same(t, "Lookup", lookup(t, st, alice, base()), []location.Binding{b}, true)
}

func (s suite) roundTrip(t *testing.T) {
	st := s.open(t)
	full := binding(alice, "sip:alice@[2001:db8::1]:50600;transport=tls", base().Add(time.Hour))
	// Every field at an edge of its range, or empty.
	sparse := location.Binding{
		AOR:     alice,
		Contact: "sip:alice@192.0.2.2",
		Q:       -1,
		Expires: base().Add(90*time.Minute + 1),
	}
	mapped := binding(alice, "sip:alice@198.51.100.7", base().Add(2*time.Hour))
	mapped.Source = netip.MustParseAddrPort("[::ffff:198.51.100.7]:5060")
	mapped.Local = netip.MustParseAddrPort("[fe80::1%eth0]:5060")
	mapped.Path = []string{"<sip:only.example.net;lr>"}
	mapped.Q, mapped.RegID, mapped.Conn, mapped.CSeq = 1000, 0, 0, 0
	mapped.Transport = "UDP"
	mapped.Updated = base().In(time.FixedZone("UTC+5", 5*3600))
	want := []location.Binding{full, sparse, mapped}
	set(t, st, alice, base(), want...)
	same(t, "Lookup", lookup(t, st, alice, base()), want, false)
	same(t, "List", list(t, st, base()), want, false)
}

func (s suite) replace(t *testing.T) {
	st := s.open(t)
	c1 := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	c2 := binding(alice, "sip:alice@192.0.2.2", base().Add(time.Hour))
	set(t, st, alice, base(), c1, c2)

	// A refresh of c1 by a later REGISTER, c2 removed, c3 added.
	now := base().Add(10 * time.Minute)
	r1 := c1
	r1.Expires, r1.CSeq, r1.Updated, r1.Path = now.Add(time.Hour), 2, now, nil
	c3 := binding(alice, "sip:alice@192.0.2.3", now.Add(30*time.Minute))
	got, err := st.Update(context.Background(), alice, now, func(cur []location.Binding) ([]location.Binding, error) {
		same(t, "fn's current", cur, []location.Binding{c1, c2}, false)
		return []location.Binding{r1, c3}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	same(t, "Update's result", got, []location.Binding{r1, c3}, true)
	same(t, "Lookup", lookup(t, st, alice, now), []location.Binding{r1, c3}, false)
}

func (s suite) removeAll(t *testing.T) {
	st := s.open(t)
	for i, ret := range [][]location.Binding{nil, {}} {
		set(t, st, alice, base(), binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour)))
		set(t, st, bob, base(), binding(bob, "sip:bob@192.0.2.9", base().Add(time.Hour)))
		got, err := st.Update(context.Background(), alice, base(), func([]location.Binding) ([]location.Binding, error) {
			return ret, nil
		})
		if err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
		if len(got) != 0 {
			t.Errorf("Update %d returned %v, want none", i, contacts(got))
		}
		if got := lookup(t, st, alice, base()); len(got) != 0 {
			t.Errorf("Lookup after removal %d = %v, want none", i, contacts(got))
		}
		for _, b := range list(t, st, base()) {
			if b.AOR == alice {
				t.Errorf("List after removal %d includes %s %s", i, b.AOR, b.Contact)
			}
		}
		if got := lookup(t, st, bob, base()); len(got) != 1 {
			t.Errorf("removal %d of %s changed %s: %v", i, alice, bob, contacts(got))
		}
	}
}

func (s suite) fnError(t *testing.T) {
	st := s.open(t)
	b := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	set(t, st, alice, base(), b)
	boom := errors.New("storetest: refused")
	got, err := st.Update(context.Background(), alice, base(), func(cur []location.Binding) ([]location.Binding, error) {
		return append(cur, binding(alice, "sip:alice@192.0.2.2", base().Add(time.Hour))), boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Update = %v, want fn's error", err)
	}
	if len(got) != 0 {
		t.Errorf("failed Update returned %v, want none", contacts(got))
	}
	same(t, "Lookup after a failed Update", lookup(t, st, alice, base()), []location.Binding{b}, false)
	// A failed Update of a new AOR creates nothing.
	if _, err := st.Update(context.Background(), bob, base(), func([]location.Binding) ([]location.Binding, error) {
		return []location.Binding{binding(bob, "sip:bob@192.0.2.9", base().Add(time.Hour))}, boom
	}); !errors.Is(err, boom) {
		t.Errorf("Update of %s = %v, want fn's error", bob, err)
	}
	if got := lookup(t, st, bob, base()); len(got) != 0 {
		t.Errorf("Lookup %s after a failed Update = %v, want none", bob, contacts(got))
	}
}

// copies checks that no slice the store hands out or takes in is shared
// with what it keeps.
func (s suite) copies(t *testing.T) {
	st := s.open(t)
	b := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	want := []location.Binding{b}
	set(t, st, alice, base(), b)

	scribble := func(bs []location.Binding) {
		for i := range bs {
			bs[i].Contact = "sip:mallory@203.0.113.66"
			bs[i].Expires = base().Add(-time.Hour)
			if len(bs[i].Path) > 0 {
				bs[i].Path[0] = "<sip:evil.example;lr>"
			}
		}
	}
	// fn changes what it is given, then fails.
	if _, err := st.Update(context.Background(), alice, base(), func(cur []location.Binding) ([]location.Binding, error) {
		scribble(cur)
		return nil, errors.New("storetest: refused")
	}); err == nil {
		t.Fatal("Update with a failing fn succeeded")
	}
	same(t, "after fn changed current and failed", lookup(t, st, alice, base()), want, false)

	// fn keeps what it returned and changes it after Update.
	var kept []location.Binding
	got, err := st.Update(context.Background(), alice, base(), func(cur []location.Binding) ([]location.Binding, error) {
		kept = cur
		return cur, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	scribble(kept)
	same(t, "after fn's slice changed", lookup(t, st, alice, base()), want, false)
	// The caller changes Update's result.
	scribble(got)
	same(t, "after Update's result changed", lookup(t, st, alice, base()), want, false)
	// The caller changes Lookup's and List's results.
	scribble(lookup(t, st, alice, base()))
	same(t, "after Lookup's result changed", lookup(t, st, alice, base()), want, false)
	scribble(list(t, st, base()))
	same(t, "after List's result changed", lookup(t, st, alice, base()), want, false)
}

// aorField checks that bindings are stored under the AOR given to Update,
// whatever their AOR field said.
func (s suite) aorField(t *testing.T) {
	st := s.open(t)
	b := binding("", "sip:alice@192.0.2.1", base().Add(time.Hour))
	got, err := st.Update(context.Background(), alice, base(), func([]location.Binding) ([]location.Binding, error) {
		return []location.Binding{b}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	b.AOR = alice
	same(t, "Update's result", got, []location.Binding{b}, true)
	same(t, "Lookup", lookup(t, st, alice, base()), []location.Binding{b}, true)
}

func (s suite) excludeExpired(t *testing.T) {
	st := s.open(t)
	past := binding(alice, "sip:alice@192.0.2.1", base().Add(-time.Nanosecond))
	edge := binding(alice, "sip:alice@192.0.2.2", base()) // Live is Expires.After(now): not live at base
	live := binding(alice, "sip:alice@192.0.2.3", base().Add(time.Nanosecond))
	set(t, st, alice, base().Add(-time.Hour), past, edge, live)
	set(t, st, bob, base().Add(-time.Hour), binding(bob, "sip:bob@192.0.2.9", base()))

	same(t, "Lookup an hour earlier", lookup(t, st, alice, base().Add(-time.Hour)), []location.Binding{past, edge, live}, false)
	same(t, "Lookup", lookup(t, st, alice, base()), []location.Binding{live}, false)
	same(t, "List", list(t, st, base()), []location.Binding{live}, true)
	if got := lookup(t, st, alice, base().Add(time.Nanosecond)); len(got) != 0 {
		t.Errorf("Lookup after the last expiry = %v, want none", contacts(got))
	}
	if got := list(t, st, base().Add(time.Nanosecond)); len(got) != 0 {
		t.Errorf("List after the last expiry = %v, want none", contacts(got))
	}
}

func (s suite) fnSeesLive(t *testing.T) {
	st := s.open(t)
	early := binding(alice, "sip:alice@192.0.2.1", base().Add(10*time.Second))
	late := binding(alice, "sip:alice@192.0.2.2", base().Add(20*time.Second))
	set(t, st, alice, base(), early, late)
	now := base().Add(15 * time.Second)
	got, err := st.Update(context.Background(), alice, now, func(cur []location.Binding) ([]location.Binding, error) {
		same(t, "fn's current", cur, []location.Binding{late}, false)
		return cur, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	same(t, "Update's result", got, []location.Binding{late}, false)
	// What fn did not return is gone, even when looked up before it
	// expired.
	same(t, "Lookup at the start", lookup(t, st, alice, base()), []location.Binding{late}, false)
}

func (s suite) expire(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	then := base().Add(-time.Hour)
	a1 := binding(alice, "sip:alice@192.0.2.1", base().Add(-time.Minute))
	a2 := binding(alice, "sip:alice@192.0.2.2", base().Add(time.Minute))
	b1 := binding(bob, "sip:bob@192.0.2.9", base()) // expired at base: not live
	set(t, st, alice, then, a1, a2)
	set(t, st, bob, then, b1)

	n, err := st.Expire(ctx, then)
	if err != nil || n != 0 {
		t.Fatalf("Expire before any expiry = %d, %v; want 0, nil", n, err)
	}
	n, err = st.Expire(ctx, base())
	if err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want 2, nil", n, err)
	}
	// Removed, not hidden: looked up at a time they were live, they
	// are gone.
	same(t, "List an hour earlier", list(t, st, then), []location.Binding{a2}, true)
	if n, err := st.Expire(ctx, base()); err != nil || n != 0 {
		t.Errorf("second Expire = %d, %v; want 0, nil", n, err)
	}
	// The AOR whose every binding expired can be written again.
	set(t, st, bob, base(), b1)
	n, err = st.Expire(ctx, base().Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("last Expire = %d, %v; want 2, nil", n, err)
	}
	if got := list(t, st, then); len(got) != 0 {
		t.Errorf("List after the last Expire = %v, want none", contacts(got))
	}
}

func (s suite) listOrder(t *testing.T) {
	st := s.open(t)
	exp := base().Add(time.Hour)
	// Written in an order that is neither sorted nor reversed; "sip:a"
	// sorts before "sip:a@" and "sips:" after every "sip:".
	aors := []string{"sip:carol@example.com", "sips:alice@example.com", "sip:a@example.com",
		"sip:bob@example.com", "sip:alice@example.com", "sip:alice@example.co"}
	var want []location.Binding
	for i, aor := range aors {
		var bs []location.Binding
		for _, c := range []string{"sip:x@192.0.2.2", "sip:x@192.0.2.10", "sip:a@192.0.2.1"} {
			bs = append(bs, binding(aor, fmt.Sprintf("%s;n=%d", c, i), exp))
		}
		set(t, st, aor, base(), bs...)
		want = append(want, bs...)
	}
	want = byContact(want)
	same(t, "List", list(t, st, base()), want, true)
}

func (s suite) independent(t *testing.T) {
	st := s.open(t)
	a := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	b := binding(bob, "sip:bob@192.0.2.9", base().Add(time.Hour))
	set(t, st, alice, base(), a)
	if _, err := st.Update(context.Background(), bob, base(), func(cur []location.Binding) ([]location.Binding, error) {
		if len(cur) != 0 {
			t.Errorf("fn for %s saw %v", bob, contacts(cur))
		}
		return []location.Binding{b}, nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	same(t, "Lookup "+alice, lookup(t, st, alice, base()), []location.Binding{a}, false)
	same(t, "Lookup "+bob, lookup(t, st, bob, base()), []location.Binding{b}, false)
	set(t, st, alice, base())
	same(t, "Lookup "+bob+" after removing "+alice, lookup(t, st, bob, base()), []location.Binding{b}, false)
	// An AOR differing only in case is another AOR: canonical form is
	// the caller's business.
	if got := lookup(t, st, "sip:ALICE@example.com", base()); len(got) != 0 {
		t.Errorf("Lookup of another case = %v, want none", contacts(got))
	}
}

// appendOne returns an Update fn that appends b to the current bindings.
func appendOne(b location.Binding) func([]location.Binding) ([]location.Binding, error) {
	return func(cur []location.Binding) ([]location.Binding, error) {
		return append(cur, b), nil
	}
}

// concurrentSameAOR runs many Updates of one AOR at once, each appending a
// binding: a lost update shows as a missing one. The numbers are modest
// because a durable store commits the Updates of one AOR one after the
// other, each rewriting the AOR's growing set of bindings.
func (s suite) concurrentSameAOR(t *testing.T) {
	const workers, each = 32, 5
	st := s.open(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				b := binding(alice, fmt.Sprintf("sip:alice@192.0.2.1;w=%d;i=%d", w, i), base().Add(time.Hour))
				if _, err := st.Update(context.Background(), alice, base(), appendOne(b)); err != nil {
					errs <- fmt.Errorf("worker %d, Update %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := lookup(t, st, alice, base())
	if len(got) != workers*each {
		t.Fatalf("%d bindings after %d concurrent appends, want %d", len(got), workers*each, workers*each)
	}
	seen := make(map[string]bool, len(got))
	for _, b := range got {
		if seen[b.Contact] {
			t.Errorf("contact %s twice", b.Contact)
		}
		seen[b.Contact] = true
	}
}

// concurrentAORs runs Updates of many AORs at once, with readers alongside.
func (s suite) concurrentAORs(t *testing.T) {
	const workers, each = 32, 25
	st := s.open(t)
	aor := func(w int) string { return fmt.Sprintf("sip:user%d@example.com", w) }
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				b := binding(aor(w), fmt.Sprintf("sip:u@192.0.2.1;i=%d", i), base().Add(time.Hour))
				if _, err := st.Update(context.Background(), aor(w), base(), appendOne(b)); err != nil {
					errs <- fmt.Errorf("worker %d, Update %d: %w", w, i, err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range each {
				got, err := st.Lookup(context.Background(), aor((w+1)%workers), base())
				if err == nil && i%5 == 0 {
					_, err = st.List(context.Background(), base())
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", w, err)
					return
				}
				if len(got) > each {
					errs <- fmt.Errorf("reader %d: %d bindings, want at most %d", w, len(got), each)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		if got := lookup(t, st, aor(w), base()); len(got) != each {
			t.Errorf("%s has %d bindings, want %d", aor(w), len(got), each)
		}
	}
	if got := list(t, st, base()); len(got) != workers*each {
		t.Errorf("List has %d bindings, want %d", len(got), workers*each)
	}
}

// concurrentExpire runs Expire again and again while Updates add live and
// expired bindings: Expire removes only expired ones, and no Update is
// lost.
func (s suite) concurrentExpire(t *testing.T) {
	const workers, each, expires = 8, 10, 20
	st := s.open(t)
	ctx := context.Background()
	then, now := base().Add(-time.Hour), base()
	aor := func(w int) string { return fmt.Sprintf("sip:user%d@example.com", w) }
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				live := binding(aor(w), fmt.Sprintf("sip:u@192.0.2.1;i=%d", i), now.Add(time.Hour))
				dead := binding(aor(w), fmt.Sprintf("sip:u@192.0.2.2;i=%d", i), now.Add(-time.Minute))
				if _, err := st.Update(ctx, aor(w), then, func(cur []location.Binding) ([]location.Binding, error) {
					return append(cur, live, dead), nil
				}); err != nil {
					errs <- fmt.Errorf("worker %d, Update %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range expires {
			if _, err := st.Expire(ctx, now); err != nil {
				errs <- fmt.Errorf("expiring: %w", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := st.Expire(ctx, now); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	// Looked up at a time the expired bindings were live: only the
	// live ones remain, every one of them.
	for w := range workers {
		got := lookup(t, st, aor(w), then)
		if len(got) != each {
			t.Errorf("%s has %d bindings, want %d: %v", aor(w), len(got), each, contacts(got))
		}
		for _, b := range got {
			if !b.Live(now) {
				t.Errorf("%s: expired binding %s survived Expire", aor(w), b.Contact)
			}
		}
	}
}

func (s suite) closed(t *testing.T) {
	st := s.open(t)
	ctx := context.Background()
	set(t, st, alice, base(), binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour)))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, location.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
	_, err := st.Lookup(ctx, alice, base())
	check("Lookup", err)
	_, err = st.Update(ctx, alice, base(), appendOne(binding(alice, "sip:alice@192.0.2.2", base().Add(time.Hour))))
	check("Update", err)
	_, err = st.List(ctx, base())
	check("List", err)
	_, err = st.Expire(ctx, base())
	check("Expire", err)
	check("Close", st.Close())
}

// reopen checks that every binding, with every field, survives Close.
func (s suite) reopen(t *testing.T) {
	dir := t.TempDir()
	st, _ := s.openIn(t, dir)
	var want []location.Binding
	for i := range 20 {
		aor := fmt.Sprintf("sip:user%02d@example.com", i)
		var bs []location.Binding
		for j := range i%3 + 1 {
			b := binding(aor, fmt.Sprintf("sip:u@192.0.2.%d;n=%d", i+1, j), base().Add(time.Duration(i*j+1)*time.Minute))
			if j == 1 {
				b.Path, b.Source, b.Local, b.Instance, b.RegID, b.Q = nil, netip.AddrPort{}, netip.AddrPort{}, "", 0, -1
			}
			bs = append(bs, b)
		}
		set(t, st, aor, base(), bs...)
		want = append(want, bs...)
	}
	// An AOR removed, and one replaced, before the Close.
	set(t, st, "sip:user00@example.com", base())
	want = slices.DeleteFunc(want, func(b location.Binding) bool { return b.AOR == "sip:user00@example.com" })
	r := binding("sip:user01@example.com", "sip:u@192.0.2.2;n=9", base().Add(time.Hour))
	set(t, st, r.AOR, base(), r)
	want = slices.DeleteFunc(want, func(b location.Binding) bool { return b.AOR == r.AOR })
	want = byContact(append(want, r))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st2, _ := s.openIn(t, dir)
	same(t, "List after reopening", list(t, st2, base()), want, true)
	same(t, "Lookup after reopening", lookup(t, st2, r.AOR, base()), []location.Binding{r}, false)
	// The reopened store takes writes, and keeps them too.
	extra := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	set(t, st2, alice, base(), extra)
	if err := st2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st3, _ := s.openIn(t, dir)
	same(t, "List after reopening twice", list(t, st3, base()), byContact(append(want, extra)), true)
}

// reopenExpire checks that expired bindings read back from storage are
// expired, and that Expire removes them from storage.
func (s suite) reopenExpire(t *testing.T) {
	dir := t.TempDir()
	st, _ := s.openIn(t, dir)
	then := base().Add(-time.Hour)
	old := binding(alice, "sip:alice@192.0.2.1", base().Add(-time.Minute))
	cur := binding(alice, "sip:alice@192.0.2.2", base().Add(time.Minute))
	set(t, st, alice, then, old, cur)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st2, _ := s.openIn(t, dir)
	same(t, "Lookup after reopening", lookup(t, st2, alice, base()), []location.Binding{cur}, false)
	if n, err := st2.Expire(context.Background(), base()); err != nil || n != 1 {
		t.Fatalf("Expire after reopening = %d, %v; want 1, nil", n, err)
	}
	if err := st2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st3, _ := s.openIn(t, dir)
	same(t, "Lookup an hour earlier after Expire and reopening", lookup(t, st3, alice, then), []location.Binding{cur}, false)
}

// openAsync opens a store and skips the test when it is not an
// AsyncStore.
func (s suite) openAsync(t *testing.T, dir string) location.AsyncStore {
	t.Helper()
	st, _ := s.openIn(t, dir)
	a, ok := st.(location.AsyncStore)
	if !ok {
		t.Skipf("%T is not a location.AsyncStore", st)
	}
	return a
}

// outcome is what an UpdateAsync's done received.
type outcome struct {
	bs  []location.Binding
	err error
}

// updateAsync runs UpdateAsync and returns a channel that receives what
// done was given; a second call of done fails the test.
func updateAsync(t *testing.T, st location.AsyncStore, aor string, now time.Time,
	fn func([]location.Binding) ([]location.Binding, error)) <-chan outcome {
	ch := make(chan outcome, 2)
	var calls sync.Mutex
	n := 0
	st.UpdateAsync(aor, now, fn, func(bs []location.Binding, err error) {
		calls.Lock()
		n++
		again := n > 1
		calls.Unlock()
		if again {
			t.Errorf("UpdateAsync %s: done called again (%v)", aor, err)
			return
		}
		ch <- outcome{bs, err}
	})
	return ch
}

// wait returns what the channel of updateAsync receives, failing the test
// when done is not called within a minute.
func wait(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(time.Minute):
		t.Fatal("UpdateAsync: done not called within a minute")
		return outcome{}
	}
}

// async checks that UpdateAsync writes what fn returns, gives done what
// Update would return, and that the bindings are visible (and, for a
// durable store, survive Close) once done is called.
func (s suite) async(t *testing.T) {
	dir := t.TempDir()
	st := s.openAsync(t, dir)
	b1 := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	o := wait(t, updateAsync(t, st, alice, base(), appendOne(b1)))
	if o.err != nil {
		t.Fatalf("UpdateAsync: %v", o.err)
	}
	same(t, "done's bindings", o.bs, []location.Binding{b1}, false)
	same(t, "Lookup after done", lookup(t, st, alice, base()), []location.Binding{b1}, false)

	// fn sees the result of the update whose done was called.
	b2 := binding(alice, "sip:alice@192.0.2.2", base().Add(2*time.Hour))
	var seen []location.Binding
	o = wait(t, updateAsync(t, st, alice, base(), func(cur []location.Binding) ([]location.Binding, error) {
		seen = slices.Clone(cur)
		return append(cur, b2), nil
	}))
	if o.err != nil {
		t.Fatalf("UpdateAsync: %v", o.err)
	}
	same(t, "fn's current bindings", seen, []location.Binding{b1}, false)
	same(t, "done's bindings", o.bs, []location.Binding{b1, b2}, false)

	// Removing every binding.
	o = wait(t, updateAsync(t, st, bob, base(), appendOne(binding(bob, "sip:bob@192.0.2.3", base().Add(time.Hour)))))
	if o.err != nil {
		t.Fatalf("UpdateAsync: %v", o.err)
	}
	o = wait(t, updateAsync(t, st, bob, base(), func([]location.Binding) ([]location.Binding, error) { return nil, nil }))
	if o.err != nil || len(o.bs) != 0 {
		t.Fatalf("UpdateAsync removing all = %v, %v; want none, nil", o.bs, o.err)
	}
	if got := lookup(t, st, bob, base()); len(got) != 0 {
		t.Errorf("Lookup after removing all: %v", contacts(got))
	}
	if !s.c.Durable {
		return
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st2, _ := s.openIn(t, dir)
	same(t, "List after reopening", list(t, st2, base()), byContact([]location.Binding{b1, b2}), true)
}

// asyncFnError checks that fn's error reaches done and nothing is written.
func (s suite) asyncFnError(t *testing.T) {
	st := s.openAsync(t, t.TempDir())
	b := binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour))
	set(t, st, alice, base(), b)
	boom := errors.New("boom")
	o := wait(t, updateAsync(t, st, alice, base(), func(cur []location.Binding) ([]location.Binding, error) {
		return nil, boom
	}))
	if !errors.Is(o.err, boom) || o.bs != nil {
		t.Fatalf("UpdateAsync with a failing fn = %v, %v; want nil, boom", o.bs, o.err)
	}
	same(t, "Lookup after the failed update", lookup(t, st, alice, base()), []location.Binding{b}, false)
}

// asyncConcurrentSameAOR starts many UpdateAsyncs of one AOR without
// waiting, each appending a binding: every done is called once, without
// an error, and no update is lost.
func (s suite) asyncConcurrentSameAOR(t *testing.T) {
	const n = 200
	st := s.openAsync(t, t.TempDir())
	var chans []<-chan outcome
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				b := binding(alice, fmt.Sprintf("sip:alice@192.0.2.1;w=%d;i=%d", w, i), base().Add(time.Hour))
				ch := updateAsync(t, st, alice, base(), appendOne(b))
				mu.Lock()
				chans = append(chans, ch)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, ch := range chans {
		if o := wait(t, ch); o.err != nil {
			t.Errorf("UpdateAsync: %v", o.err)
		}
	}
	if got := lookup(t, st, alice, base()); len(got) != n {
		t.Fatalf("%d bindings after %d concurrent asynchronous appends, want %d", len(got), n, n)
	}
}

// asyncClosed checks that UpdateAsync on a closed store reports ErrClosed
// through done.
func (s suite) asyncClosed(t *testing.T) {
	st := s.openAsync(t, t.TempDir())
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	o := wait(t, updateAsync(t, st, alice, base(), appendOne(binding(alice, "sip:alice@192.0.2.1", base().Add(time.Hour)))))
	if !errors.Is(o.err, location.ErrClosed) {
		t.Errorf("UpdateAsync after Close: %v, want ErrClosed", o.err)
	}
}
