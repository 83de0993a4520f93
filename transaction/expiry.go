package transaction

import (
	"sync"
	"time"
)

// expiryBatch is how late an expiry queue may end a transaction so that
// those due within this interval of each other end in one timer callback.
// Ending a transaction 100 ms after its 32 s Timer J changes nothing on
// the wire (it only absorbs retransmissions a little longer), and at a few
// thousand registrations a second it means ten timer wake-ups a second
// instead of a hundred, each waking a thread and the runtime's monitor.
const expiryBatch = 100 * time.Millisecond

// expiryQueue ends transactions a fixed time after they were queued, such as
// non-INVITE server transactions waiting out Timer J (§17.2.2). Because the
// wait is the same for all, they come due in the order they were queued, so
// one runtime timer armed for the oldest entry serves the whole queue: a
// busy server does not start a timer, and a goroutine to run it, for each
// transaction. Entries are never late by more than expiryBatch and never
// early. A transaction that ends otherwise stays queued until its time
// comes; timerJ then finds it terminated and does nothing.
type expiryQueue struct {
	wait time.Duration

	mu    sync.Mutex
	q     []expiry    // due times ascending; guarded by mu
	head  int         // q[head:] is pending; guarded by mu
	timer *time.Timer // guarded by mu
	armed bool        // timer is set to fire; guarded by mu
}

type expiry struct {
	at time.Time
	tx *ServerTx
}

// add queues tx to have its end function (timerJ) called wait from now.
func (e *expiryQueue) add(tx *ServerTx) {
	at := time.Now().Add(e.wait)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.head > 0 && e.head >= len(e.q)/2 {
		// Reclaim the room of entries already run.
		n := copy(e.q, e.q[e.head:])
		clear(e.q[n:])
		e.q, e.head = e.q[:n], 0
	}
	e.q = append(e.q, expiry{at: at, tx: tx})
	if !e.armed {
		e.armLocked(e.wait)
	}
}

func (e *expiryQueue) armLocked(d time.Duration) {
	e.armed = true
	if e.timer == nil {
		e.timer = time.AfterFunc(d, e.fire)
	} else {
		e.timer.Reset(d)
	}
}

// fire runs every entry that is due and re-arms the timer for the next one,
// no sooner than expiryBatch from now.
func (e *expiryQueue) fire() {
	now := time.Now()
	e.mu.Lock()
	i := e.head
	for i < len(e.q) && !e.q[i].at.After(now) {
		i++
	}
	due := make([]*ServerTx, 0, i-e.head)
	for j := e.head; j < i; j++ {
		due = append(due, e.q[j].tx)
		e.q[j] = expiry{}
	}
	e.head = i
	e.armed = false
	if e.head < len(e.q) {
		e.armLocked(max(e.q[e.head].at.Sub(now), expiryBatch))
	} else {
		e.q, e.head = e.q[:0], 0
	}
	e.mu.Unlock()
	for _, tx := range due {
		tx.timerJ()
	}
}

// len returns the number of queued entries.
func (e *expiryQueue) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.q) - e.head
}
