package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/sip/digest"
	"github.com/switchboard-sip/switchboard/transport"
	"github.com/switchboard-sip/switchboard/transport/resolve"
)

// Client sends requests through a Server's listeners. Its zero value is not
// usable: get one from Server.Client.
type Client struct {
	// Username and Password answer digest challenges (401, 407) with MD5
	// or SHA-256 and qop=auth (RFC 2617, RFC 7616, RFC 8760). Empty
	// Username means challenges are returned as they are.
	Username, Password string
	// Transport forces the transport (udp, tcp, tls, ws, wss) when the URI
	// does not name one.
	Transport string
	// OnProvisional, if set, receives 1xx responses.
	OnProvisional func(*sip.Message)
	// Resolver finds the targets of a URI (RFC 3263); nil uses a
	// resolve.Resolver with the system's name server.
	Resolver *resolve.Resolver

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
	targets, err := c.targets(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(targets) == 1 {
		return c.send(ctx, req, targets[0])
	}
	// RFC 3263 §4.3: on a transport error, a timeout without any response
	// or a 503, try the next target with a new transaction.
	first := true
	return resolve.Failover(ctx, targets, func(ctx context.Context, t resolve.Target) (*sip.Message, error) {
		r := req
		if !first {
			r = withoutTopVia(req)
		}
		first = false
		return c.send(ctx, r, t)
	}, func(res *sip.Message, err error) bool {
		return err != nil || (res != nil && res.StatusCode == 503)
	})
}

// withoutTopVia returns a copy of req for a new transaction: the transaction
// layer adds a Via with a fresh branch.
func withoutTopVia(req *sip.Message) *sip.Message {
	r := req.Clone()
	for i, h := range r.Headers {
		if h.Is("Via") {
			r.Headers = append(r.Headers[:i], r.Headers[i+1:]...)
			break
		}
	}
	return r
}

// send runs one client transaction toward t and waits for its final
// response.
func (c *Client) send(ctx context.Context, req *sip.Message, t resolve.Target) (*sip.Message, error) {
	dst := transport.Flow{Proto: t.Transport, Remote: t.Addr, Name: t.ServerName}
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

// NextHops returns where req goes, in the order to try (see targets),
// for a caller that runs its own transactions with Server.Send.
func (c *Client) NextHops(ctx context.Context, req *sip.Message) ([]Flow, error) {
	targets, err := c.targets(ctx, req)
	if err != nil {
		return nil, err
	}
	flows := make([]Flow, len(targets))
	for i, t := range targets {
		flows[i] = transport.Flow{Proto: t.Transport, Remote: t.Addr, Name: t.ServerName}
	}
	return flows, nil
}

// targets resolves the next hop: the first Route if it is a loose router
// (§16.12), else the Request-URI, by RFC 3263 (transport/resolve). The
// Client's Transport applies when the URI names none.
func (c *Client) targets(ctx context.Context, req *sip.Message) ([]resolve.Target, error) {
	u := req.RequestURI
	for r, err := range req.Routes() {
		if err == nil && r.URI.Params.Has("lr") {
			u = r.URI
		}
		break
	}
	if !u.IsSIP() {
		return nil, fmt.Errorf("stack: cannot send to %s URI %s", u.Scheme, u.String())
	}
	r := c.Resolver
	if r == nil {
		r = &resolve.Resolver{}
	}
	if !u.Params.Has("transport") && c.Transport != "" {
		host := u.Host
		if m := u.Params.Value("maddr"); m != "" {
			host = m
		}
		return r.Resolve(ctx, host, u.Port, u.IsSecure(), c.Transport)
	}
	return r.ResolveURI(ctx, &u)
}

// Authorize builds the retry of req answering the digest challenge in res
// (a 401 or 407) with the Client's Username and Password, for a caller
// that runs its own transactions (an INVITE sent with Server.Send). It
// fails when res carries no challenge with a supported algorithm.
func (c *Client) Authorize(req, res *sip.Message) (*sip.Message, error) {
	return c.authorize(req, res)
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
	a, ok := digest.ParseAlgorithm(alg)
	if !ok {
		return "", fmt.Errorf("stack: digest algorithm %q is not supported", alg)
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
	const nc = "00000001"
	resp := a.Response(a.HA1(user, realm, pass), nonce, nc, cnonce, qop, method, uri)
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
