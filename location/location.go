// Package location is the location service of RFC 3261 §10: the bindings
// from an address-of-record to the contacts where its user can be reached,
// as a registrar writes them and a proxy reads them.
//
// Store is the interface every backend implements; storetest.Run is the
// conformance suite each must pass. The embedded default backend (Open) is
// an SQLite database in the data directory with an in-memory copy of every
// binding for reads; Memory keeps bindings in memory only.
package location

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Binding is one contact bound to an address-of-record.
type Binding struct {
	// AOR is the canonical address-of-record ("sip:alice@example.com"):
	// the scheme, user and lower-case host of the To URI (§10.3 step 5).
	AOR string
	// Contact is the contact URI as the UA wrote it, without the header
	// parameters that follow a name-addr.
	Contact string
	// Params are the Contact header parameters the registrar keeps and
	// returns ("+sip.instance=\"<urn:uuid:…>\";reg-id=1"), without expires
	// and q, and without a leading ';'. Empty when there are none.
	Params string
	// Q is the q-value times 1000 (0 to 1000), or -1 when the Contact had
	// none.
	Q int
	// Expires is when the binding lapses.
	Expires time.Time
	// CallID and CSeq are those of the REGISTER that last wrote the
	// binding (§10.3 step 7).
	CallID string
	CSeq   uint32
	// Path holds the Path header values of that REGISTER, top first
	// (RFC 3327 §5.3).
	Path []string
	// Instance is the +sip.instance value without its quotes
	// ("<urn:uuid:…>") and RegID the reg-id (RFC 5626 §4.2), 0 when absent.
	Instance string
	RegID    int
	// Transport, Source, Local and Conn name the flow the REGISTER came
	// on: the protocol (UDP, TCP, TLS, WS, WSS), the remote and local
	// addresses, and the connection (0 for UDP). Conn is meaningful only
	// in the process that received the REGISTER.
	Transport string
	Source    netip.AddrPort
	Local     netip.AddrPort
	Conn      uint64
	// UserAgent is the REGISTER's User-Agent header.
	UserAgent string
	// Updated is when the binding was last written.
	Updated time.Time
}

// Live reports whether b has not expired at now.
func (b *Binding) Live(now time.Time) bool { return b.Expires.After(now) }

// Store keeps bindings. Its methods are safe for concurrent use.
type Store interface {
	// Lookup returns the bindings of aor that are live at now, in no
	// particular order; none is not an error.
	Lookup(ctx context.Context, aor string, now time.Time) ([]Binding, error)
	// Update replaces the bindings of aor with what fn returns, given
	// those live at now. Updates of one aor are serialised: fn sees the
	// result of every Update of aor that returned before this one began.
	// When fn returns an error, nothing is written and Update returns
	// that error. When Update returns nil, the new bindings are durable
	// (for a persistent store: on disk) and visible to Lookup. fn may be
	// called more than once by stores that retry on conflict; it must
	// not keep the slice it is given. The bindings fn returns are stored
	// under aor, with their AOR field set to aor; later changes to the
	// slice fn returned, or to Update's result, change nothing stored.
	Update(ctx context.Context, aor string, now time.Time, fn func(current []Binding) ([]Binding, error)) ([]Binding, error)
	// List returns every binding live at now, ordered by AOR and then
	// Contact.
	List(ctx context.Context, now time.Time) ([]Binding, error)
	// Expire removes the bindings that are not live at now and returns
	// how many it removed.
	Expire(ctx context.Context, now time.Time) (int, error)
	// Close releases the store; it waits for writes in progress.
	Close() error
}

// AsyncStore is a Store whose updates can complete without their caller
// waiting: a registrar on the goroutine that read the request hands the
// update over and answers when it is durable, instead of holding a
// goroutine across the commit. Stores that write to disk or a network
// implement it so that they can group many updates into one write.
type AsyncStore interface {
	Store
	// UpdateAsync is Update without the wait. It returns at once,
	// perhaps before fn has run, and calls done exactly once with what
	// Update would have returned: when done gets a nil error, the new
	// bindings are durable and visible to Lookup; with an error (fn's,
	// ErrClosed, a failed write) nothing was written. fn has Update's
	// contract. Updates of one aor are serialised as Update's are: fn
	// sees the result of every update of aor whose done was called
	// before this one began.
	//
	// done may run before UpdateAsync returns or on another goroutine.
	// It must not block, and must not call the store's Update,
	// UpdateAsync or Expire: stores may call it from the goroutine that
	// commits. Neither UpdateAsync nor fn blocks on the disk or the
	// network, though UpdateAsync may take a lock held for memory
	// operations.
	UpdateAsync(aor string, now time.Time, fn func(current []Binding) ([]Binding, error), done func([]Binding, error))
}

// UpdateAsync calls st.UpdateAsync when st is an AsyncStore; otherwise it
// runs st.Update on a new goroutine (with a background context) and calls
// done with its results.
func UpdateAsync(st Store, aor string, now time.Time, fn func(current []Binding) ([]Binding, error), done func([]Binding, error)) {
	if a, ok := st.(AsyncStore); ok {
		a.UpdateAsync(aor, now, fn, done)
		return
	}
	go func() { done(st.Update(context.Background(), aor, now, fn)) }()
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("location: store closed")
