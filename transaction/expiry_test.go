package transaction

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestTimerJQueue: non-INVITE server transactions share one Timer J queue.
// Each ends 64*T1 after its final response, never sooner and at most
// expiryBatch later; one that comes due alone ends on time exactly, and
// the queue empties.
func TestTimerJQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		l, txs, _ := serverLayer(f)
		// Final responses at 0, 3 ms (due 3 ms after the first: run in the
		// same batch, up to 10 ms later) and 500 ms (alone).
		offsets := []time.Duration{0, 3 * time.Millisecond, 500 * time.Millisecond}
		start := time.Now()
		ended := make([]time.Duration, len(offsets))
		for i, off := range offsets {
			time.Sleep(off - time.Since(start))
			req := request("OPTIONS", "z9hG4bKj"+string(rune('a'+i)))
			l.Receive(req, udpFlow)
			tx := (*txs)[i]
			if err := tx.Respond(sip.NewResponse(req, 200, "")); err != nil {
				t.Fatal(err)
			}
			done := tx.Done()
			go func() {
				<-done
				ended[i] = time.Since(start)
			}()
		}
		if n := l.timerJ.len(); n != 3 {
			t.Fatalf("%d transactions queued for Timer J, want 3", n)
		}
		time.Sleep(40 * time.Second)
		synctest.Wait()
		j := 64 * 500 * time.Millisecond
		for i, off := range offsets {
			due := off + j
			if ended[i] < due || ended[i] > due+expiryBatch {
				t.Errorf("transaction %d ended at %v; due at %v, at most %v late", i, ended[i], due, expiryBatch)
			}
		}
		if ended[0] != j || ended[2] != offsets[2]+j {
			t.Errorf("ended at %v and %v; want exactly %v and %v", ended[0], ended[2], j, offsets[2]+j)
		}
		if n, _ := l.Len(); n != 0 || l.timerJ.len() != 0 {
			t.Errorf("after Timer J: %d server transactions, %d queued", n, l.timerJ.len())
		}
	})
}
