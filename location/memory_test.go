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
