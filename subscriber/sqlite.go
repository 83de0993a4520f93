package subscriber

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-sip/switchboard/internal/sqlitedb"
)

// FileName is the name of the subscriber database in the data directory.
const FileName = "subscribers.db"

// schema is idempotent: OpenSQLite applies it to new and existing files.
// Times are RFC 3339 text in UTC, with nanoseconds, so that the file reads
// well in the sqlite3 shell.
const schema = `
CREATE TABLE IF NOT EXISTS accounts (
	user       TEXT NOT NULL,
	domain     TEXT NOT NULL,
	ha1_md5    TEXT NOT NULL DEFAULT '',
	ha1_sha256 TEXT NOT NULL DEFAULT '',
	created    TEXT NOT NULL,
	updated    TEXT NOT NULL,
	PRIMARY KEY (domain, user)
) WITHOUT ROWID;
`

const (
	getSQL = `SELECT ha1_md5, ha1_sha256, created, updated FROM accounts WHERE domain = ? AND user = ?`
	addSQL = `INSERT INTO accounts (user, domain, ha1_md5, ha1_sha256, created, updated)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain, user) DO NOTHING`
	putSQL = `INSERT INTO accounts (user, domain, ha1_md5, ha1_sha256, created, updated)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain, user) DO UPDATE SET
		ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256,
		created = excluded.created, updated = excluded.updated`
	deleteSQL  = `DELETE FROM accounts WHERE domain = ? AND user = ?`
	listSQL    = `SELECT user, domain, ha1_md5, ha1_sha256, created, updated FROM accounts ORDER BY domain, user`
	domainsSQL = `SELECT DISTINCT domain FROM accounts ORDER BY domain`
)

