package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/switchboard-sip/switchboard/sip"
)

// WebSocket transport (RFC 7118). A WS or WSS listener is an HTTP server
// that upgrades any path to a WebSocket when the client asks for the "sip"
// subprotocol; each WebSocket, accepted or dialled, is a stream connection
// of the Layer like a TCP one (conns, byRemote, connection reuse, responses
// on the connection the request came in on), except that every WebSocket
// message carries exactly one SIP message (RFC 7118 §5), so there is no
// Content-Length framing across messages.

// wsSubprotocol is the WebSocket subprotocol of SIP (RFC 7118 §4.1, §9).
const wsSubprotocol = "sip"

// wsCloseTimeout bounds the WebSocket closing handshake (RFC 6455 §7):
// after it the TCP connection is closed whether the peer answered or not.
const wsCloseTimeout = time.Second

// rawConnKey keys the accepted net.Conn in the context of an HTTP request.
type rawConnKey struct{}

// wsListener is the HTTP server of one WS or WSS listener, closed through
// streamListener.ln by Layer.Close.
type wsListener struct {
	net.Listener // the TCP listener, for Addr
	srv          *http.Server

	mu     sync.Mutex
	closed bool // guarded by mu
}

// Close stops the HTTP server: its listener and the connections not yet
// upgraded. Upgraded WebSockets are the Layer's and are closed with it.
func (w *wsListener) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return w.srv.Close()
}

func (w *wsListener) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// listenWS opens a WS or WSS listener (Listen).
func (l *Layer) listenWS(proto, addr string) (netip.AddrPort, error) {
	var conf *tls.Config
	if proto == WSS {
		if l.TLSConfig == nil {
			return netip.AddrPort{}, fmt.Errorf("transport: listen wss %s: no TLS configuration; set Layer.TLSConfig", addr)
		}
		conf = l.TLSConfig.Clone()
		conf.NextProtos = []string{"http/1.1"} // a WebSocket handshake is HTTP/1.1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("transport: listen %s %s: %w; set another address or stop the other server", strings.ToLower(proto), addr, err)
	}
	wl := &wsListener{Listener: ln}
	wl.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.serveWS(proto, w, r) }),
		ReadHeaderTimeout: l.dialTimeout(),
		IdleTimeout:       l.idleTimeout(),
		MaxHeaderBytes:    sip.MaxMessageSize,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // no HTTP/2
		ErrorLog:          slog.NewLogLogger(l.logger().Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, rawConnKey{}, c)
		},
		// Every HTTP connection counts in l.wg from StateNew (reported
		// by the Serve goroutine, which holds a count itself) until
		// StateClosed, or, once hijacked by a WebSocket upgrade, until
		// serveWS has handed the WebSocket to the Layer.
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				l.wg.Add(1)
				if wl.isClosed() {
					// Accepted as the listener closed, perhaps too
					// late for http.Server.Close to see it.
					c.Close()
				}
			case http.StateClosed:
				l.wg.Done()
			}
		},
	}
	var serveLn net.Listener = ln
	if conf != nil {
		serveLn = tls.NewListener(ln, conf)
	}
	s := &streamListener{proto: proto, ln: wl, local: ln.Addr().(*net.TCPAddr).AddrPort()}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		ln.Close()
		return netip.AddrPort{}, ErrClosed
	}
	l.listeners = append(l.listeners, s)
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		if err := wl.srv.Serve(serveLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.logger().Warn("transport: websocket listener stopped", "proto", proto, "local", s.local, "err", err)
		}
	}()
	return s.local, nil
}

func (l *Layer) idleTimeout() time.Duration {
	if l.IdleTimeout > 0 {
		return l.IdleTimeout
	}
	return 2 * time.Minute
}

func (l *Layer) dialTimeout() time.Duration {
	if l.DialTimeout > 0 {
		return l.DialTimeout
	}
	return 5 * time.Second
}

