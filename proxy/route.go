package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/switchboard-sip/switchboard/sip"
)

// The proxy's marks on the messages it forwards.
//
// Its branch (§16.6 step 8) is BranchMagic, branchMark, 16 hex digits of the
// loop hash, '.', and a random part: the hash lets §16.3 step 4 tell a loop
// (the same request back again) from a spiral (RFC 5393 §4.2), and the
// mark lets a stray response be recognised as one of ours.
//
// Its Record-Route URIs (§16.6 step 4) carry an "sb" parameter, a MAC under
// the proxy's key of the Call-ID and of the dialog's scope: "*" when the
// request that set the dialog up was authenticated or came from a trusted
// source, else the host of the contact the proxy sent it to. A request
// within a dialog (To tag) that comes back with that Route is forwarded
// without further authentication if its Request-URI is within the scope:
// anywhere for an authorised dialog, only that host for one an
// unauthenticated caller set up with a local user. A Route forged for
// another Call-ID, or a Request-URI changed to another host (a carrier),
// does not verify, so the Route header cannot turn the proxy into a relay.
const (
	branchMark = "Sb"
	rrParam    = "sb"
)

// loopHash is the hash §16.6 step 8 puts in the branch: over the fields
// that decide where this proxy sends the request (RFC 5393 §4.2: the
// Request-URI and Route as received, and the dialog and transaction
// identifiers that tell requests apart), under the proxy's per-process
// node identity, so that another Switchboard the request passes through
// computes different values. Proxy-Authorization is left out because the
// proxy removes the credentials it consumed (§22.3) before forwarding.
func (p *Proxy) loopHash(req *sip.Message) string {
	h := p.macs.get(p.node[:])
	defer p.macs.put(h)
	add := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	add(req.RequestTarget())
	for _, hd := range req.Headers {
		if hd.Is("Route") || hd.Is("Proxy-Require") {
			add(hd.Value)
		}
	}
	add(req.CallID())
	from, _ := req.From()
	to, _ := req.To()
	add(from.Tag())
	add(to.Tag())
	cs, _ := req.CSeq()
	var n [20]byte
	h.Write(strconv.AppendUint(n[:0], uint64(cs.Seq), 10))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:8])
}

// macPool recycles keyed HMAC-SHA256 states: hmac.New allocates several
// objects, Reset restores the keyed state. One pool serves one key.
type macPool struct{ p sync.Pool }

func (m *macPool) get(key []byte) hash.Hash {
	if h, ok := m.p.Get().(hash.Hash); ok {
		return h
	}
	return hmac.New(sha256.New, key)
}

func (m *macPool) put(h hash.Hash) {
	h.Reset()
	m.p.Put(h)
}

// looped reports a request that already passed this proxy unchanged
// (§16.3 step 4): one of its Vias carries the branch this proxy would give
// it now.
func (p *Proxy) looped(req *sip.Message) bool {
	var mine string
	for v, err := range req.Vias() {
		if err != nil {
			return false
		}
		b := v.Branch()
		if !strings.HasPrefix(b, sip.BranchMagic+branchMark) {
			continue
		}
		if mine == "" {
			mine = p.loopHash(req)
		}
		if strings.HasPrefix(b[len(sip.BranchMagic+branchMark):], mine+".") {
			return true
		}
	}
	return false
}

// newBranch returns the branch for a request forwarded with loop hash h.
func newBranch(h string) string {
	return sip.BranchMagic + branchMark + h + "." + sip.NewTag()
}

// ours reports whether a top Via's branch was made by a proxy of this
// kind (a response to pop it from).
func ours(b string) bool { return strings.HasPrefix(b, sip.BranchMagic+branchMark) }

// anyTarget is the scope of a dialog whose requests may go anywhere.
const anyTarget = "*"

// dialogMAC is the "sb" value for a dialog's Call-ID and scope (anyTarget,
// or the lower-case host requests of the dialog must be sent to).
func (p *Proxy) dialogMAC(callID, scope string) string {
	h := p.rrMACs.get(p.key())
	defer p.rrMACs.put(h)
	h.Write([]byte(callID))
	h.Write([]byte{0})
	h.Write([]byte(scope))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:10])
}

