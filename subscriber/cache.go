package subscriber

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// cache is an in-memory copy of every account, read whole from the file
// and read again whenever the file changed. The change is seen through
// SQLite's data_version, which moves whenever another connection (another
// process's `switchboard user` command, or this store's own writes)
// commits; it is asked at most once per freshness, and the file is then
// read again in the background while lookups go on answering from the
// previous copy. Writes through this store change the copy at once.
type cache struct {
	s         *SQLite
	freshness time.Duration
	conn      *sql.Conn // asked for data_version; the same connection each time

	mu        sync.RWMutex
	accounts  *table         // guarded by mu
	domains   map[string]int // domain → accounts in it; guarded by mu
	version   int64          // data_version the copy reflects; guarded by mu
	checked   time.Time      // when data_version was last asked; guarded by mu
	reloading bool           // a reload is running; guarded by mu
	// written lists the keys written through the store while a reload
	// runs, which the reload's copy may predate; guarded by mu.
	written [][2]string
	reloads sync.WaitGroup
}

// CacheReads makes the store keep a copy of every account in memory and
// answer Get and Domains from it. It reads the whole file now, and again
// whenever the file changed (checked at most once per freshness, on a
// lookup, and read in the background meanwhile), so a password changed or
// an account removed by another process takes effect within freshness plus
// the time to read the file; writes through s take effect at once. Reading
// the file on every authentication costs tens of microseconds, the copy
// well under one. Call it once, before the store is shared.
func (s *SQLite) CacheReads(freshness time.Duration) error {
	conn, err := s.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	c := &cache{s: s, freshness: freshness, conn: conn}
	v, err := c.dataVersion()
	if err == nil {
		err = c.load(v)
	}
	if err != nil {
		conn.Close()
		return err
	}
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

// load reads every account and installs the copy as of data_version v,
// then applies again what was written through the store meanwhile.
func (c *cache) load(v int64) error {
	accounts, domains, err := c.s.readAll(context.Background())
	if err != nil {
		return err
	}
	c.mu.Lock()
	written := c.written
	c.written = nil
	c.accounts, c.domains, c.version, c.checked = accounts, domains, v, time.Now()
	c.mu.Unlock()
	for _, k := range written {
		// Read them again: the copy may predate those writes.
		a, found, err := c.s.read(context.Background(), k[1], k[0])
		if err != nil {
			return err
		}
		c.set(k, a, found)
	}
	return nil
}

// check asks data_version when the copy's is older than freshness and
// starts a reload when the file changed.
func (c *cache) check() {
	c.mu.RLock()
	due := !c.reloading && time.Since(c.checked) >= c.freshness
	c.mu.RUnlock()
	if !due {
		return
	}
	c.mu.Lock()
	if c.reloading || time.Since(c.checked) < c.freshness {
		c.mu.Unlock()
		return
	}
	c.checked = time.Now()
	v, err := c.dataVersion()
	if err != nil || v == c.version {
		c.mu.Unlock()
		return
	}
	c.reloading = true
	c.reloads.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.reloads.Done()
		err := c.load(v)
		c.mu.Lock()
		c.reloading = false
		c.mu.Unlock()
		if err != nil && !c.s.closed.Load() {
			// The old copy stays; the next check tries again.
			slog.Default().Warn("subscriber: reading the accounts again", "err", err)
			c.mu.Lock()
			c.version = -1
			c.mu.Unlock()
		}
	}()
}

// get returns the account at k from the copy.
func (c *cache) get(k [2]string) (Account, bool) {
	c.check()
	c.mu.RLock()
	a, ok := c.accounts.get(k[0], k[1])
	c.mu.RUnlock()
	return a, ok
}

// domainList returns the domains that have accounts, sorted.
func (c *cache) domainList() []string {
	c.check()
	c.mu.RLock()
	out := make([]string, 0, len(c.domains))
	for d := range c.domains {
		out = append(out, d)
	}
	c.mu.RUnlock()
	slices.Sort(out)
	return out
}

// set records a write through the store: the account at k is now a, or
// gone when !found.
func (c *cache) set(k [2]string, a Account, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reloading {
		c.written = append(c.written, k)
	}
	_, had := c.accounts.get(k[0], k[1])
	switch {
	case found:
		if !c.accounts.put(a) {
			// Too long to hold: the next lookup reads a stale copy;
			// make the next check reread the file.
			c.version = -1
		}
		if !had {
			c.domains[k[0]]++
		}
	case had:
		c.accounts.remove(k[0], k[1])
		if c.domains[k[0]]--; c.domains[k[0]] <= 0 {
			delete(c.domains, k[0])
		}
	}
}

// close waits for a reload in progress and releases the connection.
func (c *cache) close() {
	c.reloads.Wait()
	c.conn.Close()
}
