package subscriber

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
)

// Memory is a Store that keeps accounts in memory only, for tests and for
// a server without a data directory. The zero value is an empty store ready
// to use.
type Memory struct {
	mu       sync.RWMutex
	accounts map[[2]string]Account // {domain, user} → account; guarded by mu
	closed   bool                  // guarded by mu
}

var _ Store = (*Memory)(nil)

// Put implements Store.
func (m *Memory) Put(ctx context.Context, a Account) error {
	return m.write(ctx, a, true)
}

// Add implements Store.
func (m *Memory) Add(ctx context.Context, a Account) error {
	return m.write(ctx, a, false)
}

func (m *Memory) write(ctx context.Context, a Account, replace bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	a, err := a.Check()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	k := [2]string{a.Domain, a.User}
	if _, ok := m.accounts[k]; ok && !replace {
		return ErrExists
	}
	if m.accounts == nil {
		m.accounts = make(map[[2]string]Account)
	}
	m.accounts[k] = a
	return nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, user, domain string) (Account, bool, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, false, fmt.Errorf("subscriber: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Account{}, false, ErrClosed
	}
	user, domain, ok := key(user, domain)
	if !ok {
		return Account{}, false, nil
	}
	a, ok := m.accounts[[2]string{domain, user}]
	return a, ok, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, user, domain string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("subscriber: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, ErrClosed
	}
	user, domain, ok := key(user, domain)
	if !ok {
		return false, nil
	}
	k := [2]string{domain, user}
	if _, ok := m.accounts[k]; !ok {
		return false, nil
	}
	delete(m.accounts, k)
	return true, nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context) ([]Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	out := make([]Account, 0, len(m.accounts))
	for _, a := range m.accounts {
		out = append(out, a)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Account) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.User, b.User))
	})
	return out, nil
}

// Domains implements Store.
func (m *Memory) Domains(ctx context.Context) ([]string, error) {
	accounts, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, a := range accounts {
		if len(out) == 0 || out[len(out)-1] != a.Domain {
			out = append(out, a.Domain)
		}
	}
	return out, nil
}

// Close implements Store: it forgets every account.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.accounts = nil
	return nil
}
