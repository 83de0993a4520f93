package location

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-sip/switchboard/internal/sqlitedb"
)

// FileName is the name of the location database in the data directory.
const FileName = "location.db"

// schemaVersion is the layout schema creates, kept in PRAGMA user_version
// so that a release can tell which migrations a file needs:
//
//	1: a row per binding, sixteen columns, in the table bindings;
//	2: a row per AOR in the table aors, its bindings encoded in a BLOB
//	   (encode.go). Open migrates a version 1 file in one transaction.
//	3: the table journal, the number of the last journal record in the
//	   database (journal.go). A release that knows only version 2 would
//	   ignore the journals, and so refuses the file.
const schemaVersion = 3

// schema is idempotent: Open applies it to new and existing files alike.
const schema = `
CREATE TABLE IF NOT EXISTS aors (
	aor      TEXT PRIMARY KEY,
	bindings BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
`

const (
	selectSQL = `SELECT aor, bindings FROM aors`
	upsertSQL = `INSERT OR REPLACE INTO aors (aor, bindings) VALUES (?, ?)`
	deleteSQL = `DELETE FROM aors WHERE aor = ?`
	seqSQL    = `SELECT seq FROM journal WHERE id = 1`
	setSeqSQL = `INSERT OR REPLACE INTO journal (id, seq) VALUES (1, ?)`
)

// The version 1 layout, read once to migrate a file. Times were unix
// nanoseconds, NULL for the zero time; addresses netip.AddrPort text, ”
// for none; path the Path values joined by line feeds, NULL for none.
const (
	v1Columns = `aor, contact, params, q, expires, call_id, cseq, path, instance, reg_id,
		transport, source, local, conn, user_agent, updated`
	v1SelectSQL = `SELECT ` + v1Columns + ` FROM bindings ORDER BY rowid`
)

// pathSep joined Path values in version 1's path column. A Path value as
// a registrar keeps it has no line feed (RFC 3261 §7.3.1 lets folding be
// replaced by a space), and Update still refuses one that has.
const pathSep = "\n"

// maxBatch is the most writes the writer appends to the journal in one
// group commit.
const maxBatch = 512

// commitDelay is how long the writer lingers for more writes before it
// commits a batch, but only while writes are coming in concurrently (the
// batch before held more than one), and only until lingerBatch writes are
// waiting: under load each commit (an fsync, and the runtime's wake-ups
// around it) then carries more registrations, at the price of at most
// that much latency; a lone write is committed at once. Measured with SIPp
// at 4 000 registrations/s, CPU-s per 1000: 1 ms 0.134–0.145, 5 ms (ending
// at 32 writes) 0.131–0.137, 10 ms (ending at 64) 0.117; at 8 000 and
// 10 000/s 10 ms/64 was no worse than 5 ms/32. A fixed 10 ms without the
// early end stalled SIPp into retransmissions at 12 000/s. (Measured when
// each commit was an SQLite transaction.) With the journal, at 2 000/s,
// where a 10 ms linger ended with about 20 writes per fdatasync: 25 ms
// 0.111, 0.114 against 10 ms 0.137, 0.136 (alternating builds); from
// about 2 600/s up the linger ends at lingerBatch before 25 ms, as it did
// before 10 ms from 6 400/s.
const commitDelay = 25 * time.Millisecond

// lingerBatch ends the linger early: by then a commit is cheap per write,
// and waiting longer only adds latency.
const lingerBatch = 64

// checkpointRetry is how long the writer waits after a failed checkpoint
// before it tries again.
const checkpointRetry = time.Second

// Options tunes an SQLite store; the zero value gives the defaults.
type Options struct {
	// JournalSize is how many bytes a journal file grows to before a
	// checkpoint copies the AORs it changed into the database
	// (DefaultJournalSize when 0 or less). Larger means fewer and larger
	// checkpoints, and more to replay when the store opens after a
	// crash.
	JournalSize int64
}

