package transaction

import (
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// State is a transaction state of RFC 3261 §17 and RFC 6026.
type State uint8

const (
	Calling State = iota + 1
	Trying
	Proceeding
	Accepted
	Completed
	Confirmed
	Terminated
)

func (s State) String() string {
	switch s {
	case Calling:
		return "Calling"
	case Trying:
		return "Trying"
	case Proceeding:
		return "Proceeding"
	case Accepted:
		return "Accepted"
	case Completed:
		return "Completed"
	case Confirmed:
		return "Confirmed"
	case Terminated:
		return "Terminated"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ServerTx is a server transaction (RFC 3261 §17.2): INVITE (Figure 7 with
// RFC 6026 Figure 5) or non-INVITE (Figure 8). The TU answers with Respond.
// For an INVITE answered 2xx the transaction also retransmits the 2xx until
// the ACK arrives, which RFC 3261 §13.3.1.4 leaves to the UAS core.
type ServerTx struct {
	// Source is the flow it arrived on, where responses go back.
	Source transport.Flow
	// Cancels is, for a CANCEL, the INVITE server transaction it matches
	// (§9.2), or nil.
	Cancels *ServerTx

	l      *Layer
	key    string
	invite bool
	cancel chan struct{} // INVITE only; closed by markCancelled

	mu    sync.Mutex
	done  chan struct{} // made by the first Done; guarded by mu
	req   *sip.Message  // guarded by mu; see Request
	state State         // guarded by mu
	// lastCode is the status of the last response handed to Respond, and
	// gen counts those responses; wire is the last one as it was sent, for
	// retransmissions, once the send of response gen has returned.
	lastCode  int            // guarded by mu
	gen       uint32         // guarded by mu
	wire      transport.Wire // guarded by mu
	err       error          // why it ended abnormally; guarded by mu
	interval  time.Duration
	timer     *time.Timer // retransmission: G, or the 2xx schedule; guarded by mu
	deadline  *time.Timer // H, I or L (J is the layer's queue); guarded by mu
	trying    *time.Timer // the 100 Trying delay; guarded by mu
	acked     bool        // the 2xx was acknowledged; guarded by mu
	gotCancel bool        // guarded by mu
	ackKey    string
}

func newServerTx(l *Layer, key string, req *sip.Message, src transport.Flow) *ServerTx {
	tx := &ServerTx{req: req, Source: src, l: l, key: key, invite: req.Method == "INVITE"}
	if tx.invite {
		tx.cancel = make(chan struct{})
		tx.state = Proceeding // §17.2.1
	} else {
		tx.state = Trying // §17.2.2
	}
	return tx
}

// start arms the 100 Trying timer of an INVITE transaction (§17.2.1).
func (tx *ServerTx) start() {
	if !tx.invite {
		return
	}
	tx.mu.Lock()
	tx.trying = time.AfterFunc(tx.l.timers.Trying, tx.sendTrying)
	tx.mu.Unlock()
}

func (tx *ServerTx) sendTrying() {
	tx.mu.Lock()
	if tx.lastCode != 0 || tx.state != Proceeding {
		tx.mu.Unlock()
		return
	}
	res := sip.NewResponse(tx.req, 100, "")
	tx.lastCode = 100
	tx.gen++
	gen := tx.gen
	tx.mu.Unlock()
	tx.send(res, gen)
}

// Request returns the request that created the transaction (read-only).
// A non-INVITE transaction lets go of it once its final response is sent:
// while it waits out Timer J to absorb retransmissions (§17.2.2), it keeps
// only the bytes of that response, and Request returns nil.
func (tx *ServerTx) Request() *sip.Message {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.req
}

// State returns the current state.
func (tx *ServerTx) State() State {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.state
}

// LastCode returns the status code of the last response handed to Respond
// (100 for an automatic 100 Trying), or 0 before any.
func (tx *ServerTx) LastCode() int {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.lastCode
}

// Done is closed when the transaction terminates.
func (tx *ServerTx) Done() <-chan struct{} {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	// Made on first use: most transactions end without anyone waiting.
	if tx.done == nil {
		tx.done = make(chan struct{})
		if tx.state == Terminated {
			close(tx.done)
		}
	}
	return tx.done
}

// Cancelled is closed when a CANCEL for this INVITE arrives (§9.2); the TU
// then answers the INVITE 487 if it has not sent a final response. It is
// nil, never ready, for other methods, which cannot be cancelled.
func (tx *ServerTx) Cancelled() <-chan struct{} { return tx.cancel }

// Err reports why the transaction ended abnormally: ErrTimeout when no ACK
// came for a final response (Timer H, or Timer L for a 2xx), or the
// transport error that ended it (§17.2.4). It is nil while the transaction
// runs and after a normal end.
func (tx *ServerTx) Err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.err
}

// Respond sends a response within the transaction and moves it along its
// state machine. It fails with ErrTerminated after the transaction ended, and
// when a final response was already sent (other than a further 2xx to an
// INVITE, which RFC 6026 §8.5 lets through for forking proxies). A transport
// error is returned and also ends the transaction (§17.2.4). The
// transaction does not keep res: it keeps the bytes the transport sent, so
// the caller may reuse res once Respond returns.
func (tx *ServerTx) Respond(res *sip.Message) error { return tx.respond(res, false) }

// Relay sends a response that a proxy forwards (RFC 3261 §16.7 step 8)
// as Respond does, except that a 2xx to an INVITE is not retransmitted by
// the transaction: the UAS retransmits it end to end and each copy is
// relayed again (§13.3.1.4 puts retransmission in the UAS core, which a
// proxy is not). The transaction still waits out Timer L in the Accepted
// state and lets further 2xx through (RFC 6026 §8.5).
func (tx *ServerTx) Relay(res *sip.Message) error { return tx.respond(res, true) }

func (tx *ServerTx) respond(res *sip.Message, relay bool) error {
	code := res.StatusCode
	tx.mu.Lock()
	switch {
	case tx.state == Terminated:
		tx.mu.Unlock()
		return ErrTerminated
	case tx.state == Completed || tx.state == Confirmed,
		tx.state == Accepted && code/100 != 2:
		tx.mu.Unlock()
		return fmt.Errorf("transaction: %d after a final response: %w", code, ErrTerminated)
	}
	stopTimer(tx.trying)
	tx.lastCode = code
	tx.gen++
	gen := tx.gen
	reliable := tx.Source.Reliable()
	t := tx.l.timers
	switch {
	case code < 200:
		if !tx.invite {
			tx.state = Proceeding
		}
	case tx.invite && code < 300:
		if tx.state != Accepted {
			// RFC 6026 §8.1: Accepted, Timer L; retransmit the 2xx until
			// the ACK (§13.3.1.4: T1 doubling up to T2, also on streams).
			tx.state = Accepted
			tx.deadline = time.AfterFunc(64*t.T1, tx.timerL)
			if !relay {
				tx.interval = t.T1
				tx.timer = time.AfterFunc(tx.interval, tx.retransmit2xx)
			}
			tx.ackKey = dialogKey(tx.req)
			tx.l.accepted[tx.l.shardOf(tx.ackKey)].putIfAbsent(tx.ackKey, tx)
		}
	case tx.invite:
		// §17.2.1: Completed; Timer G retransmits over UDP, Timer H
		// waits for the ACK.
		tx.state = Completed
		if !reliable {
			tx.interval = t.T1
			tx.timer = time.AfterFunc(tx.interval, tx.timerG)
		}
		tx.deadline = time.AfterFunc(64*t.T1, tx.timerH)
	default:
		// §17.2.2: Completed; Timer J (64*T1 over UDP, 0 over streams).
		tx.state = Completed
		if reliable {
			tx.mu.Unlock()
			err := tx.send(res, gen)
			tx.endIn(Completed) // Timer J = 0
			return err
		}
		tx.l.timerJ.add(tx) // 64*T1, one queue for all (expiryQueue)
	}
	tx.mu.Unlock()
	return tx.send(res, gen)
}

// send hands response number gen to the transport and keeps what was sent
// for retransmissions, unless a later response has been handed over
// meanwhile. An error ends the transaction.
func (tx *ServerTx) send(res *sip.Message, gen uint32) error {
	w, err := tx.l.Transport.SendResponseWire(res, tx.Source)
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err != nil {
		tx.terminateLocked(fmt.Errorf("transaction: sending %d: %w", res.StatusCode, err))
		return err
	}
	if gen == tx.gen {
		tx.wire = w
		if !tx.invite && tx.state == Completed {
			// §17.2.2: all Completed does is resend these bytes.
			tx.req = nil
		}
	}
	return nil
}

// resend sends the last response again; an error ends the transaction.
func (tx *ServerTx) resend(w transport.Wire) {
	if w.Bytes == nil {
		return
	}
	if err := tx.l.Transport.Resend(w); err != nil {
		tx.mu.Lock()
		tx.terminateLocked(fmt.Errorf("transaction: resending a response: %w", err))
		tx.mu.Unlock()
	}
}

// retransmission handles a retransmitted request: §17.2.1 and §17.2.2 send
// the last response again (a non-INVITE in Trying absorbs it).
func (tx *ServerTx) retransmission() {
	tx.mu.Lock()
	w := tx.wire
	switch tx.state {
	case Proceeding, Completed:
	default:
		w = transport.Wire{} // Trying, Accepted (RFC 6026 §8.2 absorbs), Confirmed, Terminated
	}
	tx.mu.Unlock()
	tx.resend(w)
}

// receiveAck handles an ACK whose key matches this transaction and reports
// whether it absorbed it (§17.2.1: Completed → Confirmed).
func (tx *ServerTx) receiveAck(ack *sip.Message) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.invite {
		return false
	}
	switch tx.state {
	case Completed:
		stopTimer(tx.timer)
		stopTimer(tx.deadline)
		tx.state = Confirmed
		if tx.Source.Reliable() {
			tx.terminateLocked(nil) // Timer I = 0
		} else {
			tx.deadline = time.AfterFunc(tx.l.timers.T4, tx.timerI)
		}
		return true
	case Confirmed:
		return true
	}
	return false
}

// ackFor2xx stops the 2xx retransmissions: the ACK arrived.
func (tx *ServerTx) ackFor2xx() {
	tx.mu.Lock()
	tx.acked = true
	stopTimer(tx.timer)
	tx.mu.Unlock()
}

// Acked reports whether the ACK for a 2xx sent by this INVITE transaction
// has arrived.
func (tx *ServerTx) Acked() bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.acked
}

func (tx *ServerTx) markCancelled() {
	tx.mu.Lock()
	already := tx.gotCancel
	tx.gotCancel = true
	tx.mu.Unlock()
	if !already {
		close(tx.cancel)
	}
}

func (tx *ServerTx) retransmit2xx() {
	tx.mu.Lock()
	if tx.state != Accepted || tx.acked {
		tx.mu.Unlock()
		return
	}
	tx.interval = min(2*tx.interval, tx.l.timers.T2)
	tx.timer = time.AfterFunc(tx.interval, tx.retransmit2xx)
	w := tx.wire
	tx.mu.Unlock()
	tx.resend(w)
}

// timerG retransmits the final response over UDP (§17.2.1).
func (tx *ServerTx) timerG() {
	tx.mu.Lock()
	if tx.state != Completed {
		tx.mu.Unlock()
		return
	}
	tx.interval = min(2*tx.interval, tx.l.timers.T2)
	tx.timer = time.AfterFunc(tx.interval, tx.timerG)
	w := tx.wire
	tx.mu.Unlock()
	tx.resend(w)
}

// timerH: no ACK for a 3xx-6xx (§17.2.1).
func (tx *ServerTx) timerH() {
	tx.mu.Lock()
	if tx.state == Completed {
		tx.terminateLocked(fmt.Errorf("transaction: no ACK for %d (Timer H): %w", tx.lastCode, ErrTimeout))
	}
	tx.mu.Unlock()
}

// timerI ends the Confirmed state (§17.2.1).
func (tx *ServerTx) timerI() { tx.endIn(Confirmed) }

// timerJ ends the Completed state of a non-INVITE transaction (§17.2.2).
func (tx *ServerTx) timerJ() { tx.endIn(Completed) }

// timerL ends the Accepted state (RFC 6026 §8.7); without an ACK for the
// 2xx it reports ErrTimeout.
func (tx *ServerTx) timerL() {
	tx.mu.Lock()
	if tx.state == Accepted {
		var err error
		if !tx.acked {
			err = fmt.Errorf("transaction: no ACK for %d (Timer L): %w", tx.lastCode, ErrTimeout)
		}
		tx.terminateLocked(err)
	}
	tx.mu.Unlock()
}

func (tx *ServerTx) endIn(s State) {
	tx.mu.Lock()
	if tx.state == s {
		tx.terminateLocked(nil)
	}
	tx.mu.Unlock()
}

// terminateLocked ends the transaction: timers stop, it leaves the tables,
// and Done closes.
func (tx *ServerTx) terminateLocked(err error) {
	if tx.state == Terminated {
		return
	}
	tx.state = Terminated
	tx.err = err
	stopTimer(tx.timer)
	stopTimer(tx.deadline)
	stopTimer(tx.trying)
	tx.l.servers[tx.l.shardOf(tx.key)].del(tx.key)
	if tx.ackKey != "" {
		tx.l.accepted[tx.l.shardOf(tx.ackKey)].del(tx.ackKey)
	}
	if tx.done != nil {
		close(tx.done)
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