// recordRoute returns the Record-Route value naming this proxy at addr
// over proto for the dialog of callID with scope (§16.6 step 4): a SIP URI
// with lr, the transport when it is not UDP, and the dialog MAC; a SIPS URI
// (TLS, or secure WebSocket) when secure is set and the transport is secure.
func (p *Proxy) recordRoute(proto string, addr netip.AddrPort, callID, scope string, secure bool) string {
	var b strings.Builder
	proto = strings.ToLower(proto)
	sips := secure && (proto == "tls" || proto == "wss")
	if sips {
		b.WriteString("<sips:")
	} else {
		b.WriteString("<sip:")
	}
	a := addr.Addr().Unmap()
	if a.Is6() {
		b.WriteString("[" + a.String() + "]")
	} else {
		b.WriteString(a.String())
	}
	b.WriteString(":" + strconv.Itoa(int(addr.Port())))
	switch {
	case proto == "udp", sips && proto == "tls":
	default:
		b.WriteString(";transport=" + proto)
	}
	b.WriteString(";lr;" + rrParam + "=" + p.dialogMAC(callID, scope) + ">")
	return b.String()
}

// inScope reports whether sb, found in a Route this proxy wrote, lets a
// request of the dialog callID go to target.
func (p *Proxy) inScope(sb, callID string, target *sip.URI) bool {
	return hmac.Equal([]byte(sb), []byte(p.dialogMAC(callID, anyTarget))) ||
		hmac.Equal([]byte(sb), []byte(p.dialogMAC(callID, strings.ToLower(target.Host))))
}

// isMe reports whether u names this proxy: an address it listens on (a
// Record-Route value it wrote, a phone's outbound-proxy Route), or a
// Record-Route value it wrote for an authorised dialog when Self does not
// know the address (§16.4).
func (p *Proxy) isMe(u *sip.URI, callID string, set *Settings) bool {
	if !u.IsSIP() || u.User != "" {
		return false
	}
	if set.Self != nil {
		port := u.Port
		if port == 0 {
			port = 5060
			if u.IsSecure() || strings.EqualFold(u.Params.Value("transport"), "tls") {
				port = 5061
			}
		}
		if set.Self(strings.ToLower(u.Host), port) {
			return true
		}
	}
	sb, ok := u.Params.Get(rrParam)
	return ok && hmac.Equal([]byte(sb), []byte(p.dialogMAC(callID, anyTarget)))
}

// preprocess is §16.4: a Request-URI naming this proxy (the previous hop
// was a strict router) is replaced by the last Route; a top Route naming
// it is removed, twice when it record-routed twice. routed reports a
// request within a dialog (To tag) that carried a Route this proxy wrote
// for that dialog, its Request-URI within the dialog's scope: it may be
// forwarded without authentication.
func (p *Proxy) preprocess(req *sip.Message, set *Settings) (routed bool) {
	callID := req.CallID()
	var sbs [3]string
	n := 0
	if p.isMe(&req.RequestURI, callID, set) && req.Has("Route") {
		sbs[n] = req.RequestURI.Params.Value(rrParam)
		n++
		var last sip.Address
		found := false
		for r, err := range req.Routes() {
			if err != nil {
				break
			}
			last, found = r, true
		}
		if found {
			req.RequestURI = last.URI
			removeLastRoute(req)
		}
	}
	for range 2 {
		top, found := topRoute(req)
		if !found || !p.isMe(&top.URI, callID, set) {
			break
		}
		sbs[n] = top.URI.Params.Value(rrParam)
		n++
		req.RemoveFirst("Route")
	}
	if to, _ := req.To(); to.Tag() == "" {
		return false // an initial request is never let through on a Route
	}
	for _, sb := range sbs[:n] {
		if sb != "" && p.inScope(sb, callID, &req.RequestURI) {
			return true
		}
	}
	return false
}

// removeLastRoute removes the last Route value (§16.4).
func removeLastRoute(req *sip.Message) {
	for i := len(req.Headers) - 1; i >= 0; i-- {
		h := &req.Headers[i]
		if !h.Is("Route") {
			continue
		}
		var items []string
		for item := range (&sip.Message{Headers: []sip.Header{*h}}).Values("Route") {
			items = append(items, item)
		}
		if len(items) <= 1 {
			req.Headers = append(req.Headers[:i], req.Headers[i+1:]...)
		} else {
			*h = sip.NewHeader(h.Name, strings.Join(items[:len(items)-1], ", "))
		}
		return
	}
}