// SQLite is the embedded Store: an SQLite database file in write-ahead-log
// mode with synchronous=FULL (see internal/sqlitedb), two journal files
// beside it (journal.go), and a copy of every binding in memory.
//
// Lookup and List read the memory copy and never touch the files. Update
// and UpdateAsync run fn and hand the new bindings of the AOR to a single
// writer goroutine, which appends them to the journal; once they are
// there and synced to disk, the writer installs them in memory and then
// returns them (Update) or calls done (UpdateAsync). The writer takes
// every write queued while it was busy and appends them together (group
// commit), so that concurrent updates share one fdatasync. Checkpoints
// copy what the journal holds into the database in the background; Close
// runs a last one, so that a closed store's database holds everything and
// its journals are empty.
//
// One process at a time may open a store for writing (an advisory lock on
// PATH.journal.0 says which); others, such as `switchboard location
// list`, read it with Snapshot.
type SQLite struct {
	path string
	t    table

	db   *sql.DB
	conn *sql.Conn // the only connection: Open's, then the checkpointer's

	// q carries work to the writer; Close closes it once no Update or
	// Expire can queue any more.
	q queue
	// exited is closed when the writer and the checkpointer have
	// returned; writerErr, written by the writer before, is what its
	// last checkpoint, or closing the journal, failed with.
	exited    chan struct{}
	writerErr error
	// slots[i] is the write of the Update holding stripe i's update
	// lock: reused, so that an Update allocates no request.
	slots [nStripes]write

	// The writer's state; only the writer goroutine touches it once
	// Open has returned.
	files       [2]*journalFile
	cur         int                  // the file the writer appends to
	seq         uint64               // the number of the last record appended
	dirty       map[string][]Binding // AORs changed since the last checkpoint began, with their bindings
	running     *checkpoint          // the checkpoint in progress, if any
	retryAt     time.Time            // no checkpoint before this, after one failed
	broken      error                // a failed append could not be undone: every later one fails
	buf         []byte               // the records of a batch
	journalSize int64

	// jobs carries checkpoints from the writer to the checkpointer, and
	// results carries them back; the writer closes jobs when it ends.
	jobs    chan *checkpoint
	results chan *checkpoint

	commits, written, checkpoints, failedCheckpoints atomic.Uint64

	closeMu sync.Mutex // serialises Close
}

var _ AsyncStore = (*SQLite)(nil)

// A write is one unit of work for the writer: replace every binding of
// aor with rows (an update), or of several AORs with theirs (an Expire).
type write struct {
	aor  string
	rows []Binding
	// For an update: stripe is aor's stripe index, whose update lock
	// the update holds until the writer finishes it; next and done are
	// what the writer hands on to the update's done.
	stripe int
	next   []Binding
	done   func([]Binding, error)

	// For an Expire (result not nil): the AORs whose expired bindings it
	// drops, and the channel (capacity 1) that receives the commit's
	// outcome.
	expired []aorRows
	result  chan error
}

// aorRows is the bindings an AOR keeps after an Expire.
type aorRows struct {
	aor  string
	rows []Binding
}

// A checkpoint copies the latest bindings of AORs into the database, up
// to journal record seq, and then lets the writer empty a journal file.
type checkpoint struct {
	dirty map[string][]Binding
	seq   uint64
	empty int   // the journal file to empty once committed
	err   error // set by the checkpointer
}

// errLocked is lockFile's error when another process holds the lock.
var errLocked = errors.New("locked by another process")

// Open opens the location database at path (by convention
// DATA_DIR/FileName) with the default Options. See OpenOptions.
func Open(path string) (*SQLite, error) {
	return OpenOptions(path, Options{})
}

// OpenOptions opens the location database at path, creating the file and
// its directory when missing, replays its journals (what a crash left in
// them goes into the database) and reads every binding into memory. It
// fails when another process has the store open. The caller must Close
// the store.
func OpenOptions(path string, o Options) (*SQLite, error) {
	db, err := sqlitedb.Open(path, schema)
	if err != nil {
		return nil, fmt.Errorf("location: %w", err)
	}
	// One connection: the checkpointer's. Open's reads use it before
	// the checkpointer starts.
	db.SetMaxOpenConns(1)
	s := &SQLite{
		path:        path,
		db:          db,
		q:           queue{kick: make(chan struct{}, 1)},
		exited:      make(chan struct{}),
		dirty:       make(map[string][]Binding),
		jobs:        make(chan *checkpoint),
		results:     make(chan *checkpoint, 1),
		journalSize: o.JournalSize,
	}
	if s.journalSize <= 0 {
		s.journalSize = DefaultJournalSize
	}
	fail := func(err error) (*SQLite, error) {
		return nil, errors.Join(err, s.closeFiles(), s.closeDB())
	}
	for i := range s.files {
		if s.files[i], err = openJournalFile(journalPath(path, i)); err != nil {
			return fail(err)
		}
	}
	if err := lockFile(s.files[0].f); err != nil {
		if errors.Is(err, errLocked) {
			err = fmt.Errorf("location: %s is open in another process (a running switchboard serve?): "+
				"one server per data directory; `switchboard location list` reads it beside one", path)
		} else {
			err = fmt.Errorf("location: locking %s: %w", s.files[0].name, err)
		}
		return fail(err)
	}
	replayed, err := s.init(context.Background())
	if err != nil {
		return fail(err)
	}
	ready := make(chan error, 1)
	go s.run(ready, replayed)
	if err := <-ready; err != nil {
		<-s.exited
		return fail(err)
	}
	return s, nil
}

