// Package dialog keeps the state of one SIP dialog (RFC 3261 §12): its
// identifiers, the route set, the remote target and both CSeq spaces, and
// builds the requests sent within it.
//
// A UAC makes a Dialog from its INVITE and the 2xx (or 1xx with a To tag)
// that answered it with NewUAC; a UAS from the request it answered and the
// tag it chose with NewUAS. Request then builds a BYE, re-INVITE or other
// in-dialog request with the right Request-URI, Route headers and CSeq;
// ACK builds the ACK for a 2xx; Receive checks a request that arrived in
// the dialog.
//
//	d, err := dialog.NewUAC(invite, ok200)
//	bye := d.Request("BYE")
//	res, err := client.Do(ctx, bye)
package dialog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard-sip/switchboard/sip"
)

// ErrOutOfOrder reports an in-dialog request whose CSeq is lower than one
// already received (RFC 3261 §12.2.2): the UAS answers 500.
var ErrOutOfOrder = errors.New("dialog: CSeq lower than the last request's")

// ID identifies a dialog from one side (§12): Call-ID, the local tag and
// the remote tag.
type ID struct {
	CallID, LocalTag, RemoteTag string
}

// String returns a compact form for logs.
func (id ID) String() string { return id.CallID + ";" + id.LocalTag + ";" + id.RemoteTag }

// RequestID returns the ID of the dialog a received request belongs to:
// the local tag is the To tag, the remote tag the From tag.
func RequestID(req *sip.Message) (ID, error) {
	from, err := req.From()
	if err != nil {
		return ID{}, err
	}
	to, err := req.To()
	if err != nil {
		return ID{}, err
	}
	return ID{CallID: req.CallID(), LocalTag: to.Tag(), RemoteTag: from.Tag()}, nil
}

// ResponseID returns the ID, seen by the UAC, of the dialog a response to
// its request creates or belongs to: local tag from From, remote from To.
func ResponseID(res *sip.Message) (ID, error) {
	from, err := res.From()
	if err != nil {
		return ID{}, err
	}
	to, err := res.To()
	if err != nil {
		return ID{}, err
	}
	return ID{CallID: res.CallID(), LocalTag: from.Tag(), RemoteTag: to.Tag()}, nil
}

// Dialog is one dialog's state. Its methods are safe for concurrent use.
type Dialog struct {
	id     ID
	local  sip.Address // From of our requests, tag included
	remote sip.Address // To of our requests, tag included
	secure bool        // §12.1.1: a sips Request-URI over TLS

	mu           sync.Mutex
	routes       []sip.Address // route set, fixed at creation (§12.2); guarded by mu
	target       sip.URI       // remote target; guarded by mu
	localSeq     uint32        // last CSeq number we used; guarded by mu
	remoteSeq    uint32        // last CSeq number received; guarded by mu
	remoteSeqSet bool          // guarded by mu
}

// NewUAC creates the dialog a 2xx or a 1xx with a To tag establishes for
// the UAC that sent req (RFC 3261 §12.1.2): the route set is the response's
// Record-Route in reverse order, the remote target its Contact, the local
// sequence number the request's CSeq.
func NewUAC(req, res *sip.Message) (*Dialog, error) {
	id, err := ResponseID(res)
	if err != nil {
		return nil, fmt.Errorf("dialog: %w", err)
	}
	if id.RemoteTag == "" {
		return nil, errors.New("dialog: the response has no To tag")
	}
	from, _ := res.From()
	to, _ := res.To()
	cseq, err := req.CSeq()
	if err != nil {
		return nil, fmt.Errorf("dialog: %w", err)
	}
	d := &Dialog{id: id, local: from, remote: to, localSeq: cseq.Seq,
		secure: req.RequestURI.IsSecure()}
	for rr, err := range res.RecordRoutes() {
		if err != nil {
			return nil, fmt.Errorf("dialog: Record-Route: %w", err)
		}
		d.routes = append(d.routes, rr)
	}
	slices.Reverse(d.routes)
	if t, ok := ContactURI(res); ok {
		d.target = t
	} else if res.StatusCode/100 == 2 {
		return nil, errors.New("dialog: the 2xx has no Contact")
	}
	return d, nil
}

// NewUAS creates the dialog the UAS establishes by answering req with a
// 1xx or 2xx carrying localTag (RFC 3261 §12.1.1): the route set is the
// request's Record-Route in order, the remote target its Contact, the
// remote sequence number its CSeq.
func NewUAS(req *sip.Message, localTag string) (*Dialog, error) {
	from, err := req.From()
	if err != nil {
		return nil, fmt.Errorf("dialog: %w", err)
	}
	to, err := req.To()
	if err != nil {
		return nil, fmt.Errorf("dialog: %w", err)
	}
	if from.Tag() == "" {
		return nil, errors.New("dialog: the request's From has no tag")
	}
	cseq, err := req.CSeq()
	if err != nil {
		return nil, fmt.Errorf("dialog: %w", err)
	}
	to.Params = to.Params.With("tag", localTag)
	d := &Dialog{
		id:     ID{CallID: req.CallID(), LocalTag: localTag, RemoteTag: from.Tag()},
		local:  to,
		remote: from,
		secure: req.RequestURI.IsSecure(),
		// §12.1.1: the local sequence number starts empty; any value
		// below 2^31 will do for the first request we send (§8.1.1.5).
		localSeq:     rand.Uint32N(1 << 16),
		remoteSeq:    cseq.Seq,
		remoteSeqSet: true,
	}
	for rr, err := range req.RecordRoutes() {
		if err != nil {
			return nil, fmt.Errorf("dialog: Record-Route: %w", err)
		}
		d.routes = append(d.routes, rr)
	}
	t, ok := ContactURI(req)
	if !ok {
		return nil, errors.New("dialog: the request has no Contact")
	}
	d.target = t
	return d, nil
}

