package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-sip/switchboard/sip"
)

// wsTestTLS returns a TLS configuration with a self-signed certificate for
// 127.0.0.1 that also trusts it, usable by both ends.
func wsTestTLS(t *testing.T) *tls.Config {
	t.Helper()
	return testTLS(t, nil, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// testTLS returns a TLS configuration with a self-signed certificate for
// the given names and addresses that also trusts it, usable by both ends.
func testTLS(t *testing.T, names []string, ips []net.IP) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard ws test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           ips,
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

// wsEcho returns a Layer listening on proto that answers every request
// with 200 and reports the requests on the returned channel.
func wsEcho(t *testing.T, proto string, conf *tls.Config) (*Layer, string, <-chan *sip.Message) {
	t.Helper()
	got := make(chan *sip.Message, 16)
	l := &Layer{TLSConfig: conf}
	l.Handler = func(m *sip.Message, src Flow) {
		if !m.IsRequest() {
			return
		}
		got <- m
		if src.Proto != proto || src.Conn == 0 {
			t.Errorf("request came on flow %+v; want %s with a connection", src, proto)
		}
		if err := l.SendResponse(sip.NewResponse(m, 200, ""), src); err != nil {
			t.Errorf("SendResponse: %v", err)
		}
	}
	a, err := l.Listen(proto, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, a.String(), got
}

func wsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wsOptions is an OPTIONS as a web phone sends it (RFC 7118 §8.1): an
// invalid domain in sent-by and no Content-Length.
const wsOptions = "OPTIONS sip:echo@127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: <sip:echo@127.0.0.1>\r\n" +
	"From: <sip:alice@example.invalid>;tag=hjs7s4\r\n" +
	"Call-ID: ws-options-1\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"\r\n"

// TestWSHandshakeNeedsSIP: RFC 7118 §4.1 — a handshake that does not ask
// for the sip subprotocol is refused with 400; one that does gets "sip"
// back in the 101.
func TestWSHandshakeNeedsSIP(t *testing.T) {
	l, addr, _ := wsEcho(t, WS, nil)
	ctx := wsCtx(t)
	c, res, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	if err == nil {
		c.CloseNow()
		t.Fatal("handshake without a subprotocol was accepted")
	}
	if res == nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("handshake without a subprotocol: %v, response %v; want 400", err, res)
	}
	c, res, err = websocket.Dial(ctx, "ws://"+addr+"/", &websocket.DialOptions{Subprotocols: []string{"chat"}})
	if err == nil {
		c.CloseNow()
		t.Fatal("handshake with another subprotocol was accepted")
	}
	if res == nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("handshake with subprotocol chat: %v, response %v; want 400", err, res)
	}
	// Any path will do.
	c, res, err = websocket.Dial(ctx, "ws://"+addr+"/any/path", &websocket.DialOptions{Subprotocols: []string{"chat", "sip"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != "sip" || res.Header.Get("Sec-WebSocket-Protocol") != "sip" {
		t.Errorf("101 names subprotocol %q; want sip", res.Header.Get("Sec-WebSocket-Protocol"))
	}
	// The Layer registers the WebSocket just after the 101: a round
	// trip makes sure it has.
	if err := c.Write(ctx, websocket.MessageText, []byte(wsOptions)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if n := l.Conns(); n != 1 {
		t.Errorf("%d connections; want 1 (the refused handshakes are none)", n)
	}
}

// TestWSOptions: a WebSocket client sends OPTIONS in one text message and
// gets one WebSocket message back that parses as the 200, with the Via as
// sent plus received and rport. A binary message is accepted as well
// (RFC 7118 §4.2), and a body without Content-Length runs to the end of the
// WebSocket message (§5).
func TestWSOptions(t *testing.T) {
	for _, proto := range []string{WS, WSS} {
		t.Run(proto, func(t *testing.T) {
			var conf *tls.Config
			opts := &websocket.DialOptions{Subprotocols: []string{"sip"}}
			scheme := "ws"
			if proto == WSS {
				conf = wsTestTLS(t)
				opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
				scheme = "wss"
			}
			_, addr, got := wsEcho(t, proto, conf)
			ctx := wsCtx(t)
			c, _, err := websocket.Dial(ctx, scheme+"://"+addr+"/", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()

			if err := c.Write(ctx, websocket.MessageText, []byte(wsOptions)); err != nil {
				t.Fatal(err)
			}
			typ, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if typ != websocket.MessageText {
				t.Errorf("response came as %v; want a text message", typ)
			}
			res, err := sip.Parse(b)
			if err != nil {
				t.Fatalf("response does not parse: %v\n%s", err, b)
			}
			if res.StatusCode != 200 || res.CallID() != "ws-options-1" {
				t.Errorf("response:\n%s", b)
			}
			v, err := res.Via()
			if err != nil || v.Transport != "WS" || v.Host != "df7jal23ls0d.invalid" || v.Params.Value("received") != "127.0.0.1" {
				t.Errorf("response Via %v (%v); want the client's with received", v, err)
			}
			<-got

			// Binary, with a body and no Content-Length.
			msg := strings.Replace(wsOptions, "CSeq: 1", "CSeq: 2", 1) + "v=0\r\n"
			msg = strings.Replace(msg, "Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nContent-Type: application/sdp\r\n", 1)
			if err := c.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, b, err = c.Read(ctx); err != nil {
				t.Fatal(err)
			}
			if res, err := sip.Parse(b); err != nil || res.StatusCode != 200 {
				t.Errorf("binary request: %v\n%s", err, b)
			}
			if req := <-got; string(req.Body) != "v=0\r\n" {
				t.Errorf("server saw body %q; want the rest of the WebSocket message", req.Body)
			}
		})
	}
}

// TestWSLayerToLayer: SendRequest over WS and WSS dials ws:// or wss://
// with the sip subprotocol, sets the Via transport, and reuses the
// connection for the next request; the response comes back on it.
func TestWSLayerToLayer(t *testing.T) {
	for _, proto := range []string{WS, WSS} {
		t.Run(proto, func(t *testing.T) {
			var conf *tls.Config
			if proto == WSS {
				conf = wsTestTLS(t)
			}
			srv, addr, got := wsEcho(t, proto, conf)
			responses := make(chan *sip.Message, 4)
			cli := &Layer{TLSConfig: conf, Handler: func(m *sip.Message, src Flow) {
				if !m.IsRequest() {
					responses <- m
				}
			}}
			defer cli.Close()
			dst := Flow{Proto: strings.ToLower(proto), Remote: netip.MustParseAddrPort(addr)}
			var conns []uint64
			for i := range 2 {
				req := wsRequest(t, "sip:echo@"+addr+";transport=ws")
				f, err := cli.SendRequest(req, dst)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, f.Conn)
				select {
				case res := <-responses:
					if res.StatusCode != 200 || res.CallID() != req.CallID() {
						t.Errorf("response %d:\n%s", i, res)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no response")
				}
				v, _ := (<-got).Via()
				if v.Transport != proto || v.Params.Value("received") != "127.0.0.1" {
					t.Errorf("server saw Via %s; want %s", v, proto)
				}
			}
			if conns[0] == 0 || conns[0] != conns[1] || cli.Conns() != 1 || srv.Conns() != 1 {
				t.Errorf("connections %v, client %d, server %d; want one reused", conns, cli.Conns(), srv.Conns())
			}
		})
	}
}

func wsRequest(t *testing.T, target string) *sip.Message {
	t.Helper()
	u, err := sip.ParseURI(target)
	if err != nil {
		t.Fatal(err)
	}
	from, _ := sip.ParseAddress("<sip:tester@127.0.0.1>;tag=" + sip.NewTag())
	req := sip.NewRequest("OPTIONS", u, from, sip.Address{URI: u}, sip.NewCallID(), 1)
	req.Prepend("Via", "SIP/2.0/WS invalid;branch="+sip.NewBranch()+";rport")
	return req
}

// TestWSIdleTimeout: a WebSocket that carries no message for IdleTimeout is
// closed with a close frame.
func TestWSIdleTimeout(t *testing.T) {
	l := &Layer{IdleTimeout: 100 * time.Millisecond}
	a, err := l.Listen("ws", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := wsCtx(t)
	c, _, err := websocket.Dial(ctx, "ws://"+a.String()+"/", &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("read: %v; want the server to close for idleness", err)
	}
}

// TestWSKeepAlive: WebSocket pings keep a connection past IdleTimeout
// (RFC 7118 §6), and a CRLFCRLF message gets a CRLF pong (RFC 5626 §3.5.1).
func TestWSKeepAlive(t *testing.T) {
	const idle = 200 * time.Millisecond
	l := &Layer{IdleTimeout: idle}
	a, err := l.Listen("ws", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := wsCtx(t)
	c, _, err := websocket.Dial(ctx, "ws://"+a.String()+"/", &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()

	if err := c.Write(ctx, websocket.MessageText, []byte("\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "\r\n" {
		t.Fatalf("CRLFCRLF ping: %q %v; want a CRLF pong", b, err)
	}

	// Pings for three idle periods; a pong needs a reader.
	closed := c.CloseRead(ctx)
	tick := time.NewTicker(idle / 4)
	defer tick.Stop()
	for deadline := time.Now().Add(3 * idle); time.Now().Before(deadline); <-tick.C {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping after %v: %v; want the connection kept alive", 3*idle-time.Until(deadline), err)
		}
	}
	// Then silence: the server closes.
	select {
	case <-closed.Done():
	case <-ctx.Done():
		t.Fatal("connection still open after pings stopped")
	}
}

// TestWSClose: Layer.Close closes the listener and the WebSockets (with
// 1001, going away) and waits for their goroutines; handshakes that race
// it end cleanly.
func TestWSClose(t *testing.T) {
	l, addr, _ := wsEcho(t, WS, nil)
	ctx := wsCtx(t)
	opts := &websocket.DialOptions{Subprotocols: []string{"sip"}}
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// A round trip makes sure the Layer has registered the WebSocket.
	if err := c.Write(ctx, websocket.MessageText, []byte(wsOptions)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() { _, _, err := c.Read(ctx); readErr <- err }()
	// Handshakes in flight while the Layer closes.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if c, _, err := websocket.Dial(ctx, "ws://"+addr+"/", opts); err == nil {
				c.CloseNow()
			}
		})
	}
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	wg.Wait()
	if err := <-readErr; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("client read: %v; want close 1001", err)
	}
	if n := l.Conns(); n != 0 {
		t.Errorf("%d connections after Close", n)
	}
	if _, err := l.Listen("ws", "127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Close: %v", err)
	}
}