// init takes the connection, checks the schema version, loads the
// bindings and replays the journals into memory. It returns the AORs the
// journals changed, with their bindings, for the first checkpoint.
func (s *SQLite) init(ctx context.Context) (map[string][]Binding, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("location: connecting to %s: %w", s.path, err)
	}
	s.conn = conn
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return nil, fmt.Errorf("location: reading the schema version of %s: %w", s.path, err)
	}
	switch {
	case v == 0 || v == 2:
		// A new file (written only now, so that reopening an existing
		// file writes nothing), or one of version 2, to which schema
		// has added the journal table.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return nil, fmt.Errorf("location: setting the schema version of %s: %w", s.path, err)
		}
	case v == 1:
		if err := s.migrate1(ctx); err != nil {
			return nil, fmt.Errorf("location: migrating %s from schema version 1: %w", s.path, err)
		}
	case v > schemaVersion:
		return nil, fmt.Errorf("location: %s has schema version %d, newer than the %d this switchboard knows; run a newer switchboard", s.path, v, schemaVersion)
	}
	if err := loadRows(ctx, conn, &s.t); err != nil {
		return nil, fmt.Errorf("location: reading %s: %w", s.path, err)
	}
	var applied uint64
	if err := conn.QueryRowContext(ctx, seqSQL).Scan(&applied); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("location: reading %s: %w", s.path, err)
	}
	recs, err := readJournals(s.path)
	if err != nil {
		return nil, err
	}
	recs, err = recordsAfter(s.path, recs, applied)
	if err != nil {
		return nil, err
	}
	s.seq = applied
	if len(recs) > 0 {
		s.seq = recs[len(recs)-1].seq
	}
	replayed := latest(recs)
	installAll(&s.t, replayed)
	return replayed, nil
}

// installAll makes rows the bindings of each AOR in t, dropping the AORs
// with none. Nothing else may be using t.
func installAll(t *table, rows map[string][]Binding) {
	for aor, bs := range rows {
		st := &t.stripes[stripeIndex(aor)]
		if len(bs) == 0 {
			delete(st.m, aor)
			continue
		}
		if st.m == nil {
			st.m = make(map[string][]Binding)
		}
		st.m[aor] = bs
	}
}

// migrate1 moves the bindings of a version 1 file into the aors table, in
// their order, drops the old table and sets the version, all in one
// transaction: a crash leaves the file as it was.
func (s *SQLite) migrate1(ctx context.Context) error {
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	byAOR, err := readV1(ctx, tx)
	if err != nil {
		return err
	}
	var buf []byte
	for _, aor := range slices.Sorted(maps.Keys(byAOR)) {
		buf = appendBindings(buf[:0], byAOR[aor])
		if _, err := tx.ExecContext(ctx, upsertSQL, aor, buf); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE bindings"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}

// A queryer is a *sql.Conn or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadRows reads every row of the aors table, expired bindings included,
// into t, which nothing else is using.
func loadRows(ctx context.Context, q queryer, t *table) error {
	rows, err := q.QueryContext(ctx, selectSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			aor  string
			data []byte
		)
		if err := rows.Scan(&aor, &data); err != nil {
			return err
		}
		bs, err := decodeBindings(aor, data)
		if err != nil {
			return fmt.Errorf("the bindings of %s: %w", aor, err)
		}
		if len(bs) == 0 {
			continue
		}
		st := &t.stripes[stripeIndex(aor)]
		if st.m == nil {
			st.m = make(map[string][]Binding)
		}
		st.m[aor] = bs
	}
	return rows.Err()
}

// scanBinding reads one row of v1SelectSQL.
func scanBinding(rows *sql.Rows) (Binding, error) {
	var (
		b                    Binding
		q, cseq, regID, conn int64
		expires, updated     sql.NullInt64
		path                 sql.NullString
		source, local        string
	)
	if err := rows.Scan(&b.AOR, &b.Contact, &b.Params, &q, &expires, &b.CallID, &cseq, &path,
		&b.Instance, &regID, &b.Transport, &source, &local, &conn, &b.UserAgent, &updated); err != nil {
		return b, err
	}
	b.Q, b.CSeq, b.RegID, b.Conn = int(q), uint32(cseq), int(regID), uint64(conn)
	b.Expires, b.Updated = fromNanos(expires), fromNanos(updated)
	if path.Valid {
		b.Path = strings.Split(path.String, pathSep)
	}
	var err error
	if b.Source, err = parseAddrPort(source); err != nil {
		return b, fmt.Errorf("binding %s of %s: source: %w", b.Contact, b.AOR, err)
	}
	if b.Local, err = parseAddrPort(local); err != nil {
		return b, fmt.Errorf("binding %s of %s: local: %w", b.Contact, b.AOR, err)
	}
	return b, nil
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, nil
	}
	return netip.ParseAddrPort(s)
}