// serveWS upgrades one HTTP request to a SIP WebSocket.
func (l *Layer) serveWS(proto string, w http.ResponseWriter, r *http.Request) {
	// RFC 7118 §4.1: the client MUST ask for "sip", and the 101 MUST
	// name it; a handshake without it is refused.
	if !offersSIP(r.Header) {
		l.logger().Debug("transport: websocket handshake without the sip subprotocol", "from", r.RemoteAddr)
		http.Error(w, `transport: SIP over WebSocket needs the subprotocol "sip" (RFC 7118 §4.1)`, http.StatusBadRequest)
		return
	}
	raw, _ := r.Context().Value(rawConnKey{}).(net.Conn)
	if raw == nil {
		http.Error(w, "transport: no connection", http.StatusInternalServerError)
		return
	}
	wc := &wsConn{raw: raw, wg: &l.wg}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{wsSubprotocol},
		OnPingReceived: wc.onPing,
		// SIP authenticates requests itself (digest, RFC 3261 §22);
		// Origin checks protect cookie-authenticated sites, and web
		// phones are served from origins of their own.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has answered; the connection was not hijacked.
		l.logger().Debug("transport: websocket handshake", "from", r.RemoteAddr, "err", err)
		return
	}
	// Accept succeeds only after hijacking the connection, which
	// http.Server then forgets: its count in l.wg (ConnState) ends here,
	// once the WebSocket has a reader of its own or has been closed.
	defer l.wg.Done()
	ws.SetReadLimit(sip.MaxMessageSize)
	wc.ws = ws
	l.addConn(proto, wc)
}

// offersSIP reports whether a handshake lists the sip subprotocol.
func offersSIP(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), wsSubprotocol) {
				return true
			}
		}
	}
	return false
}

// dialWS opens a WebSocket to dst: ws://ip:port/ or, for WSS, wss://
// verified with a clone of l.TLSConfig, asking for the sip subprotocol
// (RFC 7118 §4.1). It returns the WebSocket as a net.Conn for addConn.
func (l *Layer) dialWS(ctx context.Context, dst Flow) (net.Conn, error) {
	var (
		mu  sync.Mutex
		raw net.Conn // guarded by mu
	)
	tr := &http.Transport{
		// No proxy from the environment: dst is where SIP goes.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				raw = c
				mu.Unlock()
			}
			return c, err
		},
		TLSHandshakeTimeout: l.dialTimeout(),
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	scheme := "ws"
	if dst.Proto == WSS {
		conf := l.clientTLS(dst)
		conf.NextProtos = []string{"http/1.1"}
		tr.TLSClientConfig = conf
		scheme = "wss"
	}
	hc := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	url := scheme + "://" + dst.Remote.String() + "/"
	wc := &wsConn{wg: &l.wg}
	host := ""
	if dst.Name != "" {
		host = net.JoinHostPort(dst.Name, strconv.Itoa(int(dst.Remote.Port())))
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Host:           host,
		HTTPClient:     hc,
		Subprotocols:   []string{wsSubprotocol},
		OnPingReceived: wc.onPing,
	})
	if err != nil {
		return nil, fmt.Errorf("transport: connect to %s (%s): %w", dst, url, err)
	}
	mu.Lock()
	c := raw
	mu.Unlock()
	if !strings.EqualFold(ws.Subprotocol(), wsSubprotocol) {
		ws.CloseNow()
		return nil, fmt.Errorf("transport: connect to %s: the server did not accept the sip subprotocol (RFC 7118 §4.1)", dst)
	}
	if c == nil {
		ws.CloseNow()
		return nil, fmt.Errorf("transport: connect to %s: no connection", dst)
	}
	ws.SetReadLimit(sip.MaxMessageSize)
	wc.ws, wc.raw = ws, c
	return wc, nil
}

// wsConn presents a WebSocket as the net.Conn of a Layer conn: a Write is
// one WebSocket message; reading is readWS's, message by message; Close
// starts the closing handshake.
type wsConn struct {
	ws  *websocket.Conn
	raw net.Conn // the connection beneath: addresses, and a hard close
	wg  *sync.WaitGroup

	reading   atomic.Bool // readWS runs, holding a count in wg
	closeOnce sync.Once

	// The idle timer and its duration, set by readWS before reading
	// starts; reset after each message and, for a ping, by onPing from
	// within the reading of ws (readWS's or a closing handshake's, never
	// both at once).
	idle    *time.Timer
	idleFor time.Duration

	mu       sync.Mutex
	deadline time.Time // write deadline; guarded by mu
}

