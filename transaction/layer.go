// Package transaction implements the SIP transaction layer: the four state
// machines of RFC 3261 §17 with the changes of RFC 6026 (the Accepted state,
// Timers L and M), request and response matching (§17.1.3, §17.2.3, with the
// RFC 2543 fallback), and the timers A to M.
//
// A Layer sits between the transport and a transaction user (TU). The
// transport hands it every message it receives (Receive); the Layer absorbs
// retransmissions, hands new requests to the TU as server transactions, and
// routes responses to the client transaction that sent the request. Timers
// run on time.AfterFunc, so no goroutine is held for a transaction's life;
// tests drive them with testing/synctest. Each transaction has one lock, and
// TU callbacks are never called while it is held.
package transaction

import (
	"errors"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

var (
	// ErrTimeout reports a transaction that ended because a timer expired:
	// no final response (Timer B, F), or no ACK for a final response
	// (Timer H; Timer L for a 2xx).
	ErrTimeout = errors.New("transaction: timed out")
	// ErrTerminated reports a use of a transaction that has ended.
	ErrTerminated = errors.New("transaction: terminated")
)

// Transport is what the transaction layer needs from the transport layer.
type Transport interface {
	// SendRequest sends req toward dst and returns the flow it used
	// (which may differ from dst, e.g. TCP instead of a too small UDP
	// path, §18.1.1). It completes the top Via's sent-protocol and
	// sent-by; the branch is the transaction's.
	SendRequest(req *sip.Message, dst transport.Flow) (transport.Flow, error)
	// SendResponseWire sends res back toward the source of its request,
	// by the rules of RFC 3261 §18.2.2, and returns what it sent.
	SendResponseWire(res *sip.Message, src transport.Flow) (transport.Wire, error)
	// Resend sends a response again as SendResponseWire sent it
	// (retransmissions).
	Resend(w transport.Wire) error
}

// Timers are the RFC 3261 timer bases. Zero fields take the RFC defaults of
// §17.1.1.1: T1 500 ms, T2 4 s, T4 5 s. Trying is how long an INVITE server
// transaction waits for the TU before sending 100 Trying itself (§17.2.1):
// 200 ms by default.
type Timers struct {
	T1, T2, T4 time.Duration
	Trying     time.Duration
}

func (t Timers) withDefaults() Timers {
	if t.T1 <= 0 {
		t.T1 = 500 * time.Millisecond
	}
	if t.T2 <= 0 {
		t.T2 = 4 * time.Second
	}
	if t.T4 <= 0 {
		t.T4 = 5 * time.Second
	}
	if t.Trying <= 0 {
		t.Trying = 200 * time.Millisecond
	}
	return t
}

// Layer is the transaction layer. Set its fields before the first call to
// Receive or Request; they must not change afterwards.
type Layer struct {
	Transport Transport
	Timers    Timers
	// OnRequest is called, in the receiving goroutine, for each new
	// request (never for a retransmission) with the server transaction
	// created for it. ACK never gets a transaction: see OnAck. The TU
	// answers through tx.Respond, from any goroutine.
	OnRequest func(tx *ServerTx)
	// OnAck is called for every ACK that is not absorbed by an INVITE
	// server transaction in the Completed state: the ACK for a 2xx
	// (§13.3.1.4, RFC 6026 §8.2), or a stray one for a proxy to forward.
	OnAck func(ack *sip.Message, src transport.Flow)
	// OnStrayResponse is called for a response that matches no client
	// transaction (a proxy forwards it statelessly, §16.7; RFC 6026 §8.4).
	OnStrayResponse func(res *sip.Message, src transport.Flow)
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger

	once    sync.Once
	timers  Timers
	seed    maphash.Seed
	servers [shards]shard[*ServerTx]
	clients [shards]shard[*ClientTx]
	// accepted maps the dialog identity of a 2xx sent by an INVITE server
	// transaction to it, so that the ACK, which has a branch of its own,
	// stops the 2xx retransmissions (RFC 6026 §8.1).
	accepted [shards]shard[*ServerTx]
	// timerJ ends non-INVITE server transactions in Completed over UDP.
	timerJ expiryQueue
}

const shards = 32

// shard is one lock-protected part of a transaction table.
type shard[T any] struct {
	mu sync.Mutex
	m  map[string]T // guarded by mu
}

func (s *shard[T]) get(k string) (T, bool) {
	s.mu.Lock()
	v, ok := s.m[k]
	s.mu.Unlock()
	return v, ok
}

// putIfAbsent stores v under k unless a value is there, which it returns.
func (s *shard[T]) putIfAbsent(k string, v T) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		return old, false
	}
	if s.m == nil {
		s.m = make(map[string]T)
	}
	s.m[k] = v
	return v, true
}