// fromNanos is the inverse of nanos.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// nanos returns t as the store keeps it: nil for the zero time, unix
// nanoseconds otherwise. ok is false for a time that int64 nanoseconds
// cannot hold (before 1678 or after 2262).
func nanos(t time.Time) (v any, ok bool) {
	if t.IsZero() {
		return nil, true
	}
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return nil, false
	}
	return t.UnixNano(), true
}

// normalise checks that b can be stored and makes its times what reading
// them back gives (UTC, no monotonic reading), so that the memory copy and
// the file agree exactly.
func normalise(b *Binding) error {
	if !normaliseTime(&b.Expires) {
		return fmt.Errorf("location: binding %s of %s: expiry %v is outside the years 1678 to 2262 the store can keep", b.Contact, b.AOR, b.Expires)
	}
	if !normaliseTime(&b.Updated) {
		return fmt.Errorf("location: binding %s of %s: update time %v is outside the years 1678 to 2262 the store can keep", b.Contact, b.AOR, b.Updated)
	}
	for _, p := range b.Path {
		if strings.Contains(p, pathSep) {
			return fmt.Errorf("location: binding %s of %s: Path value %q contains a line feed", b.Contact, b.AOR, p)
		}
	}
	return nil
}

// normaliseTime makes *t what reading it back gives, or reports false when
// the store cannot keep it.
func normaliseTime(t *time.Time) bool {
	if t.IsZero() {
		*t = time.Time{}
		return true
	}
	if _, ok := nanos(*t); !ok {
		return false
	}
	*t = time.Unix(0, t.UnixNano()).UTC()
	return true
}

// Lookup implements Store.Lookup from memory. The bindings are copies.
func (s *SQLite) Lookup(_ context.Context, aor string, now time.Time) ([]Binding, error) {
	return s.t.lookup(aor, now)
}

// List implements Store.List from memory.
func (s *SQLite) List(_ context.Context, now time.Time) ([]Binding, error) {
	return s.t.list(now)
}

// Update implements Store.Update. fn is called exactly once (unless ctx is
// done or s closed first), with copies of the live bindings and with
// aor's stripe lock held: it must not call s's Update, UpdateAsync or
// Expire. Each binding fn returns is stored with its AOR field set to aor;
// s keeps a copy, so fn and the caller may change the returned slice
// afterwards.
//
// Update returns an error, and changes nothing, when a binding cannot be
// stored (a time outside 1678–2262, a Path value with a line feed) or the
// commit (the journal's write and fdatasync) fails. ctx is checked before
// fn runs; after that, Update waits for the commit, which only the disk
// bounds: a checkpoint never holds it up.
func (s *SQLite) Update(ctx context.Context, aor string, now time.Time, fn func(current []Binding) ([]Binding, error)) ([]Binding, error) {
	return s.t.update(ctx, aor, now, fn, s)
}

// UpdateAsync implements AsyncStore.UpdateAsync with Update's contract
// for fn and its errors. done is called by the writer goroutine once the
// batch that carries the update is in the journal on disk (or failed), in the order
// the updates were queued; before UpdateAsync returns when fn or the
// bindings are refused; or, when another update of the same stripe holds
// its lock, fn and done run on a new goroutine once it is released. The
// writer calls the done functions of a batch one after the other, so a
// slow one delays the others and the next commit.
func (s *SQLite) UpdateAsync(aor string, now time.Time, fn func(current []Binding) ([]Binding, error), done func([]Binding, error)) {
	s.t.updateAsync(aor, now, fn, s, done)
}

