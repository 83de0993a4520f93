package location_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/internal/sqlitedb"
	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/location/storetest"
)

func openSQLite(t testing.TB, path string) *location.SQLite {
	t.Helper()
	s, err := location.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, storetest.Config{
		Open: func(t *testing.T, dir string) location.Store {
			return openSQLite(t, filepath.Join(dir, location.FileName))
		},
		Durable: true,
	})
}

// testNow is the tests' clock reading.
func testNow() time.Time { return time.Date(2026, time.April, 1, 12, 0, 0, 123456789, time.UTC) }

// numbered returns binding i of aor i, every field set from i.
func numbered(i int) location.Binding {
	now := testNow()
	return location.Binding{
		AOR:       fmt.Sprintf("sip:user%d@example.com", i),
		Contact:   fmt.Sprintf("sip:user%d@192.0.2.%d:%d;transport=tcp", i, i%250+1, 5060+i),
		Params:    fmt.Sprintf(`+sip.instance="<urn:uuid:%08d-0000-0000-0000-000000000000>";reg-id=%d`, i, i%3),
		Q:         i % 1001,
		Expires:   now.Add(time.Hour + time.Duration(i)*time.Nanosecond),
		CallID:    fmt.Sprintf("%d@phone", i),
		CSeq:      uint32(i) * 7,
		Path:      []string{fmt.Sprintf("<sip:edge%d.example.net;lr>", i), "<sip:core.example.net;lr>"},
		Instance:  fmt.Sprintf("<urn:uuid:%08d-0000-0000-0000-000000000000>", i),
		RegID:     i % 3,
		Transport: "TCP",
		Source:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), uint16(10000+i)),
		Local:     netip.MustParseAddrPort("[2001:db8::5]:5060"),
		Conn:      uint64(i) << 40,
		UserAgent: fmt.Sprintf("phone/%d", i),
		Updated:   now,
	}
}

func put(ctx context.Context, s location.Store, b location.Binding) error {
	_, err := s.Update(ctx, b.AOR, testNow(), func([]location.Binding) ([]location.Binding, error) {
		return []location.Binding{b}, nil
	})
	return err
}

// equal compares two bindings field by field, times with Equal.
func equal(a, b location.Binding) bool {
	return a.AOR == b.AOR && a.Contact == b.Contact && a.Params == b.Params && a.Q == b.Q &&
		a.Expires.Equal(b.Expires) && a.CallID == b.CallID && a.CSeq == b.CSeq &&
		slices.Equal(a.Path, b.Path) && a.Instance == b.Instance && a.RegID == b.RegID &&
		a.Transport == b.Transport && a.Source == b.Source && a.Local == b.Local &&
		a.Conn == b.Conn && a.UserAgent == b.UserAgent && a.Updated.Equal(b.Updated)
}

// crashDirEnv tells the test binary it is the child of TestSQLiteCrash,
// and where its database is.
const crashDirEnv = "SWITCHBOARD_LOCATION_CRASH_DIR"

// crashWrites is how many AORs the child writes unless killed first.
const crashWrites = 2000

// TestHelperCrashChild is the child of TestSQLiteCrash: it writes
// numbered(i) for each i with 16 Updates in flight (a checkpoint about
// every 40 writes), printing "ack i" as
// soon as Update i returns nil, then waits for its stdin to close (or to
// be killed).
func TestHelperCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestSQLiteCrash")
	}
	// Small journal files: the child is killed with checkpoints
	// behind it and, at times, one in progress.
	s, err := location.OpenOptions(filepath.Join(dir, location.FileName), location.Options{JournalSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var outMu sync.Mutex
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				if err := put(context.Background(), s, numbered(i)); err != nil {
					t.Error(err)
					return
				}
				outMu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d\n", i) // unbuffered: in the pipe before the next Update
				outMu.Unlock()
			}
		})
	}
	for i := range crashWrites {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// TestSQLiteCrash kills a process that is writing the store with SIGKILL
// and checks that every Update it acknowledged is in the file: an Update
// that returned nil was on disk.
func TestSQLiteCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that hangs is killed, and the scan below ends.
	watchdog := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()

	var acked []int
	sc := bufio.NewScanner(stdout)
	parse := func() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			if i, err := strconv.Atoi(n); err == nil {
				acked = append(acked, i)
			}
		}
	}
	for len(acked) < 100 && sc.Scan() {
		parse()
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	// What the child printed before it died was acknowledged too.
	for sc.Scan() {
		parse()
	}
	err = cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("child acknowledged %d writes before it ended (%v); stderr:\n%s", len(acked), err, stderr.Bytes())
	}

	s := openSQLite(t, filepath.Join(dir, location.FileName))
	defer s.Close()
	all, err := s.List(context.Background(), testNow())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the child after %d acknowledged writes of %d; %d in the file", len(acked), crashWrites, len(all))
	for _, i := range acked {
		want := numbered(i)
		got, err := s.Lookup(context.Background(), want.AOR, testNow())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !equal(got[0], want) {
			t.Errorf("acknowledged %s: found %+v, want %+v", want.AOR, got, want)
		}
	}
	if err := integrityCheck(filepath.Join(dir, location.FileName)); err != nil {
		t.Error(err)
	}
}