func (s *shard[T]) del(k string) {
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

func (s *shard[T]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (l *Layer) init() {
	l.once.Do(func() {
		l.timers = l.Timers.withDefaults()
		l.timerJ.wait = 64 * l.timers.T1 // §17.2.2
		l.seed = maphash.MakeSeed()
	})
}

func (l *Layer) shardOf(k string) int { return int(maphash.String(l.seed, k) % shards) }

// Len returns the number of live server and client transactions.
func (l *Layer) Len() (servers, clients int) {
	for i := range l.servers {
		servers += l.servers[i].len()
		clients += l.clients[i].len()
	}
	return servers, clients
}

func (l *Layer) debug(msg string, args ...any) {
	if l.Logger != nil {
		l.Logger.Debug(msg, args...)
	}
}

// Receive takes a message from the transport. The message must have passed
// sip.Policy.Check (the transport layer or stack does that). Requests go to
// their server transaction or start one; responses go to their client
// transaction.
func (l *Layer) Receive(m *sip.Message, src transport.Flow) {
	l.init()
	if m.IsRequest() {
		l.receiveRequest(m, src)
	} else {
		l.receiveResponse(m, src)
	}
}

func (l *Layer) receiveRequest(req *sip.Message, src transport.Flow) {
	key, ok := serverKey(req)
	if !ok {
		l.debug("transaction: request without usable Via dropped", "call-id", req.CallID())
		return
	}
	if req.Method == "ACK" {
		if tx, ok := l.servers[l.shardOf(key)].get(key); ok && tx.receiveAck(req) {
			return
		}
		if tx, ok := l.acceptedFor(req); ok {
			tx.ackFor2xx()
		}
		if l.OnAck != nil {
			l.OnAck(req, src)
		}
		return
	}
	sh := &l.servers[l.shardOf(key)]
	if tx, ok := sh.get(key); ok {
		tx.retransmission()
		return
	}
	tx := newServerTx(l, key, req, src)
	if old, added := sh.putIfAbsent(key, tx); !added {
		old.retransmission() // lost a race with a retransmission
		return
	}
	tx.start()
	if req.Method == "CANCEL" {
		if inv, ok := l.servers[l.shardOf(inviteKeyOf(key))].get(inviteKeyOf(key)); ok {
			tx.Cancels = inv
			// The TU sees the CANCEL (and answers it) before the INVITE
			// learns of it, so the 200 for the CANCEL goes out before a
			// 487 for the INVITE (§9.2).
			defer inv.markCancelled()
		}
	}
	if l.OnRequest != nil {
		l.OnRequest(tx)
	}
}

func (l *Layer) receiveResponse(res *sip.Message, src transport.Flow) {
	key, ok := clientKey(res)
	if ok {
		if tx, found := l.clients[l.shardOf(key)].get(key); found {
			tx.receive(res)
			return
		}
	}
	if l.OnStrayResponse != nil {
		l.OnStrayResponse(res, src)
	}
}

// serverKey is the §17.2.3 matching key of a request: branch, sent-by and
// method (ACK matches INVITE). For a branch without the magic cookie it
// falls back to the RFC 2543 identifiers (§17.2.3, last paragraphs).
func serverKey(req *sip.Message) (string, bool) {
	v, err := req.Via()
	if err != nil {
		return "", false
	}
	method := req.Method
	if method == "ACK" {
		method = "INVITE"
	}
	if br := v.Branch(); len(br) > len(sip.BranchMagic) && br[:len(sip.BranchMagic)] == sip.BranchMagic {
		var buf [160]byte // one allocation: the string
		b := append(buf[:0], br...)
		b = append(b, '|')
		b = append(b, v.Host...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(v.Port), 10)
		b = append(b, '|')
		b = append(b, method...)
		return string(b), true
	}
	sentBy := v.Host + ":" + strconv.Itoa(v.Port)
	from, _ := req.From()
	cseq, _ := req.CSeq()
	return "2543|" + req.RequestURI.String() + "|" + from.Tag() + "|" + req.CallID() + "|" +
		strconv.FormatUint(uint64(cseq.Seq), 10) + "|" + sentBy + "|" + v.Branch() + "|" + method, true
}

// inviteKeyOf turns a CANCEL's server key into the key of the INVITE it
// cancels (§9.2: same branch and sent-by).
func inviteKeyOf(cancelKey string) string {
	return cancelKey[:len(cancelKey)-len("CANCEL")] + "INVITE"
}

// clientKey is the §17.1.3 matching key of a response: the top Via branch
// and the CSeq method.
func clientKey(res *sip.Message) (string, bool) {
	v, err := res.Via()
	if err != nil {
		return "", false
	}
	cseq, err := res.CSeq()
	if err != nil {
		return "", false
	}
	method := cseq.Method
	if method == "ACK" {
		method = "INVITE"
	}
	return v.Branch() + "|" + method, true
}

// dialogKey identifies the 2xx an ACK acknowledges: Call-ID, CSeq number and
// From tag (RFC 6026 §8.1 matches the ACK to the dialog's transaction).
func dialogKey(m *sip.Message) string {
	from, _ := m.From()
	cseq, _ := m.CSeq()
	return m.CallID() + "|" + strconv.FormatUint(uint64(cseq.Seq), 10) + "|" + from.Tag()
}

func (l *Layer) acceptedFor(ack *sip.Message) (*ServerTx, bool) {
	k := dialogKey(ack)
	return l.accepted[l.shardOf(k)].get(k)
}