// SQLite is the embedded Store: one SQLite database file, in write-ahead
// log mode, so that other processes (the `switchboard user` command and the
// server) may read and write it at the same time. Every method reads or
// writes the file, so a write made by another process is visible to the
// next Get, unless CacheReads turned on the in-memory copy (the server
// does: then it is visible within the copy's freshness). Writes are
// durable when they return (synchronous=FULL).
//
// It holds at most max(4, GOMAXPROCS) connections to the file; more
// concurrent calls wait for one.
type SQLite struct {
	path               string
	db                 *sql.DB
	get, add, put, del *sql.Stmt
	wmu                sync.Mutex // serialises this process's writes, so they queue here and not on SQLite's busy timeout
	closed             atomic.Bool
	cache              *cache // nil unless CacheReads was called
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens the subscriber database at path (by convention
// DATA_DIR/FileName), creating the file and its directory when missing.
func OpenSQLite(path string) (*SQLite, error) {
	db, err := sqlitedb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	// Readers run in parallel in WAL mode; keep a connection per CPU
	// open rather than reopening (and re-preparing) one per burst.
	conns := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	s := &SQLite{path: path, db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&s.get, getSQL}, {&s.add, addSQL}, {&s.put, putSQL}, {&s.del, deleteSQL}} {
		if *p.stmt, err = db.Prepare(p.sql); err != nil {
			s.Close()
			return nil, fmt.Errorf("subscriber: preparing queries on %s: %w", path, err)
		}
	}
	return s, nil
}

// fail wraps err from operation op, or returns ErrClosed when the store
// was closed under it.
func (s *SQLite) fail(op string, err error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("subscriber: %s in %s: %w", op, s.path, err)
}

// Put implements Store.
func (s *SQLite) Put(ctx context.Context, a Account) error {
	_, err := s.write(ctx, s.put, a)
	return err
}

// Add implements Store.
func (s *SQLite) Add(ctx context.Context, a Account) error {
	n, err := s.write(ctx, s.add, a)
	if err == nil && n == 0 {
		return ErrExists
	}
	return err
}

// write runs stmt (add or put) for a and returns the number of rows it
// changed.
func (s *SQLite) write(ctx context.Context, stmt *sql.Stmt, a Account) (int64, error) {
	a, err := a.Check()
	if err != nil {
		return 0, err
	}
	if s.closed.Load() {
		return 0, ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := stmt.ExecContext(ctx, a.User, a.Domain, a.HA1MD5, a.HA1SHA256, formatTime(a.Created), formatTime(a.Updated))
	if err != nil {
		return 0, s.fail("writing "+a.Address(), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("writing "+a.Address(), err)
	}
	if s.cache != nil && n > 0 {
		s.cache.set([2]string{a.Domain, a.User}, a, true)
	}
	return n, nil
}

// Get implements Store. It is one indexed read of one row, through a
// prepared statement, or with CacheReads a lookup in memory.
func (s *SQLite) Get(ctx context.Context, user, domain string) (Account, bool, error) {
	if s.closed.Load() {
		return Account{}, false, ErrClosed
	}
	user, domain, ok := key(user, domain)
	if !ok {
		return Account{}, false, nil
	}
	if s.cache == nil {
		return s.read(ctx, user, domain)
	}
	if err := ctx.Err(); err != nil {
		return Account{}, false, err
	}
	a, found := s.cache.get([2]string{domain, user})
	return a, found, nil
}

// read reads one account from the file.
func (s *SQLite) read(ctx context.Context, user, domain string) (Account, bool, error) {
	a := Account{User: user, Domain: domain}
	var created, updated string
	err := s.get.QueryRowContext(ctx, domain, user).Scan(&a.HA1MD5, &a.HA1SHA256, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, false, nil
	}
	if err == nil {
		err = parseTimes(&a, created, updated)
	}
	if err != nil {
		return Account{}, false, s.fail("reading "+a.Address(), err)
	}
	return a, true, nil
}

// Delete implements Store.
func (s *SQLite) Delete(ctx context.Context, user, domain string) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	user, domain, ok := key(user, domain)
	if !ok {
		return false, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.del.ExecContext(ctx, domain, user)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, s.fail("deleting "+user+"@"+domain, err)
	}
	if s.cache != nil && n > 0 {
		s.cache.set([2]string{domain, user}, Account{}, false)
	}
	return n > 0, nil
}

// List implements Store.
func (s *SQLite) List(ctx context.Context) ([]Account, error) {
	out := []Account{}
	err := s.each(ctx, func(a Account) error { out = append(out, a); return nil })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each calls f for every account, in List's order, and stops at f's first
// error.
func (s *SQLite) each(ctx context.Context, f func(Account) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	rows, err := s.db.QueryContext(ctx, listSQL)
	if err != nil {
		return s.fail("listing accounts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Account
		var created, updated string
		if err := rows.Scan(&a.User, &a.Domain, &a.HA1MD5, &a.HA1SHA256, &created, &updated); err != nil {
			return s.fail("listing accounts", err)
		}
		if err := parseTimes(&a, created, updated); err != nil {
			return s.fail("listing accounts", err)
		}
		if err := f(a); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.fail("listing accounts", err)
	}
	return nil
}

// readAll reads every account into a table, with the number of accounts
// per domain, for the in-memory copy.
func (s *SQLite) readAll(ctx context.Context) (*table, map[string]int, error) {
	if s.closed.Load() {
		return nil, nil, ErrClosed
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return nil, nil, s.fail("counting accounts", err)
	}
	t, domains := newTable(n), make(map[string]int)
	err := s.each(ctx, func(a Account) error {
		if !t.put(a) {
			return s.fail("reading accounts", fmt.Errorf("account %s: a name or HA1 longer than 65535 bytes", a.Address()))
		}
		domains[a.Domain]++
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return t, domains, nil
}

// Domains implements Store.
func (s *SQLite) Domains(ctx context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if s.cache != nil {
		return s.cache.domainList(), nil
	}
	rows, err := s.db.QueryContext(ctx, domainsSQL)
	if err != nil {
		return nil, s.fail("listing domains", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, s.fail("listing domains", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("listing domains", err)
	}
	return out, nil
}

// Close implements Store: it closes the database, after the reads and
// writes in progress.
func (s *SQLite) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.cache != nil {
		s.cache.close()
	}
	for _, st := range []*sql.Stmt{s.get, s.add, s.put, s.del} {
		if st != nil {
			st.Close()
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("subscriber: closing %s: %w", s.path, err)
	}
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTimes(a *Account, created, updated string) error {
	var err1, err2 error
	a.Created, err1 = time.Parse(time.RFC3339Nano, created)
	a.Updated, err2 = time.Parse(time.RFC3339Nano, updated)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("account %s: bad time: %w", a.Address(), err)
	}
	return nil
}
