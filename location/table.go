package location

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// nStripes is how many stripes a table has. Updates of AORs in different
// stripes run in parallel (and, in the SQLite store, share commits); two
// AORs in one stripe wait for each other. With 512 stripes, 64 Updates in
// flight collide about four times.
const nStripes = 512

// A stripe holds the bindings of the AORs that hash to it.
type stripe struct {
	// update serialises the Updates (and the SQLite store's Expire) of
	// the stripe's AORs: an Update holds it from reading the current
	// bindings until the new ones are installed in m, its commit
	// included.
	update sync.Mutex

	// mu guards m. Readers hold it only to copy bindings out, never
	// across a commit, so a Lookup never waits for the disk.
	mu sync.RWMutex
	// m maps an AOR to its bindings. A slice in m is owned by the
	// table and never modified in place; an Update installs a new one.
	m map[string][]Binding
	// closed is set by close. It is written with both update and mu
	// held, so either lock suffices to read it.
	closed bool
}

// table is the striped map of bindings that both Memory and the SQLite
// store's cache are made of. Its zero value is empty and ready.
type table struct {
	stripes [nStripes]stripe
}

// stripeIndex hashes aor (FNV-1a) to a stripe index. The hash needs no
// seed, so a zero table is usable; AORs are not chosen by an attacker who
// could gain anything from colliding them but a shared lock.
func stripeIndex(aor string) int {
	h := uint32(2166136261)
	for i := 0; i < len(aor); i++ {
		h ^= uint32(aor[i])
		h *= 16777619
	}
	return int(h % nStripes)
}

// appendLive appends to dst a deep copy of each binding of bs live at now.
func appendLive(dst, bs []Binding, now time.Time) []Binding {
	for i := range bs {
		if bs[i].Live(now) {
			b := bs[i]
			b.Path = slices.Clone(b.Path)
			dst = append(dst, b)
		}
	}
	return dst
}

// countLive returns how many bindings of bs are live at now.
func countLive(bs []Binding, now time.Time) int {
	n := 0
	for i := range bs {
		if bs[i].Live(now) {
			n++
		}
	}
	return n
}

// liveCopy returns a deep copy of the bindings of bs live at now, or nil
// when none is.
func liveCopy(bs []Binding, now time.Time) []Binding {
	n := countLive(bs, now)
	if n == 0 {
		return nil
	}
	return appendLive(make([]Binding, 0, n), bs, now)
}

// lookup implements Store.Lookup.
func (t *table) lookup(aor string, now time.Time) ([]Binding, error) {
	s := &t.stripes[stripeIndex(aor)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return liveCopy(s.m[aor], now), nil
}

// list implements Store.List.
func (t *table) list(now time.Time) ([]Binding, error) {
	var out []Binding
	for i := range t.stripes {
		s := &t.stripes[i]
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return nil, ErrClosed
		}
		for _, bs := range s.m {
			out = appendLive(out, bs, now)
		}
		s.mu.RUnlock()
	}
	// Stable, so that the bindings of one AOR with the same contact keep
	// their order.
	slices.SortStableFunc(out, func(a, b Binding) int {
		if c := strings.Compare(a.AOR, b.AOR); c != 0 {
			return c
		}
		return strings.Compare(a.Contact, b.Contact)
	})
	return out, nil
}

// A committer makes the new bindings of aor durable before they are
// installed. commit is called with the update lock of aor's stripe i held
// and stored, the table's copy of the new bindings (nil for none), not yet
// installed: a committer may normalise it in place (to what it stores). It
// returns an error, having written nothing, when it refuses the bindings;
// otherwise it owns the rest of the update: once the bindings are durable,
// or the write has failed, it calls t.finish(i, aor, stored, err) and then
// done(next, err), next being what fn returned (nil when err is not nil).
type committer interface {
	commit(i int, aor string, stored, next []Binding, done func([]Binding, error)) error
}

// update implements Store.Update: it waits for aor's stripe lock, and for
// c's commit when c is not nil.
func (t *table) update(ctx context.Context, aor string, now time.Time,
	fn func([]Binding) ([]Binding, error), c committer) ([]Binding, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("location: updating %s: %w", aor, err)
	}
	i := stripeIndex(aor)
	t.stripes[i].update.Lock()
	if c == nil {
		// Memory: nothing to wait for but the lock, and no channel to
		// allocate.
		next, stored, err := t.prepareLocked(i, aor, now, fn)
		if err != nil {
			t.stripes[i].update.Unlock()
			return nil, err
		}
		t.finish(i, aor, stored, nil)
		return next, nil
	}
	type outcome struct {
		bs  []Binding
		err error
	}
	ch := make(chan outcome, 1)
	t.updateLocked(i, aor, now, fn, c, func(bs []Binding, err error) { ch <- outcome{bs, err} })
	o := <-ch
	return o.bs, o.err
}

