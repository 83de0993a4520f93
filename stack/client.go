package stack

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// Client sends requests through a Server's listeners. Its zero value is not
// usable: get one from Server.Client.
type Client struct {
	// Username and Password answer digest challenges (401, 407) with MD5
	// or SHA-256 and qop=auth (RFC 2617, RFC 7616, RFC 8760). Empty
	// Username means challenges are returned as they are.
	Username, Password string
	// Transport forces the transport (udp, tcp, tls) when the URI does not
	// name one.
	Transport string
	// OnProvisional, if set, receives 1xx responses.
	OnProvisional func(*sip.Message)

	srv *Server
}

// Client returns a Client that sends through s's listeners.
func (s *Server) Client() *Client {
	s.init()
	return &Client{srv: s}
}

// Do sends req and waits for its final response. It returns err == nil
// whenever a final response arrived, whatever its code; errors are for
// transaction.ErrTimeout (wrapped), transport failures and ctx. A 401 or 407
// is answered once with credentials when Username is set. For an INVITE the
// first 2xx is returned and sending the ACK is the caller's job.
func (c *Client) Do(ctx context.Context, req *sip.Message) (*sip.Message, error) {
	res, err := c.do(ctx, req)
	if err != nil || c.Username == "" || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, err
	}
	authed, aerr := c.authorize(req, res)
	if aerr != nil {
		return res, nil // the challenge is the answer
	}
	return c.do(ctx, authed)
}

func (c *Client) do(ctx context.Context, req *sip.Message) (*sip.Message, error) {
	dst, err := c.target(ctx, req)
	if err != nil {
		return nil, err
	}
	final := make(chan *sip.Message, 1)
	var once sync.Once
	tx, err := c.srv.tl.Request(req, dst, func(res *sip.Message) {
		if res.StatusCode < 200 {
			if c.OnProvisional != nil {
				c.OnProvisional(res)
			}
			return
		}
		once.Do(func() { final <- res })
	})
	if err != nil {
		return nil, err
	}
	select {
	case res := <-final:
		return res, nil
	case <-tx.Done():
		select {
		case res := <-final:
			return res, nil
		default:
		}
		if err := tx.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("stack: %s ended without a final response", req.Method)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// target picks the next hop: the first Route if it is a loose router
// (§16.12), else the Request-URI; its transport parameter, sips, or the
// Client's Transport; and its host, looked up when it is a name
// (A/AAAA; RFC 3263 NAPTR and SRV come with transport/resolve).
func (c *Client) target(ctx context.Context, req *sip.Message) (transport.Flow, error) {
	u := req.RequestURI
	for r, err := range req.Routes() {
		if err == nil && r.URI.Params.Has("lr") {
			u = r.URI
		}
		break
	}
	if !u.IsSIP() {
		return transport.Flow{}, fmt.Errorf("stack: cannot send to %s URI %s", u.Scheme, u.String())
	}
	proto := strings.ToUpper(u.Params.Value("transport"))
	if proto == "" {
		proto = strings.ToUpper(c.Transport)
	}
	if u.IsSecure() {
		proto = transport.TLS
	}
	if proto == "" {
		proto = transport.UDP
	}
	port := u.Port
	if port == 0 {
		port = 5060
		if proto == transport.TLS {
			port = 5061
		}
	}
	addr, ok := sip.HostAddr(u.Host)
	if !ok {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Host)
		if err != nil || len(ips) == 0 {
			return transport.Flow{}, fmt.Errorf("stack: resolve %s: %w", u.Host, err)
		}
		addr = ips[0]
	}
	return transport.Flow{Proto: proto, Remote: netip.AddrPortFrom(addr.Unmap(), uint16(port))}, nil
}

// authorize builds the retry of req answering the digest challenge in res:
// the same Call-ID and From, CSeq plus one, a new branch, and an
// Authorization or Proxy-Authorization header (RFC 3261 §22.2, RFC 7616 §3.4).
func (c *Client) authorize(req, res *sip.Message) (*sip.Message, error) {
	name, answer := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		name, answer = "Proxy-Authenticate", "Proxy-Authorization"
	}
	// Prefer SHA-256 when several challenges are offered (RFC 8760 §2.4).
	var chosen *sip.Auth
	for _, h := range res.Headers {
		if !h.Is(name) {
			continue
		}
		a, err := sip.ParseAuth(h.Value)
		if err != nil || !strings.EqualFold(a.Scheme, "Digest") {
			continue
		}
		alg, _ := a.Param("algorithm")
		switch strings.ToUpper(alg) {
		case "SHA-256":
			chosen = &a
		case "", "MD5":
			if chosen == nil {
				chosen = &a
			}
		}
	}
	if chosen == nil {
		return nil, errors.New("stack: no digest challenge with a supported algorithm")
	}
	cred, err := digestResponse(*chosen, c.Username, c.Password, req.Method, req.RequestURI.String(), sip.NewTag())
	if err != nil {
		return nil, err
	}
	retry := req.Clone()
	retry.Del(answer)
	// A new transaction: new branch; the transport fills sent-by again.
	for i, h := range retry.Headers {
		if h.Is("Via") {
			retry.Headers = append(retry.Headers[:i], retry.Headers[i+1:]...)
			break
		}
	}
	cseq, err := retry.CSeq()
	if err != nil {
		return nil, err
	}
	cseq.Seq++
	retry.Set("CSeq", cseq.String())
	retry.Add(answer, cred)
	return retry, nil
}