// Write sends b, one SIP message, as one WebSocket message (RFC 7118 §5):
// a text message, or a binary one when b is not UTF-8 (§4.2).
func (w *wsConn) Write(b []byte) (int, error) {
	w.mu.Lock()
	d := w.deadline
	w.mu.Unlock()
	ctx := context.Background()
	if !d.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	typ := websocket.MessageText
	if !utf8.Valid(b) {
		typ = websocket.MessageBinary
	}
	if err := w.ws.Write(ctx, typ, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// onPing is called from within ws.Read for each WebSocket ping, a
// keep-alive (RFC 7118 §6): it keeps the connection from idling out, and
// the pong is sent.
func (w *wsConn) onPing(context.Context, []byte) bool {
	if w.idle != nil {
		w.idle.Reset(w.idleFor)
	}
	return true
}

// Read is not used: readWS reads whole messages from ws.
func (w *wsConn) Read([]byte) (int, error) {
	return 0, errors.New("transport: a WebSocket is read message by message")
}

// Close starts the closing handshake with 1001 (going away) without
// waiting for it.
func (w *wsConn) Close() error {
	w.closeWith(websocket.StatusGoingAway, "")
	return nil
}

// closeWith closes the WebSocket once. Once readWS runs, the close is a
// goroutine counted in the Layer's WaitGroup: it sends a close frame, waits
// up to wsCloseTimeout for the peer's, then closes the connection. The count
// is added while readWS still holds its own (readWS's last act is to call
// Close; later calls are no-ops), so Close never races Wait. Before readWS
// runs (a Layer closed as the connection was set up), the close is
// immediate and without a handshake.
func (w *wsConn) closeWith(code websocket.StatusCode, reason string) {
	w.closeOnce.Do(func() {
		if !w.reading.Load() {
			w.ws.CloseNow()
			w.raw.Close()
			return
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			t := time.AfterFunc(wsCloseTimeout, func() { w.raw.Close() })
			defer t.Stop()
			w.ws.Close(code, reason)
			w.raw.Close()
		}()
	})
}

func (w *wsConn) LocalAddr() net.Addr             { return w.raw.LocalAddr() }
func (w *wsConn) RemoteAddr() net.Addr            { return w.raw.RemoteAddr() }
func (w *wsConn) SetDeadline(t time.Time) error   { return w.SetWriteDeadline(t) }
func (w *wsConn) SetReadDeadline(time.Time) error { return nil }
func (w *wsConn) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	w.deadline = t
	w.mu.Unlock()
	return nil
}

// readWS is the reader goroutine of a WebSocket connection: each message,
// text or binary (RFC 7118 §4.2), is one SIP message (§5), parsed as a
// datagram is, so that a message without Content-Length has the rest of
// the WebSocket message as its body. A connection without any message or
// keep-alive (a WebSocket ping, or a CRLFCRLF ping answered with CRLF:
// RFC 7118 §6, RFC 5626 §3.5.1) for the idle time is closed.
func (l *Layer) readWS(c *conn, w *wsConn) {
	defer l.wg.Done()
	defer l.removeConn(c)
	idle := l.idleTimeout()
	timer := time.AfterFunc(idle, func() { w.closeWith(websocket.StatusNormalClosure, "idle") })
	defer timer.Stop()
	w.idle, w.idleFor = timer, idle
	w.reading.Store(true) // after idle: a closing handshake may call onPing
	src := Flow{Proto: c.proto, Remote: c.remote, Local: c.local, Conn: c.id}
	for {
		_, b, err := w.ws.Read(context.Background())
		if err != nil {
			switch websocket.CloseStatus(err) {
			case websocket.StatusNormalClosure, websocket.StatusGoingAway:
			default:
				if !errors.Is(err, net.ErrClosed) {
					l.logger().Debug("transport: closing websocket", "flow", src, "err", err)
				}
			}
			return
		}
		timer.Reset(idle)
		if isKeepAlive(b) {
			if bytes.Contains(b, []byte("\r\n\r\n")) {
				c.write([]byte("\r\n")) // RFC 5626 §3.5.1 pong
			}
			continue
		}
		// Read returns a slice of its own (io.ReadAll): Parse may keep it.
		m, err := sip.Parse(b)
		if err != nil {
			l.logger().Debug("transport: unparsable websocket message", "flow", src, "err", err)
			continue
		}
		l.deliver(m, src)
	}
}