// updateAsync implements AsyncStore.UpdateAsync, handing fn's result to c
// (when not nil) before it is installed. When another update of the
// stripe holds its lock, the rest runs on a new goroutine that waits for
// the lock, so that the caller never waits for a commit.
func (t *table) updateAsync(aor string, now time.Time, fn func([]Binding) ([]Binding, error),
	c committer, done func([]Binding, error)) {
	i := stripeIndex(aor)
	s := &t.stripes[i]
	if !s.update.TryLock() {
		go func() {
			s.update.Lock()
			t.updateLocked(i, aor, now, fn, c, done)
		}()
		return
	}
	t.updateLocked(i, aor, now, fn, c, done)
}

// updateLocked goes on with an update once it holds stripe i's update
// lock, which it releases (itself, or through c and finish), and calls
// done.
func (t *table) updateLocked(i int, aor string, now time.Time, fn func([]Binding) ([]Binding, error),
	c committer, done func([]Binding, error)) {
	next, stored, err := t.prepareLocked(i, aor, now, fn)
	if err != nil {
		t.stripes[i].update.Unlock()
		done(nil, err)
		return
	}
	if c != nil {
		if err := c.commit(i, aor, stored, next, done); err != nil {
			t.stripes[i].update.Unlock()
			done(nil, err)
		}
		return
	}
	t.finish(i, aor, stored, nil)
	done(next, nil)
}

// prepareLocked runs fn on the live bindings of aor, whose stripe i's
// update lock the caller holds, and returns what fn returned (its AOR
// fields set) and the table's own copy of it to store (nil for none).
func (t *table) prepareLocked(i int, aor string, now time.Time, fn func([]Binding) ([]Binding, error)) (next, stored []Binding, err error) {
	s := &t.stripes[i]
	if s.closed {
		return nil, nil, ErrClosed
	}
	// Only updates, which hold s.update, install a new slice for aor; an
	// Expire may replace it concurrently (in Memory), hence the read lock.
	s.mu.RLock()
	current := liveCopy(s.m[aor], now)
	s.mu.RUnlock()

	next, err = fn(current)
	if err != nil {
		return nil, nil, err
	}
	// The table keeps its own copy, so that neither fn (which may keep
	// what it returned) nor the caller can change stored bindings.
	if len(next) > 0 {
		stored = make([]Binding, len(next))
		for j := range next {
			next[j].AOR = aor
			stored[j] = next[j]
			stored[j].Path = slices.Clone(next[j].Path)
		}
	}
	return next, stored, nil
}

// finish ends an update of aor in stripe i: it installs stored unless err
// is not nil, and releases the stripe's update lock.
func (t *table) finish(i int, aor string, stored []Binding, err error) {
	s := &t.stripes[i]
	if err == nil {
		s.mu.Lock()
		if stored == nil {
			delete(s.m, aor)
		} else {
			if s.m == nil {
				s.m = make(map[string][]Binding)
			}
			s.m[aor] = stored
		}
		s.mu.Unlock()
	}
	s.update.Unlock()
}

// removeExpiredLocked removes from stripe s the bindings not live at now
// and returns how many it removed. The caller holds s.mu for writing.
func (s *stripe) removeExpiredLocked(now time.Time) int {
	n := 0
	for aor, bs := range s.m {
		live := countLive(bs, now)
		switch {
		case live == len(bs):
			continue
		case live == 0:
			delete(s.m, aor)
		default:
			// A new slice, since slices in m are never modified in
			// place.
			kept := make([]Binding, 0, live)
			for i := range bs {
				if bs[i].Live(now) {
					kept = append(kept, bs[i])
				}
			}
			s.m[aor] = kept
		}
		n += len(bs) - live
	}
	return n
}

// lockAll takes every stripe's update lock, in order, and returns
// ErrClosed (holding none) when the table is closed. Updates take a single
// stripe lock, so taking them in order cannot deadlock.
func (t *table) lockAll() error {
	for i := range t.stripes {
		t.stripes[i].update.Lock()
		if t.stripes[i].closed {
			for j := i; j >= 0; j-- {
				t.stripes[j].update.Unlock()
			}
			return ErrClosed
		}
	}
	return nil
}

// unlockAll releases what lockAll took.
func (t *table) unlockAll() {
	for i := range t.stripes {
		t.stripes[i].update.Unlock()
	}
}

// close marks every stripe closed and drops its bindings, waiting for the
// Updates in progress; it returns ErrClosed when the table was closed
// already. When close returns nil, no Update is in progress and none will
// start.
func (t *table) close() error {
	for i := range t.stripes {
		s := &t.stripes[i]
		s.update.Lock()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.update.Unlock()
			return ErrClosed
		}
		s.closed = true
		s.m = nil
		s.mu.Unlock()
		s.update.Unlock()
	}
	return nil
}