// commit is the committer of Update and UpdateAsync: it queues the
// replacement of aor's rows with stored for the writer, which finishes
// the update once the batch is committed.
func (s *SQLite) commit(i int, aor string, stored, next []Binding, done func([]Binding, error)) error {
	for j := range stored {
		if err := normalise(&stored[j]); err != nil {
			return err
		}
	}
	w := &s.slots[i] // ours until finish: we hold stripe i's update lock
	w.aor, w.rows, w.stripe, w.next, w.done = aor, stored, i, next, done
	s.q.put(w)
	return nil
}

// Expire implements Store.Expire. When no binding in memory has expired,
// it writes nothing. Otherwise it journals the bindings each AOR keeps in
// one group commit, holding every stripe's update lock until that is on
// disk, so Updates wait for one commit; Lookups do not wait.
func (s *SQLite) Expire(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("location: expiring: %w", err)
	}
	if err := s.t.lockAll(); err != nil {
		return 0, err
	}
	defer s.t.unlockAll()
	n := 0
	var expired []aorRows
	for i := range s.t.stripes {
		st := &s.t.stripes[i]
		st.mu.RLock()
		for aor, bs := range st.m {
			if live := countLive(bs, now); live < len(bs) {
				n += len(bs) - live
				expired = append(expired, aorRows{aor, liveCopy(bs, now)})
			}
		}
		st.mu.RUnlock()
	}
	if n == 0 {
		return 0, nil
	}
	w := &write{expired: expired, result: make(chan error, 1)}
	s.q.put(w)
	if err := <-w.result; err != nil {
		return 0, err
	}
	for _, e := range expired {
		st := &s.t.stripes[stripeIndex(e.aor)]
		st.mu.Lock()
		if e.rows == nil {
			delete(st.m, e.aor)
		} else {
			st.m[e.aor] = e.rows
		}
		st.mu.Unlock()
	}
	return n, nil
}

// SQLiteStats counts what an SQLite store's writer has done since Open.
type SQLiteStats struct {
	// Commits is the number of group commits (appends to the journal,
	// synced) the writer has made, failed ones included.
	Commits uint64
	// Writes is the number of Updates and Expires those commits
	// carried; Writes/Commits is the mean group-commit size.
	Writes uint64
	// Checkpoints is the number of checkpoints that copied the journal
	// into the database; FailedCheckpoints those that failed (the
	// journal kept what they were to copy, and a later one retried).
	Checkpoints, FailedCheckpoints uint64
}

// Stats returns the writer's counters. It is safe to call at any time,
// after Close included.
func (s *SQLite) Stats() SQLiteStats {
	return SQLiteStats{Commits: s.commits.Load(), Writes: s.written.Load(),
		Checkpoints: s.checkpoints.Load(), FailedCheckpoints: s.failedCheckpoints.Load()}
}

// queue hands writes to the writer goroutine. It wakes the writer only
// when the writer is waiting for work, not for every write: while it
// commits, or lingers for more, writes pile up without waking anybody.
// Every write in it holds a stripe's update lock (or is an Expire, which
// holds them all), so it never holds more than nStripes+1.
type queue struct {
	mu        sync.Mutex
	pending   []*write // guarded by mu
	waiting   bool     // the writer waits on kick for a first write; guarded by mu
	lingering bool     // the writer waits on kick or its linger; guarded by mu
	closed    bool     // guarded by mu
	kick      chan struct{}
	linger    *time.Timer // the writer's
}

// put queues w.
func (q *queue) put(w *write) {
	q.mu.Lock()
	q.pending = append(q.pending, w)
	wake := q.waiting || q.lingering && len(q.pending) >= lingerBatch
	if wake {
		q.waiting, q.lingering = false, false
	}
	q.mu.Unlock()
	if wake {
		q.kick <- struct{}{}
	}
}

// close makes take return false once the queue is empty.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	wake := q.waiting || q.lingering
	q.waiting, q.lingering = false, false
	q.mu.Unlock()
	if wake {
		q.kick <- struct{}{}
	}
}

