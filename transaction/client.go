package transaction

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// ClientTx is a client transaction (RFC 3261 §17.1): INVITE (Figure 5 with
// RFC 6026 Figure 4) or non-INVITE (Figure 6). Responses reach the TU through
// the callback given to Request; Done and Err tell how it ended.
type ClientTx struct {
	// Request is the request as sent, its top Via carrying the branch.
	Request *sip.Message

	l          *Layer
	key        string
	invite     bool
	onResponse func(*sip.Message)
	done       chan struct{}

	mu       sync.Mutex
	state    State          // guarded by mu
	flow     transport.Flow // where the request went; guarded by mu
	err      error          // guarded by mu
	interval time.Duration  // guarded by mu
	timer    *time.Timer    // A or E; guarded by mu
	deadline *time.Timer    // B, D, F, K or M; guarded by mu
	ack      *sip.Message   // the ACK for a 3xx-6xx; guarded by mu
}

// Request starts a client transaction for req toward dst. If req's top Via
// has no RFC 3261 branch, one is added (a Via is inserted when there is
// none); the transport completes sent-by. onResponse is called, never under
// a lock and in the transport's goroutine, for every response the TU must
// see: provisional ones, the final one, and for an INVITE every 2xx
// (retransmissions and forks included, RFC 6026 §7.1). ACK is not a
// transaction (§17.1): send it with the transport directly.
func (l *Layer) Request(req *sip.Message, dst transport.Flow, onResponse func(*sip.Message)) (*ClientTx, error) {
	l.init()
	if req.Method == "ACK" {
		return nil, errors.New("transaction: ACK is sent without a transaction")
	}
	branch, err := ensureBranch(req, dst.Proto)
	if err != nil {
		return nil, err
	}
	method := req.Method
	tx := &ClientTx{Request: req, l: l, key: branch + "|" + method, invite: method == "INVITE",
		onResponse: onResponse, done: make(chan struct{})}
	if tx.invite {
		tx.state = Calling
	} else {
		tx.state = Trying
	}
	if _, added := l.clients[l.shardOf(tx.key)].putIfAbsent(tx.key, tx); !added {
		return nil, fmt.Errorf("transaction: branch %s is already in use", branch)
	}
	tx.flow = dst
	// Sent without the lock: a response may come back before the timers
	// are armed, and then they are not needed.
	flow, err := l.Transport.SendRequest(req, dst)
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err != nil {
		tx.terminateLocked(fmt.Errorf("transaction: sending %s: %w", method, err))
		return nil, tx.err
	}
	tx.flow = flow
	if tx.state != Calling && tx.state != Trying {
		return tx, nil
	}
	t := l.timers
	if !flow.Reliable() {
		tx.interval = t.T1 // Timer A or E
		if tx.invite {
			tx.timer = time.AfterFunc(tx.interval, tx.timerA)
		} else {
			tx.timer = time.AfterFunc(tx.interval, tx.timerE)
		}
	}
	if tx.invite {
		tx.deadline = time.AfterFunc(64*t.T1, tx.timerB)
	} else {
		tx.deadline = time.AfterFunc(64*t.T1, tx.timerF)
	}
	return tx, nil
}

// ensureBranch makes sure the top Via carries an RFC 3261 branch.
func ensureBranch(req *sip.Message, proto string) (string, error) {
	v, err := req.Via()
	if errors.Is(err, sip.ErrNoHeader) {
		if proto == "" {
			proto = transport.UDP
		}
		b := sip.NewBranch()
		// sent-by is a placeholder the transport replaces.
		req.Prepend("Via", "SIP/2.0/"+proto+" invalid;branch="+b+";rport")
		return b, nil
	}
	if err != nil {
		return "", fmt.Errorf("transaction: %w", err)
	}
	b := v.Branch()
	if !strings.HasPrefix(b, sip.BranchMagic) || len(b) == len(sip.BranchMagic) {
		return "", fmt.Errorf("transaction: top Via has no RFC 3261 branch (%q)", b)
	}
	return b, nil
}

// State returns the current state.
func (tx *ClientTx) State() State {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.state
}

// Flow returns the flow the request was sent on.
func (tx *ClientTx) Flow() transport.Flow {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.flow
}

// Done is closed when the transaction terminates.
func (tx *ClientTx) Done() <-chan struct{} { return tx.done }

// Err reports why the transaction ended without a final response:
// ErrTimeout (Timer B or F, §17.1.1.2, §17.1.2.2) or a transport error
// (§17.1.4), which the TU treats as a 408 or 503 (§8.1.3.1). It is nil while
// the transaction runs and after a final response.
func (tx *ClientTx) Err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.err
}

