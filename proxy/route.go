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
// loop hash, '.', a random part and a MAC: the hash lets §16.3 step 4 tell
// a loop (the same request back again) from a spiral (RFC 5393 §4.2); the
// MAC, over the hash, the random part and the Via the request arrived
// with, lets a response that matches no transaction be relayed only to
// where this proxy really forwarded a request from.
//
// Its Record-Route URIs (§16.6 step 4, §16.7 step 4) carry an "sb"
// parameter, a MAC under the proxy's key of the Call-ID and of the one host
// the holder of that route set may reach through the proxy: the callee's
// copy (in the request) names the caller's next hop (the caller's Contact,
// or the proxy before this one that record-routed), the caller's copy
// (rewritten in the responses) the callee's. A request within a dialog
// (To tag) that comes back with that Route is forwarded without
// authentication only if its next hop is that host. A Route forged for
// another Call-ID, or a request of the dialog sent on to another host (a
// carrier), whether by its Request-URI, a strict-routing Route or maddr,
// does not verify: the Route header cannot turn the proxy into a relay, not
// even for a party of the dialog.
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
// (§16.3 step 4): one of its Vias carries mine, the loop hash this proxy
// gives it now.
func (p *Proxy) looped(req *sip.Message, mine string) bool {
	for v, err := range req.Vias() {
		if err != nil {
			return false
		}
		b := v.Branch()
		if !strings.HasPrefix(b, sip.BranchMagic+branchMark) {
			continue
		}
		if strings.HasPrefix(b[len(sip.BranchMagic+branchMark):], mine+".") {
			return true
		}
	}
	return false
}

// newBranch returns the branch for a request forwarded with loop hash h
// that arrived with the top Via upstream (as the transport stamped it).
func (p *Proxy) newBranch(h, upstream string) string {
	r := sip.NewTag()
	return sip.BranchMagic + branchMark + h + "." + r + p.branchMAC(h, r, upstream)
}

// branchMAC is the MAC part of a branch.
func (p *Proxy) branchMAC(h, r, upstream string) string {
	m := p.rrMACs.get(p.key())
	defer p.rrMACs.put(m)
	m.Write([]byte("branch\x00" + h + "\x00" + r + "\x00" + upstream))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:8])
}

// relayable reports whether res, a response that matched no transaction,
// carries on top a Via this proxy wrote when it forwarded a request that
// arrived with the Via now second: only then is it relayed (to that Via).
func (p *Proxy) relayable(res *sip.Message) bool {
	var top, next sip.Via
	i := 0
	for v, err := range res.Vias() {
		if err != nil {
			return false
		}
		if i == 0 {
			top = v
		} else {
			next = v
			break
		}
		i++
	}
	if i == 0 {
		return false
	}
	b := top.Branch()
	if !strings.HasPrefix(b, sip.BranchMagic+branchMark) {
		return false
	}
	rest := b[len(sip.BranchMagic+branchMark):]
	h, tail, ok := strings.Cut(rest, ".")
	if !ok || len(tail) != 16+16 {
		return false
	}
	want := p.branchMAC(h, tail[:16], next.String())
	return hmac.Equal([]byte(tail[16:]), []byte(want))
}

// dialogMAC is the "sb" value for a dialog's Call-ID and the host (lower
// case) requests carrying it may be sent to.
func (p *Proxy) dialogMAC(callID, host string) string {
	h := p.rrMACs.get(p.key())
	defer p.rrMACs.put(h)
	h.Write([]byte(callID))
	h.Write([]byte{0})
	h.Write([]byte(host))
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:10])
}

// uriHost is the host a request to u is sent to (RFC 3263 §4: maddr when
// present), in lower case.
func uriHost(u *sip.URI) string {
	if m := u.Params.Value("maddr"); m != "" {
		return strings.ToLower(m)
	}
	return strings.ToLower(u.Host)
}

// recordRoute returns the Record-Route value naming this proxy at addr
// over proto for the dialog of callID, for a holder who may reach host
// through it (§16.6 step 4): a SIP URI with lr, the transport when it is not
// UDP, and the dialog MAC; a SIPS URI (TLS, or secure WebSocket) when secure
// is set and the transport is secure.
func (p *Proxy) recordRoute(proto string, addr netip.AddrPort, callID, host string, secure bool) string {
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
	b.WriteString(";lr;" + rrParam + "=" + p.dialogMAC(callID, host) + ">")
	return b.String()
}

// isMe reports whether u names this proxy: an address and port it listens
// on (a Record-Route value it wrote, a phone's outbound-proxy Route), as
// Settings.Self knows them (§16.4).
func (p *Proxy) isMe(u *sip.URI, set *Settings) bool {
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

// destination is the host req goes to next once pre-processed (§16.6
// steps 6 and 7, RFC 3263 §4): the top Route's (loose or strict), else the
// Request-URI's; maddr counts.
func destination(req *sip.Message) string {
	if r, ok := topRoute(req); ok {
		return uriHost(&r.URI)
	}
	return uriHost(&req.RequestURI)
}

// preprocess is §16.4: a Request-URI naming this proxy (the previous hop
// was a strict router) is replaced by the last Route; a top Route naming
// it is removed, twice when it record-routed twice. routed reports a
// request within a dialog (To tag) that carried a Route this proxy wrote
// for that dialog whose MAC allows the host the request now goes to: it
// may be forwarded without authentication.
func (p *Proxy) preprocess(req *sip.Message, set *Settings) (routed bool) {
	var sbs [3]string
	n := 0
	if p.isMe(&req.RequestURI, set) && req.Has("Route") {
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
		if !found || !p.isMe(&top.URI, set) {
			break
		}
		sbs[n] = top.URI.Params.Value(rrParam)
		n++
		req.RemoveFirst("Route")
	}
	if to, _ := req.To(); to.Tag() == "" || n == 0 {
		return false // an initial request is never let through on a Route
	}
	mac := p.dialogMAC(req.CallID(), destination(req))
	for _, sb := range sbs[:n] {
		if sb != "" && hmac.Equal([]byte(sb), []byte(mac)) {
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