// integrityCheck runs SQLite's integrity check on the file at path.
func integrityCheck(path string) error {
	db, err := sqlitedb.Open(path, "SELECT 1")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity check of %s: %s", path, res)
	}
	return nil
}

// TestSQLiteSnapshot reads the store with Snapshot while it is writing,
// as `switchboard location list` does beside a running server: the
// snapshot has every acknowledged binding, the store keeps writing, and a
// second Open is refused while the first store is open.
func TestSQLiteSnapshot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), location.FileName)
	server := openSQLite(t, path)
	defer server.Close()
	const before, during = 50, 400
	for i := range before {
		if err := put(ctx, server, numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := before + w; i < before+during; i += 8 {
				if err := put(ctx, server, numbered(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}

	if s, err := location.Open(path); err == nil {
		s.Close()
		t.Error("a second Open of a store in use succeeded")
	} else if !strings.Contains(err.Error(), "open in another process") {
		t.Errorf("second Open = %v, want an error saying the store is open elsewhere", err)
	}
	for round := range 3 {
		cli, err := location.Snapshot(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cli.List(ctx, testNow())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: the second store lists %d bindings", round, len(got))
		if len(got) < before {
			t.Fatalf("round %d: second store lists %d bindings, want at least %d", round, len(got), before)
		}
		byAOR := make(map[string]location.Binding, len(got))
		for _, b := range got {
			byAOR[b.AOR] = b
		}
		for i := range before {
			if want := numbered(i); !equal(byAOR[want.AOR], want) {
				t.Errorf("round %d: second store has %+v, want %+v", round, byAOR[want.AOR], want)
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("the first store failed while the second was open: %v", err)
	}

	want, err := server.List(ctx, testNow())
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != before+during {
		t.Fatalf("first store lists %d bindings, want %d", len(want), before+during)
	}
	cli, err := location.Snapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cli.List(ctx, testNow())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("second store lists %d bindings, the first %d", len(got), len(want))
	}
	for i := range want {
		if !equal(got[i], want[i]) {
			t.Errorf("binding %d: second store has %+v, first %+v", i, got[i], want[i])
		}
	}
}

// TestSQLiteRefusesUnstorable checks the bindings the file cannot hold
// exactly: Update fails and changes nothing.
func TestSQLiteRefusesUnstorable(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t, filepath.Join(t.TempDir(), location.FileName))
	defer s.Close()
	good := numbered(1)
	if err := put(ctx, s, good); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func(*location.Binding){
		"path with a line feed": func(b *location.Binding) { b.Path = []string{"<sip:a;lr>\n<sip:b;lr>"} },
		"expiry in 3000":        func(b *location.Binding) { b.Expires = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"updated in 1600":       func(b *location.Binding) { b.Updated = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		b := good
		b.CSeq++
		bad(&b)
		if err := put(ctx, s, b); err == nil || !strings.HasPrefix(err.Error(), "location: ") {
			t.Errorf("%s: Update = %v, want a location: error", name, err)
		}
		got, err := s.Lookup(ctx, good.AOR, testNow())
		if err != nil || len(got) != 1 || !equal(got[0], good) {
			t.Errorf("%s: Lookup after the refusal = %+v, %v; want the binding before", name, got, err)
		}
	}
}

// TestSQLiteCheckpointFailure breaks the database under a store (another
// connection drops its table) with small journal files: Updates go on
// succeeding from the journal while checkpoints fail, a checkpoint
// succeeds once the table is back, and nothing acknowledged is lost,
// neither when the last checkpoint succeeds nor when the store is closed
// with the table gone and the journal is all that holds the bindings.
func TestSQLiteCheckpointFailure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), location.FileName)
	open := func() *location.SQLite {
		s, err := location.OpenOptions(path, location.Options{JournalSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	vandalise := func(sql string) {
		t.Helper()
		runSQL(t, path, sql)
	}
	check := func(when string, s location.Store, n int) {
		t.Helper()
		got, err := s.List(ctx, testNow())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%s: %d bindings, want %d", when, len(got), n)
		}
		byAOR := make(map[string]location.Binding, n)
		for _, b := range got {
			byAOR[b.AOR] = b
		}
		for i := range n {
			if want := numbered(i); !equal(byAOR[want.AOR], want) {
				t.Fatalf("%s: %s has %+v, want %+v", when, want.AOR, byAOR[want.AOR], want)
			}
		}
	}

	s := open()
	vandalise("DROP TABLE aors")
	n := 0
	for ; n < 200 || s.Stats().FailedCheckpoints == 0; n++ {
		if n == 5000 {
			t.Fatalf("no checkpoint failed after %d Updates: %+v", n, s.Stats())
		}
		if err := put(ctx, s, numbered(n)); err != nil {
			t.Fatalf("Update %d with the table gone: %v", n, err)
		}
	}
	t.Logf("%d Updates, %+v", n, s.Stats())
	if st := s.Stats(); st.Checkpoints != 0 {
		t.Fatalf("a checkpoint succeeded with the table gone: %+v", st)
	}
	check("with the table gone", s, n)

	// The table back, a retry succeeds (after checkpointRetry).
	vandalise("CREATE TABLE aors (aor TEXT PRIMARY KEY, bindings BLOB NOT NULL) WITHOUT ROWID")
	deadline := time.Now().Add(10 * time.Second)
	for ; s.Stats().Checkpoints == 0; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint succeeded within 10 s of the table's return: %+v", s.Stats())
		}
		if err := put(ctx, s, numbered(n)); err != nil {
			t.Fatalf("Update %d: %v", n, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close with the table back: %v", err)
	}
	s = open()
	check("reopened after the retry", s, n)

	// Closed while the table is gone: Close says so, and the journal
	// holds what the database lacks.
	vandalise("DELETE FROM aors")
	if err := put(ctx, s, numbered(n)); err != nil {
		t.Fatal(err)
	}
	n++
	vandalise("DROP TABLE aors")
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "journal keeps it") {
		t.Errorf("Close with the table gone = %v, want an error saying the journal keeps the bindings", err)
	}
	snap, err := location.Snapshot(path)
	if err == nil {
		t.Errorf("Snapshot of a database without its table succeeded with %d bindings", len(mustList(t, snap)))
	}
	s = open()
	defer s.Close()
	// Only the last Update is in the journal: the others were
	// checkpointed, then deleted by the vandal.
	got := mustList(t, s)
	if len(got) != 1 || !equal(got[0], numbered(n-1)) {
		t.Errorf("reopened with the table gone: %+v, want only %s", got, numbered(n-1).AOR)
	}
}

// mustList lists s at testNow.
func mustList(t *testing.T, s location.Store) []location.Binding {
	t.Helper()
	got, err := s.List(context.Background(), testNow())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSQLiteNewerSchema checks that a file from a newer release is
// refused with a message saying what to do.
func TestSQLiteNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), location.FileName)
	s := openSQLite(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	runSQL(t, path, "PRAGMA user_version = 99")
	s, err := location.Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file with schema version 99 succeeded")
	}
	if !strings.HasPrefix(err.Error(), "location: ") || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open = %v, want a location: error saying the file is newer", err)
	}
}

// TestSQLiteCloseWaits closes the store while Updates are in flight: each
// Update either succeeds, and is then in the file, or fails with
// ErrClosed.
func TestSQLiteCloseWaits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), location.FileName)
	s := openSQLite(t, path)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done []int
	)
	started := make(chan struct{}, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < 16*50; i += 16 {
				err := put(ctx, s, numbered(i))
				if errors.Is(err, location.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done = append(done, i)
				mu.Unlock()
				select {
				case started <- struct{}{}:
				default:
				}
			}
		})
	}
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = openSQLite(t, path)
	defer s.Close()
	for _, i := range done {
		want := numbered(i)
		got, err := s.Lookup(ctx, want.AOR, testNow())
		if err != nil || len(got) != 1 || !equal(got[0], want) {
			t.Errorf("%s, acknowledged before Close: %+v, %v", want.AOR, got, err)
		}
	}
}

