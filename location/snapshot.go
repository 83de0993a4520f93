package location

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/switchboard-sip/switchboard/internal/sqlitedb"
)

// Snapshot reads the bindings of the location database at path (by
// convention DATA_DIR/FileName) and its journals into a new Memory store,
// writing nothing to either: it is how `switchboard location list` reads
// the store beside a server that has it open. It sees every update the
// server acknowledged before Snapshot began. A missing database has no
// bindings. The Memory is the caller's; its changes go nowhere.
func Snapshot(path string) (*Memory, error) {
	m := NewMemory()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	// The journals first, then the database: a record gone from the
	// journals by then was emptied out by a checkpoint, which had
	// committed it to the database before.
	recs, err := readJournals(path)
	if err != nil {
		return nil, err
	}
	db, err := sqlitedb.OpenReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("location: %w", err)
	}
	defer db.Close()
	ctx := context.Background()
	// One read transaction: the rows and the journal position of one
	// commit.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("location: reading %s: %w", path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return nil, fmt.Errorf("location: reading the schema version of %s: %w", path, err)
	}
	var applied uint64
	switch {
	case v == 0:
		return m, nil
	case v == 1:
		var byAOR map[string][]Binding
		if byAOR, err = readV1(ctx, tx); err == nil {
			installAll(&m.t, byAOR)
		}
	case v == 2:
		err = loadRows(ctx, tx, &m.t)
	case v == schemaVersion:
		if err = loadRows(ctx, tx, &m.t); err == nil {
			err = tx.QueryRowContext(ctx, seqSQL).Scan(&applied)
			if errors.Is(err, sql.ErrNoRows) {
				err = nil
			}
		}
	default:
		return nil, fmt.Errorf("location: %s has schema version %d, newer than the %d this switchboard knows; run a newer switchboard", path, v, schemaVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("location: reading %s: %w", path, err)
	}
	// A server appending while the journals were read can leave a gap
	// (a file read before its last records, the next one after): what
	// runs on without one is the store as it was at one moment.
	recs, _ = contiguousAfter(recs, applied)
	installAll(&m.t, latest(recs))
	return m, nil
}

// readV1 reads the bindings of a version 1 file (a row per binding), by
// AOR, each AOR's in the file's order.
func readV1(ctx context.Context, q queryer) (map[string][]Binding, error) {
	rows, err := q.QueryContext(ctx, v1SelectSQL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byAOR := map[string][]Binding{}
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, err
		}
		byAOR[b.AOR] = append(byAOR[b.AOR], b)
	}
	return byAOR, rows.Err()
}
