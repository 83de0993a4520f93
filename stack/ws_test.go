package stack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transport"
)

// wsTLS returns a TLS configuration with a self-signed certificate for
// 127.0.0.1 that also trusts it, usable by servers and clients alike.
func wsTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard stack ws test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}
}

// wsServer starts a Server with a transport layer using conf (nil for
// none), listening on protos on 127.0.0.1; it is shut down at cleanup.
func wsServer(t *testing.T, h Handler, conf *tls.Config, protos ...string) (*Server, map[string]string) {
	t.Helper()
	srv := &Server{Handler: h, Transport: &transport.Layer{TLSConfig: conf}}
	addrs := map[string]string{}
	for _, p := range protos {
		a, err := srv.Listen(p, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[p] = a.String()
	}
	srv.Client() // sets the Server up when it listens on nothing
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, addrs
}

// wsDial opens a WebSocket as a web phone does: subprotocol sip, the
// certificate of conf trusted for wss.
func wsDial(t *testing.T, ctx context.Context, url string, conf *tls.Config) *websocket.Conn {
	t.Helper()
	opts := &websocket.DialOptions{Subprotocols: []string{"sip"}}
	if conf != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	}
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "sip" {
		t.Fatalf("subprotocol %q; want sip", c.Subprotocol())
	}
	// Closed with a handshake before the server shuts down (cleanups run
	// last in, first out).
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return c
}

// wsExchange writes m as one text message and reads one message back.
func wsExchange(t *testing.T, ctx context.Context, c *websocket.Conn, m *sip.Message) *sip.Message {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, m.Bytes()); err != nil {
		t.Fatal(err)
	}
	return wsRead(t, ctx, c)
}

func wsRead(t *testing.T, ctx context.Context, c *websocket.Conn) *sip.Message {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sip.Parse(b)
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, b)
	}
	return m
}

// wsPhoneOptions is an OPTIONS as a web phone builds it (RFC 7118 §8.1):
// transport WS and an invalid domain as sent-by.
func wsPhoneOptions(t *testing.T, target string) *sip.Message {
	t.Helper()
	req := options(t, target)
	req.Prepend("Via", "SIP/2.0/WS df7jal23ls0d.invalid;branch="+sip.NewBranch())
	return req
}

// TestWSOptionsFromWebSocketClient: a WebSocket client (coder/websocket)
// exchanges OPTIONS with a Server listening on WS and on WSS.
func TestWSOptionsFromWebSocketClient(t *testing.T) {
	conf := wsTLS(t)
	var seen atomic.Value
	_, addrs := wsServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		seen.Store(v)
		tx.Reply(200, "", sip.NewHeader("Allow", "OPTIONS"))
	}), conf, "ws", "wss")
	for _, proto := range []string{"ws", "wss"} {
		t.Run(proto, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c := wsDial(t, ctx, proto+"://"+addrs[proto]+"/", conf)
			for range 2 {
				req := wsPhoneOptions(t, "sip:echo@"+addrs[proto]+";transport=ws")
				res := wsExchange(t, ctx, c, req)
				if res.StatusCode != 200 || res.Get("Allow") != "OPTIONS" || res.CallID() != req.CallID() {
					t.Errorf("response:\n%s", res)
				}
				v, _ := res.Via()
				rv := mustVia(t, req)
				if v.Host != "df7jal23ls0d.invalid" || v.Branch() != rv.Branch() {
					t.Errorf("response Via %s; want the request's", v)
				}
			}
			if v := seen.Load().(sip.Via); v.Params.Value("received") != "127.0.0.1" {
				t.Errorf("server saw Via %s; want received", v)
			}
		})
	}
}