// take waits until writes are queued, lingers for more when linger is set
// (for commitDelay, or until lingerBatch are queued), and moves up to
// maxBatch of them to batch. It returns false when the
// queue is closed and empty.
func (q *queue) take(batch []*write, linger bool) ([]*write, bool) {
	q.mu.Lock()
	for len(q.pending) == 0 {
		if q.closed {
			q.mu.Unlock()
			return batch, false
		}
		q.waiting = true
		q.mu.Unlock()
		<-q.kick
		q.mu.Lock()
	}
	if linger && !q.closed && len(q.pending) < lingerBatch {
		q.lingering = true
		q.mu.Unlock()
		if q.linger == nil {
			q.linger = time.NewTimer(commitDelay)
		} else {
			q.linger.Reset(commitDelay)
		}
		kicked := false
		select {
		case <-q.kick:
			kicked = true
		case <-q.linger.C:
		}
		q.mu.Lock()
		if !kicked && !q.lingering {
			// put or close cleared lingering after the timer
			// fired, and kicks: take the kick, so that it does not
			// end the next wait at once.
			q.mu.Unlock()
			<-q.kick
			q.mu.Lock()
		}
		q.lingering = false
	}
	n := min(len(q.pending), maxBatch)
	batch = append(batch, q.pending[:n]...)
	rest := copy(q.pending, q.pending[n:])
	clear(q.pending[rest:])
	q.pending = q.pending[:rest]
	q.mu.Unlock()
	return batch, true
}

// run is the checkpointer goroutine. It prepares its statements on the
// connection, copies what Open replayed from the journals into the
// database and empties both journal files, reports the outcome on ready,
// starts the writer, and then runs the writer's checkpoints until the
// writer closes jobs.
//
// It works on the driver's connection (sql.Conn.Raw), not through
// database/sql, to reuse one argument slice for every row and skip
// database/sql's per-statement conversions and allocations.
func (s *SQLite) run(ready chan<- error, replayed map[string][]Binding) {
	defer close(s.exited)
	sent := false
	err := s.conn.Raw(func(dc any) error {
		w, err := newWriter(dc)
		if err == nil && len(replayed) > 0 {
			if err = w.checkpoint(replayed, s.seq); err != nil {
				err = fmt.Errorf("location: copying the journals into %s: %w", s.path, err)
			}
		}
		for i := 0; err == nil && i < len(s.files); i++ {
			err = s.files[i].empty()
		}
		sent = true
		if err != nil {
			ready <- err
			if w != nil {
				return w.close()
			}
			return nil
		}
		ready <- nil
		go s.writeLoop()
		for c := range s.jobs {
			c.err = w.checkpoint(c.dirty, c.seq)
			s.results <- c
		}
		return w.close()
	})
	if !sent {
		ready <- fmt.Errorf("location: connecting to %s: %w", s.path, err)
		return
	}
	if err != nil && s.writerErr == nil {
		s.writerErr = fmt.Errorf("location: closing %s: %w", s.path, err)
	}
}

// writeLoop is the writer goroutine: it appends batches of writes to the
// journal until the queue is closed and drained, starts a checkpoint
// whenever the journal file it appends to is full, and at the end runs a
// last checkpoint, closes the journal files and then jobs.
func (s *SQLite) writeLoop() {
	batch := make([]*write, 0, maxBatch)
	busy := false // the last batch held more than one write
	for {
		var ok bool
		if batch, ok = s.q.take(batch[:0], busy); !ok {
			break
		}
		busy = len(batch) > 1
		err := s.appendBatch(batch)
		s.commits.Add(1)
		s.written.Add(uint64(len(batch)))
		for i, wr := range batch {
			batch[i] = nil
			s.finish(wr, err)
		}
		s.checkpointIfDue()
	}
	s.writerErr = errors.Join(s.checkpointAll(), s.closeFiles())
	close(s.jobs)
}