// TestSQLiteCanceled checks that an Update whose context is done writes
// nothing.
func TestSQLiteCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), location.FileName)
	s := openSQLite(t, path)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := put(ctx, s, numbered(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context = %v, want context.Canceled", err)
	}
	if got, err := s.List(context.Background(), testNow()); err != nil || len(got) != 0 {
		t.Errorf("List = %v, %v; want nothing", got, err)
	}
}

// BenchmarkSQLiteUpdateSerial is one Update at a time: each waits for a
// commit of its own, so ns/op is about the disk's fsync latency.
func BenchmarkSQLiteUpdateSerial(b *testing.B) {
	s := openSQLite(b, filepath.Join(b.TempDir(), location.FileName))
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := put(ctx, s, numbered(i%64)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSQLiteUpdate(b *testing.B) {
	s := openSQLite(b, filepath.Join(b.TempDir(), location.FileName))
	defer s.Close()
	before := s.Stats()
	benchUpdate(b, s)
	b.StopTimer()
	after := s.Stats()
	if c := after.Commits - before.Commits; c > 0 {
		b.ReportMetric(float64(after.Writes-before.Writes)/float64(c), "writes/commit")
	}
}

// schemaV1 is the layout of the first release (schema version 1), for the
// migration test.
const schemaV1 = `
CREATE TABLE bindings (
	aor        TEXT    NOT NULL,
	contact    TEXT    NOT NULL,
	params     TEXT    NOT NULL,
	q          INTEGER NOT NULL,
	expires    INTEGER,
	call_id    TEXT    NOT NULL,
	cseq       INTEGER NOT NULL,
	path       TEXT,
	instance   TEXT    NOT NULL,
	reg_id     INTEGER NOT NULL,
	transport  TEXT    NOT NULL,
	source     TEXT    NOT NULL,
	local      TEXT    NOT NULL,
	conn       INTEGER NOT NULL,
	user_agent TEXT    NOT NULL,
	updated    INTEGER
);
CREATE INDEX bindings_aor ON bindings (aor);
INSERT INTO bindings VALUES
	('sip:alice@example.com', 'sip:alice@192.0.2.1:5060', '+sip.instance="<urn:uuid:1>";reg-id=1', 500,
	 1775044800123456789, 'call-1', 7, '<sip:p1.example.com;lr>' || char(10) || '<sip:p2.example.com;lr;ob>',
	 '<urn:uuid:1>', 1, 'TCP', '192.0.2.1:5060', '192.0.2.254:5060', 42, 'phone/1.0', 1775041200000000000),
	('sip:bob@example.com', 'sip:bob@[2001:db8::1]:5062', '', -1,
	 1775044800000000000, 'call-2', 1, NULL, '', 0, 'UDP', '[2001:db8::1]:5062', '', 0, '', NULL),
	('sip:alice@example.com', 'sip:alice@192.0.2.9', '', -1,
	 NULL, 'call-3', 2, NULL, '', 0, 'UDP', '', '', 0, '', NULL);
PRAGMA user_version = 1;
`

// TestSQLiteMigratesVersion1: a file of schema version 1 (a row per
// binding) opens with every binding and field, in order, and is left at
// the current version without the old table.
func TestSQLiteMigratesVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), location.FileName)
	runSQL(t, path, schemaV1)
	s := openSQLite(t, path)
	exp := time.Unix(0, 1775044800123456789).UTC()
	want := []location.Binding{
		{AOR: "sip:alice@example.com", Contact: "sip:alice@192.0.2.1:5060", Params: `+sip.instance="<urn:uuid:1>";reg-id=1`,
			Q: 500, Expires: exp, CallID: "call-1", CSeq: 7, Path: []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr;ob>"},
			Instance: "<urn:uuid:1>", RegID: 1, Transport: "TCP", Source: netip.MustParseAddrPort("192.0.2.1:5060"),
			Local: netip.MustParseAddrPort("192.0.2.254:5060"), Conn: 42, UserAgent: "phone/1.0", Updated: time.Unix(0, 1775041200000000000).UTC()},
		{AOR: "sip:alice@example.com", Contact: "sip:alice@192.0.2.9", Q: -1, CallID: "call-3", CSeq: 2, Transport: "UDP"},
		{AOR: "sip:bob@example.com", Contact: "sip:bob@[2001:db8::1]:5062", Q: -1, Expires: time.Unix(0, 1775044800000000000).UTC(),
			CallID: "call-2", CSeq: 1, Transport: "UDP", Source: netip.MustParseAddrPort("[2001:db8::1]:5062")},
	}
	check := func(when string, s *location.SQLite) {
		t.Helper()
		// The second alice binding never expires (NULL): looked up at
		// the zero time every binding is live.
		got, err := s.List(context.Background(), time.Time{}.Add(-time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		alice, err := s.Lookup(context.Background(), "sip:alice@example.com", time.Time{}.Add(-time.Nanosecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(alice) != 2 || alice[0].Contact != want[0].Contact || alice[1].Contact != want[1].Contact {
			t.Errorf("%s: alice's bindings %v, want them in the file's order", when, alice)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d bindings, want %d: %+v", when, len(got), len(want), got)
		}
		for i := range want {
			if !equal(got[i], want[i]) {
				t.Errorf("%s: binding %d\n got %+v\nwant %+v", when, i, got[i], want[i])
			}
		}
	}
	check("after migrating", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	var version, old int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'bindings'").Scan(&old); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if version != 3 || old != 0 {
		t.Errorf("after migrating: user_version %d, old table present %d; want 3 and 0", version, old)
	}
	s = openSQLite(t, path)
	defer s.Close()
	check("reopened", s)
}

// runSQL runs script on the database at path through a connection of its
// own, as another process would.
func runSQL(t *testing.T, path, script string) {
	t.Helper()
	db, err := sqlitedb.Open(path, script)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// userVersion reads PRAGMA user_version of the file at path.
func userVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sqlitedb.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSQLiteOpensVersion2: a file of schema version 2 (no journal table)
// opens with its bindings and is left at version 3.
func TestSQLiteOpensVersion2(t *testing.T) {
	path := filepath.Join(t.TempDir(), location.FileName)
	s := openSQLite(t, path)
	for i := range 3 {
		if err := put(context.Background(), s, numbered(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	runSQL(t, path, "DROP TABLE journal; PRAGMA user_version = 2")
	s = openSQLite(t, path)
	defer s.Close()
	if got := mustList(t, s); len(got) != 3 || !equal(got[0], numbered(0)) {
		t.Errorf("version 2 file opened with %+v, want the 3 bindings", got)
	}
	if v := userVersion(t, path); v != 3 {
		t.Errorf("user_version after opening a version 2 file: %d, want 3", v)
	}
}

// TestSnapshotVersion1 reads a version 1 file without migrating it.
func TestSnapshotVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), location.FileName)
	runSQL(t, path, schemaV1)
	snap, err := location.Snapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := snap.List(context.Background(), time.Time{}.Add(-time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Contact != "sip:alice@192.0.2.1:5060" || got[1].Contact != "sip:alice@192.0.2.9" {
		t.Errorf("Snapshot of a version 1 file: %+v", got)
	}
	if v := userVersion(t, path); v != 1 {
		t.Errorf("user_version after Snapshot: %d, want 1 (untouched)", v)
	}
	if snap, err := location.Snapshot(filepath.Join(t.TempDir(), "missing.db")); err != nil || len(mustList(t, snap)) != 0 {
		t.Errorf("Snapshot of a missing file = %v; want no bindings and no error", err)
	}
}