// ContactURI returns the URI of m's first Contact, false when m has
// none or it does not parse.
func ContactURI(m *sip.Message) (sip.URI, bool) {
	for c, err := range m.Contacts() {
		if err != nil {
			return sip.URI{}, false
		}
		return c.URI, true
	}
	return sip.URI{}, false
}

// ID returns the dialog's identifiers.
func (d *Dialog) ID() ID { return d.id }

// Local returns our side's address (From of our requests), with its tag.
func (d *Dialog) Local() sip.Address { return d.local }

// Remote returns the peer's address (To of our requests), with its tag.
func (d *Dialog) Remote() sip.Address { return d.remote }

// Secure reports whether the dialog was established with a sips URI.
func (d *Dialog) Secure() bool { return d.secure }

// Target returns the remote target.
func (d *Dialog) Target() sip.URI {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.target
}

// Routes returns a copy of the route set.
func (d *Dialog) Routes() []sip.Address {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.routes)
}

// Request builds a request within the dialog (RFC 3261 §12.2.1.1): From
// and To with the tags, the Call-ID, the next local CSeq number, and the
// Request-URI and Route headers the route set calls for. Via is left to the
// transaction layer; the caller adds Contact for a target refresh and the
// body. For an ACK or a CANCEL use ACK or the transaction's CANCEL instead.
func (d *Dialog) Request(method string) *sip.Message {
	d.mu.Lock()
	d.localSeq++
	seq := d.localSeq
	d.mu.Unlock()
	return d.build(method, seq)
}

// Next reserves and returns the next local CSeq number, for a request
// the caller builds itself (one sent again with credentials, §22.2).
func (d *Dialog) Next() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.localSeq++
	return d.localSeq
}

// Sent tells the dialog that a request went out with CSeq seq (a
// challenged request sent again with the next number, §22.2): later
// requests number from above it.
func (d *Dialog) Sent(seq uint32) {
	d.mu.Lock()
	if seq > d.localSeq {
		d.localSeq = seq
	}
	d.mu.Unlock()
}

// ACK builds the ACK for a 2xx to the INVITE whose CSeq number was seq
// (§13.2.2.4): routed like any in-dialog request, with that CSeq number.
func (d *Dialog) ACK(seq uint32) *sip.Message { return d.build("ACK", seq) }

func (d *Dialog) build(method string, seq uint32) *sip.Message {
	d.mu.Lock()
	target, routes := d.target, d.routes
	d.mu.Unlock()
	ruri := target
	var route []sip.Address
	switch {
	case len(routes) == 0:
	case routes[0].URI.Params.Has("lr"):
		// Loose routing: the remote target is the Request-URI and
		// the route set goes in Route unchanged.
		route = routes
	default:
		// §12.2.1.1 strict routing: the first route becomes the
		// Request-URI (without parameters not allowed there), the
		// remote target goes last.
		ruri = routes[0].URI
		ruri.Headers = ""
		ruri.Params = ruri.Params.Without("method")
		route = append(slices.Clone(routes[1:]), sip.Address{URI: target})
	}
	m := sip.NewRequest(method, ruri, d.local, d.remote, d.id.CallID, seq)
	for _, r := range route {
		m.Add("Route", r.String())
	}
	return m
}

// Receive checks a request that arrived within the dialog (§12.2.2): a
// CSeq lower than the last one received is ErrOutOfOrder (answer 500); an
// ACK or CANCEL does not advance the count. A target refresh request (a
// re-INVITE, UPDATE) with a Contact updates the remote target.
func (d *Dialog) Receive(req *sip.Message) error {
	cseq, err := req.CSeq()
	if err != nil {
		return fmt.Errorf("dialog: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if req.Method != "ACK" && req.Method != "CANCEL" {
		if d.remoteSeqSet && cseq.Seq < d.remoteSeq {
			return ErrOutOfOrder
		}
		d.remoteSeq, d.remoteSeqSet = cseq.Seq, true
	}
	if isTargetRefresh(req.Method) {
		if t, ok := ContactURI(req); ok {
			d.target = t
		}
	}
	return nil
}

// Refresh updates the remote target from the Contact of a 2xx answering
// one of our target refresh requests (§12.2.1.2).
func (d *Dialog) Refresh(res *sip.Message) {
	cseq, err := res.CSeq()
	if err != nil || !isTargetRefresh(cseq.Method) || res.StatusCode/100 != 2 {
		return
	}
	if t, ok := ContactURI(res); ok {
		d.mu.Lock()
		d.target = t
		d.mu.Unlock()
	}
}

// isTargetRefresh reports whether method refreshes the remote target
// (§12.2, RFC 3311 §5.1 for UPDATE).
func isTargetRefresh(method string) bool {
	return strings.EqualFold(method, "INVITE") || strings.EqualFold(method, "UPDATE")
}
