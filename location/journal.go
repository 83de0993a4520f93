package location

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// The SQLite store makes an update durable by appending it to a journal,
// not by committing it to the database: one write and one fdatasync per
// group of updates, done with system calls the Go runtime does not track
// (journal_linux.go). Committing to SQLite on every group cost a third of
// the registrar's CPU under load, much of it not in SQLite itself but in
// the runtime's scheduler monitor, which every system call SQLite makes
// wakes from its sleep when the process was idle (docs/PERFORMANCE.md).
// A checkpoint later copies the latest bindings of every AOR the journal
// changed into the database in one transaction, off the path of any
// update, and then empties the journal.
//
// There are two journal files, PATH.journal.0 and PATH.journal.1. The
// writer appends to one until it holds JournalSize bytes, hands the
// AORs it changed to the checkpoint, and goes on in the other, which the
// previous checkpoint emptied; once the checkpoint commits, the first file
// is emptied in turn.
//
// A journal file is journalMagic followed by records. A record is its
// payload's length (uint32, little-endian), the CRC-32C of the payload
// (uint32, little-endian) and the payload: a sequence number (uint64,
// little-endian), the AOR (a uvarint length and the bytes) and the AOR's
// bindings after the update in the row encoding (encode.go); no bindings
// means the AOR has none left. Sequence numbers grow by one per record
// over the life of the database, across files and checkpoints; the
// database keeps the number of the last record a checkpoint covered
// (table journal). Opening the store replays the records above it, in
// order, as far as they run on without a gap: a record cut short or
// damaged by a crash, which was never acknowledged, ends a file, and so
// do records an emptied file still held from before it was emptied
// (their numbers are lower).

// journalMagic begins every journal file.
const journalMagic = "SBLOCJ1\n"

// recordHeader is the length and CRC that precede a record's payload.
const recordHeader = 8

// maxRecord bounds a payload read back: a length above it is damage.
const maxRecord = 64 << 20

// DefaultJournalSize is Options.JournalSize's default.
const DefaultJournalSize = 4 << 20

// castagnoli is the CRC-32C table; never written after initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journalPath returns the name of journal file i of the database at path.
func journalPath(path string, i int) string {
	return fmt.Sprintf("%s.journal.%d", path, i)
}

