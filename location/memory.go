package location

import (
	"context"
	"time"
)

// Memory is a Store that keeps bindings in memory only: they are gone when
// the process exits, and Update returns as soon as the new bindings are
// installed. It suits tests and a registrar whose phones re-register after
// a restart anyway.
//
// The zero value is an empty store, ready to use; a Memory must not be
// copied after first use. Updates of AORs that hash to different stripes
// run in parallel; Lookup and List never wait for an Update's fn.
type Memory struct {
	t table
}

var _ AsyncStore = (*Memory)(nil)

// NewMemory returns an empty Memory; it is the same as new(Memory).
func NewMemory() *Memory { return new(Memory) }

// Lookup implements Store.Lookup. The bindings are copies: changing them
// changes nothing in m.
func (m *Memory) Lookup(_ context.Context, aor string, now time.Time) ([]Binding, error) {
	return m.t.lookup(aor, now)
}

// Update implements Store.Update. fn is called exactly once (unless ctx
// is done or m closed first), with copies of the live bindings and with
// aor's stripe lock held: it must not call m's Update or Expire. Each
// binding fn returns is stored with its AOR field set to aor; m keeps a
// copy, so fn and the caller may change the returned slice afterwards.
func (m *Memory) Update(ctx context.Context, aor string, now time.Time, fn func(current []Binding) ([]Binding, error)) ([]Binding, error) {
	return m.t.update(ctx, aor, now, fn, nil)
}

// UpdateAsync implements AsyncStore.UpdateAsync. Nothing is written
// anywhere but memory, so done is called before UpdateAsync returns,
// unless another update of the same stripe holds its lock: then both fn
// and done run on a new goroutine once it is released.
func (m *Memory) UpdateAsync(aor string, now time.Time, fn func(current []Binding) ([]Binding, error), done func([]Binding, error)) {
	m.t.updateAsync(aor, now, fn, nil, done)
}

// List implements Store.List.
func (m *Memory) List(_ context.Context, now time.Time) ([]Binding, error) {
	return m.t.list(now)
}

// Expire implements Store.Expire. It visits one stripe at a time, so it
// holds up the Lookups and Updates of a stripe only while it filters that
// stripe.
func (m *Memory) Expire(_ context.Context, now time.Time) (int, error) {
	n := 0
	for i := range m.t.stripes {
		s := &m.t.stripes[i]
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return n, ErrClosed
		}
		n += s.removeExpiredLocked(now)
		s.mu.Unlock()
	}
	return n, nil
}

// Close implements Store.Close: it waits for the Updates in progress and
// drops every binding. Every later call, Close included, returns
// ErrClosed.
func (m *Memory) Close() error {
	return m.t.close()
}
