package location

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// journalOf returns a journal file holding records first … first+n-1,
// record i setting the bindings of AOR i%3 to encodeCases()[:i%4] (none
// when i%4 is 0).
func journalOf(first uint64, n int) ([]byte, []record) {
	data := []byte(journalMagic)
	var recs []record
	for i := range n {
		seq := first + uint64(i)
		aor := []string{"sip:a@example.com", "sip:b@example.com", "sip:c@example.com"}[seq%3]
		var rows []Binding
		for _, b := range encodeCases()[:seq%4] {
			b.AOR = aor
			rows = append(rows, b)
		}
		data = appendRecord(data, seq, aor, rows)
		recs = append(recs, record{seq: seq, aor: aor, rows: rows})
	}
	return data, recs
}

func TestParseJournal(t *testing.T) {
	whole, recs := journalOf(41, 8)
	got, err := parseJournal(whole)
	if err != nil || !reflect.DeepEqual(got, recs) {
		t.Fatalf("parseJournal of 8 records = %+v, %v\nwant %+v", got, err, recs)
	}
	// Every cut ends at the last whole record before it.
	ends := []int{len(journalMagic)}
	for i := range recs {
		d, _ := journalOf(41, i+1)
		ends = append(ends, len(d))
	}
	for cut := 0; cut < len(whole); cut++ {
		got, err := parseJournal(whole[:cut])
		want := 0
		for want < len(recs) && ends[want+1] <= cut {
			want++
		}
		if err != nil || len(got) != want || (want > 0 && !reflect.DeepEqual(got, recs[:want])) {
			t.Fatalf("cut at %d: %d records, %v; want the first %d", cut, len(got), err, want)
		}
	}
	// A flipped bit in a payload ends the file there.
	for _, i := range []int{3, 6} {
		bad := append([]byte(nil), whole...)
		bad[ends[i]+recordHeader+9] ^= 0x10
		if got, err := parseJournal(bad); err != nil || len(got) != i {
			t.Errorf("record %d damaged: %d records, %v; want %d", i, len(got), err, i)
		}
	}
	// Records left from before the file was emptied (lower numbers)
	// after the new ones are not read.
	stale, _ := journalOf(1, 8)
	mixed, _ := journalOf(100, 2)
	mixed = append(mixed, stale[len(mixed):]...)
	if got, err := parseJournal(mixed); err != nil || len(got) != 2 || got[1].seq != 101 {
		t.Errorf("new records over stale ones: %+v, %v; want records 100 and 101", got, err)
	}
	if _, err := parseJournal([]byte("SQLite format 3\x00")); err == nil {
		t.Error("a file that is not a journal parsed")
	}
}

func TestContiguousAfter(t *testing.T) {
	_, recs := journalOf(10, 6) // 10 … 15
	recs = append(recs[:3], recs[4:]...)
	for _, c := range []struct {
		after    uint64
		n        int
		missing  uint64
		firstSeq uint64
	}{
		{after: 9, n: 3, missing: 13, firstSeq: 10},
		{after: 11, n: 1, missing: 13, firstSeq: 12},
		{after: 13, n: 2, firstSeq: 14},
		{after: 15},
		{after: 3, missing: 4},
	} {
		got, missing := contiguousAfter(recs, c.after)
		if len(got) != c.n || missing != c.missing || (c.n > 0 && got[0].seq != c.firstSeq) {
			t.Errorf("after %d: %d records from %v, missing %d; want %d from %d, missing %d",
				c.after, len(got), got, missing, c.n, c.firstSeq, c.missing)
		}
	}
}

// TestJournalWriteFailure makes an append fail (the writer's file
// descriptor swapped for a read-only one to the same file): the Update
// fails and changes nothing, later Updates succeed, and neither a
// Snapshot nor a reopened store finds the failed one.
func TestJournalWriteFailure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set := func(aor, contact string) error {
		_, err := s.Update(ctx, aor, time.Unix(1e9, 0), func([]Binding) ([]Binding, error) {
			return []Binding{{Contact: contact, Expires: time.Unix(2e9, 0).UTC(), Transport: "UDP"}}, nil
		})
		return err
	}
	if err := set("sip:a@example.com", "sip:a@192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// The writer is idle: queueing the next Update orders this change
	// before its next append.
	jf := s.files[s.cur]
	ro, err := os.Open(jf.name)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	good := jf.io
	if jf.io, err = newRawFile(ro); err != nil {
		t.Fatal(err)
	}
	err = set("sip:b@example.com", "sip:b@192.0.2.2")
	if err == nil || !strings.HasPrefix(err.Error(), "location: writing ") {
		t.Fatalf("Update with the journal unwritable = %v, want a location: writing error", err)
	}
	jf.io = good
	if err := set("sip:c@example.com", "sip:c@192.0.2.3"); err != nil {
		t.Fatalf("Update after the failure: %v", err)
	}
	want := []string{"sip:a@192.0.2.1", "sip:c@192.0.2.3"}
	contacts := func(st Store) []string {
		t.Helper()
		bs, err := st.List(ctx, time.Unix(1e9, 0))
		if err != nil {
			t.Fatal(err)
		}
		var cs []string
		for _, b := range bs {
			cs = append(cs, b.Contact)
		}
		return cs
	}
	if got := contacts(s); !reflect.DeepEqual(got, want) {
		t.Errorf("store lists %v, want %v", got, want)
	}
	snap, err := Snapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := contacts(snap); !reflect.DeepEqual(got, want) {
		t.Errorf("Snapshot lists %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := contacts(s); !reflect.DeepEqual(got, want) {
		t.Errorf("reopened store lists %v, want %v", got, want)
	}
}
