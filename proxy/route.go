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
// Its Record-Route URIs (§16.6 step 4) carry an "sb" parameter, a MAC of the
// Call-ID under the proxy's key: a request that comes back with that Route
// belongs to a dialog this proxy record-routed, and only then is it
// forwarded without further authentication. A forged Route for another
// Call-ID does not verify, so the Route header cannot turn the proxy into
// an open relay.
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

// dialogMAC is the "sb" value for a dialog's Call-ID.
func (p *Proxy) dialogMAC(callID string) string {
	h := p.rrMACs.get(p.key())
	defer p.rrMACs.put(h)
	h.Write([]byte(callID))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:10])
}

// recordRoute returns the Record-Route value naming this proxy at addr
// over proto for the dialog of callID (§16.6 step 4): a SIP URI with lr, the
// transport when it is not UDP, and the dialog MAC; a SIPS URI (TLS, or
// secure WebSocket) when secure is set and the transport is secure.
func (p *Proxy) recordRoute(proto string, addr netip.AddrPort, callID string, secure bool) string {
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
	b.WriteString(";lr;" + rrParam + "=" + p.dialogMAC(callID) + ">")
	return b.String()
}

// signed reports whether u is a Record-Route URI this proxy wrote for the
// dialog of callID.
func (p *Proxy) signed(u *sip.URI, callID string) bool {
	v, ok := u.Params.Get(rrParam)
	return ok && hmac.Equal([]byte(v), []byte(p.dialogMAC(callID)))
}

// isMe reports whether u names this proxy: a Record-Route URI it wrote, or
// an address it listens on (a phone's outbound-proxy Route, §16.4).
func (p *Proxy) isMe(u *sip.URI, callID string, set *Settings) bool {
	if p.signed(u, callID) {
		return true
	}
	if !u.IsSIP() || u.User != "" || set.Self == nil {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
		if u.IsSecure() || strings.EqualFold(u.Params.Value("transport"), "tls") {
			port = 5061
		}
	}
	return set.Self(strings.ToLower(u.Host), port)
}

// preprocess is §16.4: a Request-URI naming this proxy (the previous hop
// was a strict router) is replaced by the last Route; a top Route naming
// it is removed, twice when it record-routed twice. routed reports that a
// Route this proxy wrote for the request's dialog was found: the request
// is in a dialog the proxy record-routed.
func (p *Proxy) preprocess(req *sip.Message, set *Settings) (routed bool) {
	callID := req.CallID()
	if p.isMe(&req.RequestURI, callID, set) && req.Has("Route") {
		routed = p.signed(&req.RequestURI, callID)
		var last sip.Address
		n := 0
		for r, err := range req.Routes() {
			if err != nil {
				break
			}
			last = r
			n++
		}
		if n > 0 {
			req.RequestURI = last.URI
			removeLastRoute(req)
		}
	}
	for range 2 {
		var top sip.Address
		found := false
		for r, err := range req.Routes() {
			if err == nil {
				top, found = r, true
			}
			break
		}
		if !found || !p.isMe(&top.URI, callID, set) {
			break
		}
		routed = routed || p.signed(&top.URI, callID)
		req.RemoveFirst("Route")
	}
	return routed
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