// appendBatch appends a record for every AOR the writes of batch change
// to the journal file, with one write and one fdatasync. When either
// fails, it cuts the file back to where the batch began, so that no
// record of the batch, which fails as a whole, is replayed; when that
// fails too, the journal is broken and so is every later batch.
func (s *SQLite) appendBatch(batch []*write) error {
	if s.broken != nil {
		return fmt.Errorf("location: the journal of %s failed and could not be repaired (%w); restart switchboard", s.path, s.broken)
	}
	buf := s.buf[:0]
	seq := s.seq
	eachChange(batch, func(aor string, rows []Binding) {
		seq++
		buf = appendRecord(buf, seq, aor, rows)
	})
	// A large Expire's buffer is not kept.
	if cap(buf) <= 1<<20 {
		s.buf = buf
	} else {
		s.buf = nil
	}
	jf := s.files[s.cur]
	err := jf.io.writeAt(buf, jf.size)
	if err == nil {
		err = jf.io.sync()
	}
	if err != nil {
		if terr := jf.f.Truncate(jf.size); terr != nil {
			s.broken = errors.Join(err, terr)
		}
		return fmt.Errorf("location: writing %s: %w", jf.name, err)
	}
	jf.size += int64(len(buf))
	s.seq = seq
	eachChange(batch, func(aor string, rows []Binding) { s.dirty[aor] = rows })
	return nil
}

// eachChange calls fn with every AOR the writes of batch change, in
// order, and the bindings it gets: an update's one, an Expire's several.
func eachChange(batch []*write, fn func(aor string, rows []Binding)) {
	for _, wr := range batch {
		if wr.result == nil {
			fn(wr.aor, wr.rows)
			continue
		}
		for _, e := range wr.expired {
			fn(e.aor, e.rows)
		}
	}
}

// checkpointIfDue collects the outcome of a finished checkpoint, and
// starts one when none is running and the journal file the writer
// appends to has reached journalSize. The checkpoint takes the AORs
// changed since the last one began; the writer goes on in the other file
// when that is empty (it then empties this one), or else stays in this
// one and the checkpoint empties the other (which a failed checkpoint
// left full).
func (s *SQLite) checkpointIfDue() {
	if s.running != nil {
		select {
		case c := <-s.results:
			s.checkpointDone(c)
		default:
			return
		}
	}
	if s.files[s.cur].size < s.journalSize || len(s.dirty) == 0 || time.Now().Before(s.retryAt) {
		return
	}
	c := &checkpoint{dirty: s.dirty, seq: s.seq, empty: 1 - s.cur}
	if !s.files[c.empty].holdsRecords() {
		c.empty = s.cur
		s.cur = 1 - s.cur
	}
	s.dirty = make(map[string][]Binding, len(c.dirty))
	s.running = c
	s.jobs <- c
}

// checkpointDone empties the journal file of a committed checkpoint. A
// checkpoint that failed, or whose file could not be emptied, hands its
// AORs back to the next one (unless they changed since, which makes them
// dirty anyway); the journal still has their records.
func (s *SQLite) checkpointDone(c *checkpoint) {
	s.running = nil
	if c.err == nil {
		c.err = s.files[c.empty].empty()
	}
	if c.err == nil {
		s.checkpoints.Add(1)
		return
	}
	s.failedCheckpoints.Add(1)
	for aor, rows := range c.dirty {
		if _, ok := s.dirty[aor]; !ok {
			s.dirty[aor] = rows
		}
	}
	s.retryAt = time.Now().Add(checkpointRetry)
}

// checkpointAll waits for the checkpoint in progress, then copies every
// AOR changed since into the database and empties both journal files:
// the writer's last act. On failure the journal keeps everything, for
// the next Open to replay.
func (s *SQLite) checkpointAll() error {
	if s.running != nil {
		s.checkpointDone(<-s.results)
	}
	if !s.files[0].holdsRecords() && !s.files[1].holdsRecords() {
		return nil
	}
	c := &checkpoint{dirty: s.dirty, seq: s.seq}
	s.jobs <- c
	if c = <-s.results; c.err != nil {
		s.failedCheckpoints.Add(1)
		return fmt.Errorf("location: copying the journal into %s: %w; the journal keeps it for the next start", s.path, c.err)
	}
	s.checkpoints.Add(1)
	var errs []error
	for _, jf := range s.files {
		errs = append(errs, jf.empty())
	}
	return errors.Join(errs...)
}

// closeFiles closes the journal files that are open.
func (s *SQLite) closeFiles() error {
	var errs []error
	for i, jf := range s.files {
		if jf != nil {
			if err := jf.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("location: closing %s: %w", jf.name, err))
			}
			s.files[i] = nil
		}
	}
	return errors.Join(errs...)
}

