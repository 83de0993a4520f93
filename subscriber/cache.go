package subscriber

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// maxCached bounds the accounts (and misses) a cache holds; past it the
// cache starts empty again, so that a scan of made-up user names cannot
// grow it without end.
const maxCached = 200_000

// cache keeps what Get read, found or not, until the database changes.
// The change is seen through SQLite's data_version, which moves whenever
// another connection (another process's `switchboard user` command, or
// this process's own writes) commits; it is asked at most once per
// freshness, so a change made elsewhere applies within that time, and a
// write through this store applies at once.
type cache struct {
	freshness time.Duration
	conn      *sql.Conn // asked for data_version; the same connection each time

	mu      sync.Mutex
	entries map[[2]string]cached // (domain, user) → account; guarded by mu
	version int64                // guarded by mu
	checked time.Time            // guarded by mu
}

type cached struct {
	a     Account
	found bool
}

// CacheReads makes Get answer from memory what it read before, checking
// at most once per freshness whether the database changed since, and
// dropping everything when it did. A password changed or an account
// removed by another process then takes effect within freshness (writes
// through s take effect at once). Reading the file on every
// authentication costs tens of microseconds; the cache, under one. Call it
// once, before the store is shared.
func (s *SQLite) CacheReads(freshness time.Duration) error {
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	c := &cache{freshness: freshness, conn: conn, entries: make(map[[2]string]cached)}
	if c.version, err = c.dataVersion(); err != nil {
		conn.Close()
		return err
	}
	c.checked = time.Now()
	s.cache = c
	return nil
}

func (c *cache) dataVersion() (int64, error) {
	var v int64
	if err := c.conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("subscriber: reading data_version: %w", err)
	}
	return v, nil
}

// get returns the cached answer for (domain, user), after dropping the
// cache if the database changed.
func (c *cache) get(k [2]string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= c.freshness {
		v, err := c.dataVersion()
		if err != nil || v != c.version {
			clear(c.entries)
		}
		c.version, c.checked = v, now
	}
	e, ok := c.entries[k]
	return e, ok
}

func (c *cache) put(k [2]string, e cached) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	c.entries[k] = e
}

// reset empties the cache after a write through this store.
func (c *cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (c *cache) close() {
	c.conn.Close()
}