func mustVia(t *testing.T, m *sip.Message) sip.Via {
	t.Helper()
	v, err := m.Via()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWSClientToServer: a stack Client sends OPTIONS to a URI with
// ;transport=ws (and wss) and reuses the WebSocket for the next request.
func TestWSClientToServer(t *testing.T) {
	conf := wsTLS(t)
	var seen atomic.Value
	_, addrs := wsServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		seen.Store(v)
		tx.Reply(200, "")
	}), conf, "ws", "wss")
	for _, proto := range []string{"ws", "wss"} {
		t.Run(proto, func(t *testing.T) {
			cli, _ := wsServer(t, nil, conf)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for range 2 {
				req := options(t, "sip:echo@"+addrs[proto]+";transport="+proto)
				res, err := cli.Client().Do(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 200 || res.CallID() != req.CallID() {
					t.Errorf("response:\n%s", res)
				}
				v := seen.Load().(sip.Via)
				if !strings.EqualFold(v.Transport, proto) || v.Params.Value("received") != "127.0.0.1" {
					t.Errorf("server saw Via %s; want %s with received", v, strings.ToUpper(proto))
				}
			}
			if n := cli.Transport.Conns(); n != 1 {
				t.Errorf("client has %d connections; want the one WebSocket reused", n)
			}
		})
	}
}

// TestWSServerInitiated: once a WebSocket client has connected, a request
// from the server to the client's address goes over that WebSocket (RFC 7118
// §5: a web phone cannot be connected to). The peer is a coder/websocket
// client, then another stack Server that dialled in.
func TestWSServerInitiated(t *testing.T) {
	conf := wsTLS(t)
	sources := make(chan netip.AddrPort, 4)
	srv, addrs := wsServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		sources <- tx.Source()
		tx.Reply(200, "")
	}), conf, "ws", "wss")

	for _, proto := range []string{"ws", "wss"} {
		t.Run("websocket client "+proto, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c := wsDial(t, ctx, proto+"://"+addrs[proto]+"/", conf)
			if res := wsExchange(t, ctx, c, wsPhoneOptions(t, "sip:echo@"+addrs[proto])); res.StatusCode != 200 {
				t.Fatalf("response:\n%s", res)
			}
			src := <-sources

			type result struct {
				res *sip.Message
				err error
			}
			done := make(chan result, 1)
			out := options(t, "sip:phone@"+src.String()+";transport="+proto)
			go func() {
				res, err := srv.Client().Do(ctx, out)
				done <- result{res, err}
			}()
			req := wsRead(t, ctx, c)
			if req.Method != "OPTIONS" || !strings.EqualFold(mustVia(t, req).Transport, proto) {
				t.Errorf("phone got:\n%s", req)
			}
			res := sip.NewResponse(req, 200, "")
			if err := c.Write(ctx, websocket.MessageText, res.Bytes()); err != nil {
				t.Fatal(err)
			}
			// The phone listens nowhere: the request came over its
			// WebSocket.
			r := <-done
			if r.err != nil || r.res.StatusCode != 200 {
				t.Fatalf("server's request: %v %v", r.res, r.err)
			}
		})
	}

	for _, proto := range []string{"ws", "wss"} {
		t.Run("stack client "+proto, func(t *testing.T) {
			var served atomic.Int32
			cli, _ := wsServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
				served.Add(1)
				tx.Reply(200, "")
			}), conf)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if res, err := cli.Client().Do(ctx, options(t, "sip:echo@"+addrs[proto]+";transport="+proto)); err != nil || res.StatusCode != 200 {
				t.Fatalf("client's request: %v %v", res, err)
			}
			src := <-sources
			res, err := srv.Client().Do(ctx, options(t, "sip:peer@"+src.String()+";transport="+proto))
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("server's request: %v %v", res, err)
			}
			// cli listens nowhere: the request came over the
			// WebSocket it opened.
			if served.Load() != 1 || cli.Transport.Conns() != 1 {
				t.Errorf("client served %d requests over %d connections; want 1 over its WebSocket",
					served.Load(), cli.Transport.Conns())
			}
		})
	}
}