// digestResponse computes the credentials for one challenge with qop=auth
// when offered (RFC 7616 §3.4.1), or the RFC 2069 form without qop.
func digestResponse(ch sip.Auth, user, pass, method, uri, cnonce string) (string, error) {
	realm, _ := ch.Param("realm")
	nonce, _ := ch.Param("nonce")
	opaque, hasOpaque := ch.Param("opaque")
	alg, _ := ch.Param("algorithm")
	var h func() hash.Hash
	switch strings.ToUpper(alg) {
	case "", "MD5":
		h = md5.New
	case "SHA-256":
		h = sha256.New
	default:
		return "", fmt.Errorf("stack: digest algorithm %q is not supported", alg)
	}
	hx := func(s string) string {
		d := h()
		d.Write([]byte(s))
		return hex.EncodeToString(d.Sum(nil))
	}
	qop := ""
	if q, ok := ch.Param("qop"); ok {
		for _, o := range strings.Split(q, ",") {
			if strings.EqualFold(strings.TrimSpace(o), "auth") {
				qop = "auth"
			}
		}
		if qop == "" {
			return "", fmt.Errorf("stack: digest qop %q is not supported (only auth)", q)
		}
	}
	ha1 := hx(user + ":" + realm + ":" + pass)
	ha2 := hx(method + ":" + uri)
	const nc = "00000001"
	var resp string
	if qop != "" {
		resp = hx(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		resp = hx(ha1 + ":" + nonce + ":" + ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Digest username=%s, realm=%s, nonce=%s, uri=%s, response=%s",
		sip.Quote(user), sip.Quote(realm), sip.Quote(nonce), sip.Quote(uri), sip.Quote(resp))
	if alg != "" {
		b.WriteString(", algorithm=" + alg)
	}
	if qop != "" {
		b.WriteString(", qop=auth, nc=" + nc + ", cnonce=" + sip.Quote(cnonce))
	}
	if hasOpaque {
		b.WriteString(", opaque=" + sip.Quote(opaque))
	}
	return b.String(), nil
}

// NewRequest builds a request from the Client's side: a fresh Call-ID, From
// tag and CSeq 1 (sip.NewRequest), From being from and To the target.
func NewRequest(method string, target sip.URI, from sip.Address) *sip.Message {
	if from.Params.Value("tag") == "" {
		from.Params = from.Params.With("tag", sip.NewTag())
	}
	return sip.NewRequest(method, target, from, sip.Address{URI: target}, sip.NewCallID(), 1)
}
