// Package sqlitedb opens the SQLite databases of the data directory the way
// every embedded store wants them: write-ahead log, so that the CLI can read
// and write while `switchboard serve` runs; synchronous=FULL, so that a
// committed transaction survives a crash or power loss; foreign keys on;
// and a busy timeout instead of an immediate "database is locked".
//
// It uses modernc.org/sqlite, a pure-Go SQLite, so the binary builds
// without cgo.
package sqlitedb

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// BusyTimeout is how long, in milliseconds, a connection waits for another
// process's write lock before it fails with SQLITE_BUSY.
const BusyTimeout = 5000

// Open opens (creating it and its directory when missing) the SQLite
// database at path and applies schema, a script of idempotent statements
// (CREATE TABLE IF NOT EXISTS …).
func Open(path, schema string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitedb: creating the data directory: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(ON)",
		fmt.Sprintf("busy_timeout(%d)", BusyTimeout),
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: opening %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitedb: preparing %s: %w; is it a Switchboard database, and writable?", path, err)
	}
	return db, nil
}

// OpenReadOnly opens the existing SQLite database at path for reading
// only: it creates nothing, changes no setting and applies no schema, so
// that a reader beside a server (the CLI) writes nothing. A missing file is
// an error.
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlitedb: opening %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout))
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: opening %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitedb: opening %s: %w", path, err)
	}
	return db, nil
}