// finish ends wr, committed when err is nil: it wakes an Expire, or
// installs an update's bindings, releases its stripe and calls its done.
func (s *SQLite) finish(wr *write, err error) {
	if wr.result != nil {
		wr.result <- err
		return
	}
	// wr is the stripe's slot: clear it before finish releases the
	// stripe to the next update, which refills it.
	aor, rows, i, next, done := wr.aor, wr.rows, wr.stripe, wr.next, wr.done
	wr.aor, wr.rows, wr.next, wr.done = "", nil, nil, nil
	s.t.finish(i, aor, rows, err)
	if err != nil {
		next = nil
	}
	done(next, err)
}

// A writer holds the checkpointer's prepared statements and the argument
// slice it reuses for every row.
type writer struct {
	begin, commit, rollback, del, upsert, setSeq driver.StmtExecContext
	stmts                                        []driver.Stmt // to close
	args                                         [2]driver.NamedValue
	buf                                          []byte // the encoding of one AOR's bindings
}

// newWriter prepares the writer's statements on the driver connection dc.
func newWriter(dc any) (*writer, error) {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("location: the SQLite driver's connection (%T) cannot prepare with a context", dc)
	}
	w := new(writer)
	for i := range w.args {
		w.args[i].Ordinal = i + 1
	}
	for _, p := range []struct {
		stmt *driver.StmtExecContext
		sql  string
	}{
		{&w.begin, "BEGIN IMMEDIATE"}, {&w.commit, "COMMIT"}, {&w.rollback, "ROLLBACK"},
		{&w.del, deleteSQL}, {&w.upsert, upsertSQL}, {&w.setSeq, setSeqSQL},
	} {
		st, err := pc.PrepareContext(context.Background(), p.sql)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("location: preparing %q: %w", p.sql, err), w.close())
		}
		w.stmts = append(w.stmts, st)
		if *p.stmt, ok = st.(driver.StmtExecContext); !ok {
			return nil, errors.Join(fmt.Errorf("location: the SQLite driver's statement (%T) cannot execute with a context", st), w.close())
		}
	}
	return w, nil
}

// close closes the statements.
func (w *writer) close() error {
	var errs []error
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	w.stmts = nil
	return errors.Join(errs...)
}

// exec runs st with the first n of w.args.
func (w *writer) exec(st driver.StmtExecContext, n int) (driver.Result, error) {
	return st.ExecContext(context.Background(), w.args[:n])
}

// checkpoint writes the bindings of every AOR of dirty (in the order of
// their names, which keeps the B-tree's pages together), and seq as the
// last journal record in the database, in one transaction. On failure it
// rolls the transaction back.
func (w *writer) checkpoint(dirty map[string][]Binding, seq uint64) (err error) {
	if _, err := w.exec(w.begin, 0); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// An error leaves the transaction open or already
			// rolled back; either way ROLLBACK ends it, and its
			// own error adds nothing.
			_, _ = w.exec(w.rollback, 0)
		}
	}()
	for _, aor := range slices.Sorted(maps.Keys(dirty)) {
		if err := w.put(aor, dirty[aor]); err != nil {
			return err
		}
	}
	w.args[0].Value = int64(seq)
	if _, err := w.exec(w.setSeq, 1); err != nil {
		return err
	}
	_, err = w.exec(w.commit, 0)
	return err
}

// put replaces the row of aor with one holding rows, which normalise has
// accepted, or deletes it when rows is empty.
func (w *writer) put(aor string, rows []Binding) error {
	w.args[0].Value = aor
	if len(rows) == 0 {
		_, err := w.exec(w.del, 1)
		return err
	}
	w.buf = appendBindings(w.buf[:0], rows)
	// The driver copies a []byte argument (SQLITE_TRANSIENT), so the
	// buffer is reused.
	w.args[1].Value = w.buf
	_, err := w.exec(w.upsert, 2)
	w.args[1].Value = nil
	return err
}

// Close implements Store.Close: it waits for the Updates in progress and
// their commits, stops the writer, copies the journal into the database
// (a last checkpoint; when it fails, Close says so and the journal keeps
// everything for the next Open) and closes the files. Every later call,
// Close included, returns ErrClosed.
func (s *SQLite) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if err := s.t.close(); err != nil {
		return err
	}
	// No Update or Expire is in progress, and none can start: nothing
	// queues a write any more.
	s.q.close()
	<-s.exited
	return errors.Join(s.writerErr, s.closeDB())
}

// closeDB closes the connection and the database.
func (s *SQLite) closeDB() error {
	var errs []error
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("location: closing %s: %w", s.path, err)
	}
	return nil
}