// receive runs a response through the state machine and tells the TU.
func (tx *ClientTx) receive(res *sip.Message) {
	code := res.StatusCode
	tx.mu.Lock()
	pass, endNow := false, false
	var resend *sip.Message
	t := tx.l.timers
	reliable := tx.flow.Reliable()
	switch tx.state {
	case Calling, Trying, Proceeding:
		pass = true
		switch {
		case code < 200:
			if tx.state != Proceeding {
				tx.state = Proceeding
				if tx.invite {
					stopTimer(tx.timer) // Timer A stops; B no longer applies
					stopTimer(tx.deadline)
				} else if tx.timer != nil {
					// §17.1.2.2: in Proceeding Timer E fires every T2.
					tx.interval = t.T2
				}
			}
		case tx.invite && code < 300:
			// RFC 6026 §7.2: Accepted, Timer M.
			stopTimer(tx.timer)
			stopTimer(tx.deadline)
			tx.state = Accepted
			tx.deadline = time.AfterFunc(64*t.T1, tx.timerM)
		case tx.invite:
			// §17.1.1.3: Completed, ACK, Timer D (32 s over UDP).
			stopTimer(tx.timer)
			stopTimer(tx.deadline)
			tx.state = Completed
			tx.ack = tx.makeAck(res)
			resend = tx.ack
			if reliable {
				endNow = true // Timer D = 0, once the TU has the response
			} else {
				tx.deadline = time.AfterFunc(max(32*time.Second, 64*t.T1), tx.timerD)
			}
		default:
			// §17.1.2.2: Completed, Timer K (T4 over UDP).
			stopTimer(tx.timer)
			stopTimer(tx.deadline)
			tx.state = Completed
			if reliable {
				endNow = true // Timer K = 0, once the TU has the response
			} else {
				tx.deadline = time.AfterFunc(t.T4, tx.timerK)
			}
		}
	case Accepted:
		pass = code/100 == 2 // retransmitted or forked 2xx go to the TU
	case Completed:
		if tx.invite && code >= 300 {
			resend = tx.ack // §17.1.1.2: answer a retransmitted final
		}
	}
	flow := tx.flow
	tx.mu.Unlock()
	if resend != nil {
		tx.l.Transport.SendRequest(resend, flow)
	}
	if pass && tx.onResponse != nil {
		tx.onResponse(res)
	}
	if endNow {
		// Done closes only after the TU has seen the final response.
		tx.endIn(Completed)
	}
}

// makeAck builds the ACK for a 3xx-6xx (§17.1.1.3): Request-URI, Call-ID,
// From, CSeq number, the top Via and Route of the request, To of the
// response.
func (tx *ClientTx) makeAck(res *sip.Message) *sip.Message {
	req := tx.Request
	ack := &sip.Message{Method: "ACK", RequestURI: req.RequestURI, Version: "SIP/2.0"}
	viaDone := false
	for _, h := range req.Headers {
		switch {
		case h.Is("Via"):
			if viaDone {
				continue
			}
			viaDone = true
			v, _ := req.Via()
			ack.Headers = append(ack.Headers, sip.NewHeader("Via", v.String()))
		case h.Is("From"), h.Is("Call-ID"), h.Is("Route"), h.Is("Max-Forwards"):
			ack.Headers = append(ack.Headers, h)
		case h.Is("To"):
			ack.Headers = append(ack.Headers, sip.NewHeader("To", res.Get("To")))
		case h.Is("CSeq"):
			c, _ := req.CSeq()
			c.Method = "ACK"
			ack.Headers = append(ack.Headers, sip.NewHeader("CSeq", c.String()))
		}
	}
	return ack
}

func (tx *ClientTx) timerA() { tx.retransmit(Calling, tx.timerA, false) }
func (tx *ClientTx) timerE() { tx.retransmit(Trying, tx.timerE, true) }

// retransmit resends the request (Timer A doubles without bound, §17.1.1.2;
// Timer E doubles up to T2 and keeps firing in Proceeding, §17.1.2.2).
func (tx *ClientTx) retransmit(from State, again func(), capped bool) {
	tx.mu.Lock()
	if tx.state != from && !(capped && tx.state == Proceeding) {
		tx.mu.Unlock()
		return
	}
	tx.interval *= 2
	if capped {
		tx.interval = min(tx.interval, tx.l.timers.T2)
	}
	tx.timer = time.AfterFunc(tx.interval, again)
	flow := tx.flow
	tx.mu.Unlock()
	if _, err := tx.l.Transport.SendRequest(tx.Request, flow); err != nil {
		tx.mu.Lock()
		tx.terminateLocked(fmt.Errorf("transaction: retransmitting %s: %w", tx.Request.Method, err))
		tx.mu.Unlock()
	}
}

func (tx *ClientTx) timerB() { tx.timeout(Calling, "B") }
func (tx *ClientTx) timerF() { tx.timeout(0, "F") }

// timeout ends the transaction without a final response. state 0 means
// Trying or Proceeding (Timer F).
func (tx *ClientTx) timeout(in State, name string) {
	tx.mu.Lock()
	if tx.state == in || (in == 0 && (tx.state == Trying || tx.state == Proceeding)) {
		tx.terminateLocked(fmt.Errorf("transaction: no final response to %s (Timer %s): %w", tx.Request.Method, name, ErrTimeout))
	}
	tx.mu.Unlock()
}

// Abandon ends the transaction without a final response, with Err
// reporting ErrTimeout: a proxy gives up on an INVITE branch that neither
// answered its CANCEL nor ended after Timer C (RFC 3261 §16.8), which no
// timer of §17.1.1 would otherwise end in the Proceeding state. It does
// nothing once a final response has arrived or the transaction has ended.
func (tx *ClientTx) Abandon() {
	tx.mu.Lock()
	if tx.state == Calling || tx.state == Trying || tx.state == Proceeding {
		tx.terminateLocked(fmt.Errorf("transaction: %s abandoned without a final response: %w", tx.Request.Method, ErrTimeout))
	}
	tx.mu.Unlock()
}

func (tx *ClientTx) timerD() { tx.endIn(Completed) }
func (tx *ClientTx) timerK() { tx.endIn(Completed) }
func (tx *ClientTx) timerM() { tx.endIn(Accepted) }

func (tx *ClientTx) endIn(s State) {
	tx.mu.Lock()
	if tx.state == s {
		tx.terminateLocked(nil)
	}
	tx.mu.Unlock()
}

func (tx *ClientTx) terminateLocked(err error) {
	if tx.state == Terminated {
		return
	}
	tx.state = Terminated
	tx.err = err
	stopTimer(tx.timer)
	stopTimer(tx.deadline)
	tx.l.clients[tx.l.shardOf(tx.key)].del(tx.key)
	close(tx.done)
}
