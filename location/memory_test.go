package location_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/location"
	"github.com/switchboard-sip/switchboard/location/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, storetest.Config{
		Open: func(*testing.T, string) location.Store { return location.NewMemory() },
	})
}

// TestMemoryZeroValue checks the documented zero value.
func TestMemoryZeroValue(t *testing.T) {
	var m location.Memory
	now := time.Unix(1e9, 0)
	b := location.Binding{Contact: "sip:a@192.0.2.1", Expires: now.Add(time.Minute)}
	if _, err := m.Update(context.Background(), "sip:a@example.com", now, func([]location.Binding) ([]location.Binding, error) {
		return []location.Binding{b}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Lookup(context.Background(), "sip:a@example.com", now); err != nil || len(got) != 1 {
		t.Fatalf("Lookup = %v, %v; want one binding", got, err)
	}
}

// benchUpdate runs Update from 64×GOMAXPROCS goroutines, each refreshing
// AORs of its own (one binding each), as a registrar under load does.
func benchUpdate(b *testing.B, st location.Store) {
	var ids atomic.Int64
	now := time.Unix(1.7e9, 0)
	b.ReportAllocs()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := ids.Add(1)
		var aors [8]string
		for i := range aors {
			aors[i] = fmt.Sprintf("sip:user%d-%d@example.com", id, i)
		}
		bind := location.Binding{
			Contact: "sip:u@192.0.2.1:5060", Q: -1, Expires: now.Add(time.Hour), CallID: "c@h",
			CSeq: 1, Transport: "UDP", UserAgent: "bench/1", Updated: now,
		}
		fn := func([]location.Binding) ([]location.Binding, error) {
			return []location.Binding{bind}, nil
		}
		for i := 0; pb.Next(); i++ {
			if _, err := st.Update(context.Background(), aors[i%len(aors)], now, fn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMemoryUpdate(b *testing.B) {
	benchUpdate(b, location.NewMemory())
}

// syncOnly hides the AsyncStore methods of a store.
type syncOnly struct{ location.Store }

// TestUpdateAsyncHelper: location.UpdateAsync works on a store that is not
// an AsyncStore (through Update on a goroutine) as on one that is.
func TestUpdateAsyncHelper(t *testing.T) {
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	for name, st := range map[string]location.Store{"async": location.NewMemory(), "sync": syncOnly{location.NewMemory()}} {
		t.Run(name, func(t *testing.T) {
			b := location.Binding{Contact: "sip:alice@192.0.2.1", Q: -1, Expires: now.Add(time.Hour)}
			type outcome struct {
				bs  []location.Binding
				err error
			}
			ch := make(chan outcome, 1)
			location.UpdateAsync(st, "sip:alice@example.com", now, func(cur []location.Binding) ([]location.Binding, error) {
				return append(cur, b), nil
			}, func(bs []location.Binding, err error) { ch <- outcome{bs, err} })
			o := <-ch
			if o.err != nil || len(o.bs) != 1 || o.bs[0].AOR != "sip:alice@example.com" {
				t.Fatalf("done got %+v, %v; want the binding with its AOR", o.bs, o.err)
			}
			got, err := st.Lookup(context.Background(), "sip:alice@example.com", now)
			if err != nil || len(got) != 1 || got[0].Contact != b.Contact {
				t.Errorf("Lookup after done: %+v, %v", got, err)
			}
		})
	}
}