// appendRecord appends the record of seq: aor's bindings become rows.
func appendRecord(dst []byte, seq uint64, aor string, rows []Binding) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeader)...)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = appendString(dst, aor)
	dst = appendBindings(dst, rows)
	payload := dst[start+recordHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// A record is one replayed journal record.
type record struct {
	seq  uint64
	aor  string
	rows []Binding // nil: the AOR has no bindings left
}

// parseJournal reads the records of a journal file's content data, in
// order, as far as they are whole, undamaged and numbered one after the
// other. An empty file, or one cut short in its magic (a crash while it
// was created), has none; a file that does not begin with journalMagic
// is an error. A record whose checksum holds but whose payload does not
// decode is an error too: it was written so, by a format this version
// does not know.
func parseJournal(data []byte) ([]record, error) {
	if len(data) < len(journalMagic) {
		if !bytes.HasPrefix([]byte(journalMagic), data) {
			return nil, errors.New("not a switchboard location journal")
		}
		return nil, nil
	}
	if string(data[:len(journalMagic)]) != journalMagic {
		return nil, errors.New("not a switchboard location journal")
	}
	var recs []record
	for off := len(journalMagic); len(data)-off >= recordHeader; {
		n := binary.LittleEndian.Uint32(data[off:])
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n > maxRecord || uint64(len(data)-off-recordHeader) < uint64(n) {
			break
		}
		payload := data[off+recordHeader : off+recordHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != sum {
			break
		}
		if len(payload) < 8 {
			return nil, fmt.Errorf("record at offset %d: %w: %d bytes", off, errCorrupt, len(payload))
		}
		seq := binary.LittleEndian.Uint64(payload)
		if len(recs) > 0 && seq != recs[len(recs)-1].seq+1 {
			break // left from before the file was emptied
		}
		d := decoder{b: payload[8:]}
		aor := d.string("AOR")
		if d.err != nil {
			return nil, fmt.Errorf("record %d: %w", seq, d.err)
		}
		rows, err := decodeBindings(aor, d.b)
		if err != nil {
			return nil, fmt.Errorf("record %d (%s): %w", seq, aor, err)
		}
		if len(rows) == 0 {
			rows = nil
		}
		recs = append(recs, record{seq: seq, aor: aor, rows: rows})
		off += recordHeader + int(n)
	}
	return recs, nil
}

// readJournals reads both journal files of the database at path (a
// missing file has no records) and returns their records in order.
func readJournals(path string) ([]record, error) {
	var all []record
	for i := range 2 {
		name := journalPath(path, i)
		data, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("location: reading %s: %w", name, err)
		}
		recs, err := parseJournal(data)
		if err != nil {
			return nil, fmt.Errorf("location: %s: %w", name, err)
		}
		all = append(all, recs...)
	}
	slices.SortFunc(all, func(a, b record) int { return cmp.Compare(a.seq, b.seq) })
	return all, nil
}

// contiguousAfter returns the records of recs (in order) numbered above
// after, as far as their numbers run on without a gap, and the number
// missing where they stop (0 when none is).
func contiguousAfter(recs []record, after uint64) ([]record, uint64) {
	i, _ := slices.BinarySearchFunc(recs, after+1, func(r record, seq uint64) int { return cmp.Compare(r.seq, seq) })
	recs = recs[i:]
	for j := range recs {
		if recs[j].seq != after+1+uint64(j) {
			return recs[:j], after + 1 + uint64(j)
		}
	}
	return recs, 0
}

// latest returns the bindings each AOR of recs (in order) has after the
// last of them.
func latest(recs []record) map[string][]Binding {
	m := make(map[string][]Binding, len(recs))
	for _, r := range recs {
		m[r.aor] = r.rows
	}
	return m
}

// recordsAfter is contiguousAfter for a store that opens the journals
// of the database at path, which nothing writes meanwhile: a gap, which
// only damage to a file can make, is an error that says what to do.
func recordsAfter(path string, recs []record, after uint64) ([]record, error) {
	recs, missing := contiguousAfter(recs, after)
	if missing != 0 {
		return nil, fmt.Errorf("location: the journals of %s lack record %d: a journal file is damaged; "+
			"moving %s and %s away loses the registrations they hold (phones make them again when they refresh)",
			path, missing, journalPath(path, 0), journalPath(path, 1))
	}
	return recs, nil
}

// A journalFile is one of the two files the writer appends to.
type journalFile struct {
	f    *os.File
	name string
	io   rawFile // the system calls for the writer's appends
	size int64   // journalMagic and the records appended since it was last emptied
	// created: the file had no magic when opened; empty writes it.
	created bool
}

// openJournalFile opens journal file name for writing, creating it when
// missing. Its content is for readJournals; the writer starts it empty.
func openJournalFile(name string) (*journalFile, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("location: opening %s: %w", name, err)
	}
	jf := &journalFile{f: f, name: name}
	fi, err := f.Stat()
	if err == nil {
		jf.io, err = newRawFile(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("location: opening %s: %w", name, err)
	}
	jf.created = fi.Size() < int64(len(journalMagic))
	return jf, nil
}

// holdsRecords reports whether the writer has appended to the file since
// it was last emptied.
func (jf *journalFile) holdsRecords() bool {
	return jf.size > int64(len(journalMagic))
}

// empty truncates the file to its magic and syncs it: the records it held
// are in the database. The first time, on a file this open created (or
// one whose creation a crash cut short), it writes the magic and syncs the
// directory as well, so that the file survives a crash.
func (jf *journalFile) empty() error {
	fail := func(err error) error { return fmt.Errorf("location: emptying %s: %w", jf.name, err) }
	if err := jf.f.Truncate(int64(len(journalMagic))); err != nil {
		return fail(err)
	}
	if jf.created {
		if _, err := jf.f.WriteAt([]byte(journalMagic), 0); err != nil {
			return fail(err)
		}
	}
	if err := jf.f.Sync(); err != nil {
		return fail(err)
	}
	if jf.created {
		if err := syncDir(filepath.Dir(jf.name)); err != nil {
			return fmt.Errorf("location: creating %s: %w", jf.name, err)
		}
		jf.created = false
	}
	jf.size = int64(len(journalMagic))
	return nil
}

// syncDir makes the entries of directory dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
