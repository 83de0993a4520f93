package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// ErrClosed reports a use of a closed Layer.
var ErrClosed = errors.New("transport: closed")

// Layer owns the listeners and connections of one SIP element. Set its
// fields before the first Listen; they must not change afterwards.
type Layer struct {
	// Handler receives every message that frames, with the flow it came
	// on, in the goroutine that read it. For a request the top Via has
	// already been given received and rport (§18.2.1, RFC 3581 §4).
	Handler func(m *sip.Message, src Flow)
	// IdleTimeout closes stream connections that carry nothing for this
	// long; zero means 2 minutes.
	IdleTimeout time.Duration
	// DialTimeout bounds connection set-up; zero means 5 seconds.
	DialTimeout time.Duration
	// TLSConfig is used by TLS and WSS listeners and, with ServerName set
	// per target, by outgoing TLS and WSS connections.
	TLSConfig *tls.Config
	// UDPReaders is the number of goroutines reading each UDP socket;
	// zero means 2.
	UDPReaders int
	// UDPReceiveBuffer is the receive buffer (SO_RCVBUF) asked for each
	// UDP socket, in bytes, so that bursts are queued rather than dropped
	// while the readers are busy; zero means 4 MiB. Linux grants at most
	// net.core.rmem_max (raise it with sysctl for more).
	UDPReceiveBuffer int
	// MTU decides when a UDP request is sent over TCP instead (§18.1.1:
	// within 200 bytes of the path MTU); zero means 1500.
	MTU int
	// ConnectFromListener makes outgoing TCP and TLS connections leave
	// from the address and port of the listener for their protocol, as
	// SIP phones do (baresip, Linphone), so that a peer reaches us back
	// over the same connection by the port in our Via and Contact: a
	// proxy that cannot open a connection to a phone (whose certificate
	// it does not trust, behind NAT) finds the open one. Set it before
	// Listen; listeners then share their port (SO_REUSEADDR and
	// SO_REUSEPORT) with the connections. A server leaves it off. Only
	// on Linux; elsewhere connections leave from ephemeral ports.
	ConnectFromListener bool
	// Logger receives warnings and debug records; nil discards them.
	Logger *slog.Logger

	nextID atomic.Uint64
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool                // guarded by mu
	packets   []*udpSocket        // guarded by mu
	listeners []*streamListener   // guarded by mu
	conns     map[uint64]*conn    // guarded by mu
	byRemote  map[connKey][]*conn // guarded by mu
	// dialing holds the connections being opened, so that concurrent
	// requests toward one flow share a single connection attempt.
	dialing map[connKey]*dial // guarded by mu
	routes  routeCache
}

// dial is one connection attempt in progress; c and err are set before
// done closes.
type dial struct {
	done chan struct{}
	c    *conn
	err  error
}

type connKey struct {
	proto  string
	remote netip.AddrPort
}

type udpSocket struct {
	pc    *net.UDPConn
	raw   *rawUDP // reads and writes pc (udp_linux.go)
	local netip.AddrPort
}

type streamListener struct {
	proto string
	ln    net.Listener
	local netip.AddrPort
}

func (l *Layer) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Listen opens a listener: proto is UDP, TCP, TLS, WS or WSS; addr a
// host:port ("127.0.0.1:5060", "[::1]:0"). It returns the bound address.
// A WS or WSS listener is an HTTP server that accepts, on any path, a
// WebSocket upgrade asking for the "sip" subprotocol (RFC 7118 §4.1).
func (l *Layer) Listen(proto, addr string) (netip.AddrPort, error) {
	proto = strings.ToUpper(proto)
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return netip.AddrPort{}, ErrClosed
	}
	switch proto {
	case UDP:
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("transport: listen udp %s: %w", addr, err)
		}
		pc, err := net.ListenUDP("udp", ua)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("transport: listen udp %s: %w; set another address or stop the other server", addr, err)
		}
		rb := l.UDPReceiveBuffer
		if rb <= 0 {
			rb = 4 << 20
		}
		if err := pc.SetReadBuffer(rb); err != nil {
			l.logger().Warn("transport: setting the UDP receive buffer", "addr", addr, "bytes", rb, "err", err)
		}
		raw, err := newRawUDP(pc)
		if err != nil {
			pc.Close()
			return netip.AddrPort{}, fmt.Errorf("transport: listen udp %s: %w", addr, err)
		}
		s := &udpSocket{pc: pc, raw: raw, local: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
		l.mu.Lock()
		l.packets = append(l.packets, s)
		l.mu.Unlock()
		n := l.UDPReaders
		if n <= 0 {
			n = 2
		}
		for range n {
			l.wg.Add(1)
			go l.readUDP(s)
		}
		return s.local, nil
	case TCP, TLS:
		var ln net.Listener
		var err error
		if proto == TLS {
			if l.TLSConfig == nil {
				return netip.AddrPort{}, fmt.Errorf("transport: listen tls %s: no TLS configuration", addr)
			}
			ln, err = l.listenConfig().Listen(context.Background(), "tcp", addr)
			if err == nil {
				ln = tls.NewListener(ln, l.TLSConfig)
			}
		} else {
			ln, err = l.listenConfig().Listen(context.Background(), "tcp", addr)
		}
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("transport: listen %s %s: %w; set another address or stop the other server", strings.ToLower(proto), addr, err)
		}
		s := &streamListener{proto: proto, ln: ln, local: ln.Addr().(*net.TCPAddr).AddrPort()}
		l.mu.Lock()
		l.listeners = append(l.listeners, s)
		l.mu.Unlock()
		l.wg.Add(1)
		go l.accept(s)
		return s.local, nil
	case WS, WSS:
		return l.listenWS(proto, addr)
	}
	return netip.AddrPort{}, fmt.Errorf("transport: unknown protocol %q; use UDP, TCP, TLS, WS or WSS", proto)
}

func (l *Layer) readUDP(s *udpSocket) {
	defer l.wg.Done()
	buf := make([]byte, sip.MaxMessageSize+1)
	r := s.raw.reader(buf)
	for {
		n, from, err := r.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.logger().Debug("transport: udp read", "err", err)
			continue
		}
		if n > sip.MaxMessageSize || isKeepAlive(buf[:n]) {
			continue
		}
		// Parse takes ownership: hand it a copy of the datagram.
		m, err := sip.Parse(append([]byte(nil), buf[:n]...))
		if err != nil {
			l.logger().Debug("transport: unparsable datagram", "from", from, "err", err)
			continue
		}
		l.deliver(m, Flow{Proto: UDP, Remote: unmap(from), Local: s.local})
	}
}

// isKeepAlive reports a CRLF keep-alive datagram (RFC 5626 §3.5.1 STUN
// aside): nothing but CR and LF.
func isKeepAlive(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// deliver stamps received/rport on a request (§18.2.1, RFC 3581 §4) and
// hands the message to the Handler.
func (l *Layer) deliver(m *sip.Message, src Flow) {
	if m.IsRequest() {
		stampVia(m, src.Remote)
	}
	if l.Handler != nil {
		l.Handler(m, src)
	}
}

// stampVia adds received when the top Via's sent-by is not the source
// address, and fills an empty rport with the source port.
func stampVia(m *sip.Message, from netip.AddrPort) {
	for i := range m.Headers {
		h := &m.Headers[i]
		if !h.Is("Via") {
			continue
		}
		first, rest, _ := strings.Cut(h.Value, ",")
		v, err := sip.ParseVia(first)
		if err != nil {
			return
		}
		p := v.Params
		changed := false
		if a, ok := sip.HostAddr(v.Host); !ok || a.Unmap() != from.Addr() || p.Has("rport") {
			p = p.With("received", from.Addr().String())
			changed = true
		}
		if rp, ok := p.Get("rport"); ok && rp == "" {
			p = p.With("rport", strconv.Itoa(int(from.Port())))
			changed = true
		}
		if changed {
			v.Params = p
			nv := v.String()
			if rest != "" || strings.Contains(h.Value, ",") {
				nv += "," + rest
			}
			*h = sip.NewHeader(h.Name, nv)
		}
		return
	}
}

func (l *Layer) accept(s *streamListener) {
	defer l.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.logger().Warn("transport: accept", "proto", s.proto, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l.addConn(s.proto, c)
	}
}

// conn is one stream connection, inbound or outbound.
type conn struct {
	id     uint64
	proto  string
	nc     net.Conn
	remote netip.AddrPort
	local  netip.AddrPort
	wmu    sync.Mutex // serializes writes
}

func (l *Layer) addConn(proto string, nc net.Conn) *conn {
	c := &conn{id: l.nextID.Add(1), proto: proto, nc: nc,
		remote: unmap(nc.RemoteAddr().(*net.TCPAddr).AddrPort()), local: unmap(nc.LocalAddr().(*net.TCPAddr).AddrPort())}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		nc.Close()
		return nil
	}
	if l.conns == nil {
		l.conns = make(map[uint64]*conn)
		l.byRemote = make(map[connKey][]*conn)
	}
	l.conns[c.id] = c
	k := connKey{proto, c.remote}
	l.byRemote[k] = append(l.byRemote[k], c)
	// Counted before Close can see closed and Wait.
	l.wg.Add(1)
	l.mu.Unlock()
	if w, ok := nc.(*wsConn); ok {
		go l.readWS(c, w)
	} else {
		go l.readStream(c)
	}
	return c
}

func (l *Layer) removeConn(c *conn) {
	l.mu.Lock()
	delete(l.conns, c.id)
	k := connKey{c.proto, c.remote}
	list := l.byRemote[k]
	for i, x := range list {
		if x == c {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(l.byRemote, k)
	} else {
		l.byRemote[k] = list
	}
	l.mu.Unlock()
	c.nc.Close()
}

// idleReader sets a read deadline before each read, so that a connection
// silent for the idle time is closed.
type idleReader struct {
	c    net.Conn
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(r.idle))
	return r.c.Read(p)
}

func (l *Layer) readStream(c *conn) {
	defer l.wg.Done()
	defer l.removeConn(c)
	idle := l.IdleTimeout
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	sr := sip.NewStreamReader(idleReader{c.nc, idle})
	sr.KeepAlive = func() { c.write([]byte("\r\n")) } // RFC 5626 §3.5.1 pong
	src := Flow{Proto: c.proto, Remote: c.remote, Local: c.local, Conn: c.id}
	for {
		m, err := sr.ReadMessage()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				l.logger().Debug("transport: closing stream", "flow", src, "err", err)
			}
			return
		}
		l.deliver(m, src)
	}
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// Close stops every listener and connection and waits for their goroutines.
func (l *Layer) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for _, s := range l.packets {
		s.pc.Close()
	}
	for _, s := range l.listeners {
		s.ln.Close()
	}
	for _, c := range l.conns {
		c.nc.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// Conns returns the number of open stream connections.
func (l *Layer) Conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// SendRequest implements transaction.Transport: it refuses a message that
// sip.CheckOutgoing finds would split on the wire, completes the top Via
// with the protocol and the address of the local listener it sends from,
// and sends req toward dst. Over UDP a request within 200 bytes of the MTU
// goes over TCP instead when a TCP listener exists, and back over UDP if the
// connection is refused (§18.1.1). Stream requests reuse an open connection
// to the same remote address.
func (l *Layer) SendRequest(req *sip.Message, dst Flow) (Flow, error) {
	if err := sip.CheckOutgoing(req); err != nil {
		return dst, fmt.Errorf("transport: refusing to send: %w", err)
	}
	proto := strings.ToUpper(dst.Proto)
	if proto == UDP && req.MarshalSize() > l.mtu()-200 && l.listenerFor(TCP) != nil {
		f, err := l.sendRequestOn(req, Flow{Proto: TCP, Remote: dst.Remote})
		if err == nil {
			return f, nil
		}
		l.logger().Debug("transport: TCP for a large request failed; using UDP", "dst", dst.Remote, "err", err)
	}
	dst.Proto = proto
	return l.sendRequestOn(req, dst)
}

func (l *Layer) mtu() int {
	if l.MTU > 0 {
		return l.MTU
	}
	return 1500
}

func (l *Layer) sendRequestOn(req *sip.Message, dst Flow) (Flow, error) {
	switch dst.Proto {
	case UDP:
		s := l.udpFor(dst.Remote)
		if s == nil {
			return dst, fmt.Errorf("transport: no UDP listener to send from")
		}
		local := s.local
		if local.Addr().IsUnspecified() {
			// A wildcard socket: name the interface the request leaves by.
			if a, err := l.routes.source(dst.Remote.Addr()); err == nil {
				local = netip.AddrPortFrom(a, local.Port())
			}
		}
		setSentBy(req, UDP, local)
		dst.Local = s.local
		if err := s.raw.send(req.Bytes(), dst.Remote); err != nil {
			return dst, fmt.Errorf("transport: send to %s: %w", dst, err)
		}
		return dst, nil
	case TCP, TLS, WS, WSS:
		c, err := l.connTo(dst)
		if err != nil {
			return dst, err
		}
		adv := c.local
		if s := l.listenerFor(dst.Proto); s != nil {
			adv = netip.AddrPortFrom(c.local.Addr(), s.local.Port())
		}
		setSentBy(req, dst.Proto, adv)
		dst.Local, dst.Conn = c.local, c.id
		if err := c.write(req.Bytes()); err != nil {
			l.removeConn(c)
			return dst, fmt.Errorf("transport: send to %s: %w", dst, err)
		}
		return dst, nil
	}
	return dst, fmt.Errorf("transport: cannot send over %q", dst.Proto)
}

// setSentBy rewrites the top Via's sent-protocol and sent-by, keeping its
// parameters (the branch) (§18.1.1).
func setSentBy(req *sip.Message, proto string, local netip.AddrPort) {
	for i := range req.Headers {
		h := &req.Headers[i]
		if !h.Is("Via") {
			continue
		}
		first, rest, hasRest := strings.Cut(h.Value, ",")
		v, err := sip.ParseVia(first)
		if err != nil {
			return
		}
		v.Transport = proto
		v.Host = hostString(local.Addr())
		v.Port = int(local.Port())
		nv := v.String()
		if hasRest {
			nv += "," + rest
		}
		if nv != h.Value {
			// Only the first send writes: retransmissions, which may
			// overlap, find the Via complete and only read.
			*h = sip.NewHeader(h.Name, nv)
		}
		return
	}
}

func hostString(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]"
	}
	return a.Unmap().String()
}

func (l *Layer) udpFor(remote netip.AddrPort) *udpSocket {
	l.mu.Lock()
	defer l.mu.Unlock()
	var any *udpSocket
	for _, s := range l.packets {
		if s.local.Addr().Is4() == remote.Addr().Is4() || s.local.Addr().IsUnspecified() {
			return s
		}
		any = s
	}
	return any
}

func (l *Layer) listenerFor(proto string) *streamListener {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.listeners {
		if s.proto == proto {
			return s
		}
	}
	return nil
}

// connTo returns the connection dst names (dst.Conn), any open one to
// dst.Remote, or a new one.
func (l *Layer) connTo(dst Flow) (*conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if c, ok := l.conns[dst.Conn]; ok && dst.Conn != 0 {
		l.mu.Unlock()
		return c, nil
	}
	k := connKey{dst.Proto, dst.Remote}
	if list := l.byRemote[k]; len(list) > 0 {
		c := list[len(list)-1]
		l.mu.Unlock()
		return c, nil
	}
	// One attempt per flow at a time: later callers wait for its result
	// rather than open connections of their own.
	if d, ok := l.dialing[k]; ok {
		l.mu.Unlock()
		<-d.done
		return d.c, d.err
	}
	d := &dial{done: make(chan struct{})}
	if l.dialing == nil {
		l.dialing = make(map[connKey]*dial)
	}
	l.dialing[k] = d
	l.mu.Unlock()

	d.c, d.err = l.open(dst)
	l.mu.Lock()
	delete(l.dialing, k)
	l.mu.Unlock()
	close(d.done)
	return d.c, d.err
}

// open dials a new connection toward dst and registers it.
func (l *Layer) open(dst Flow) (*conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.dialTimeout())
	defer cancel()
	var nc net.Conn
	var err error
	if dst.Proto == WS || dst.Proto == WSS {
		nc, err = l.dialWS(ctx, dst)
	} else if dst.Proto == TLS {
		d := tls.Dialer{NetDialer: l.dialer(dst), Config: l.clientTLS(dst)}
		nc, err = d.DialContext(ctx, "tcp", dst.Remote.String())
	} else {
		nc, err = l.dialer(dst).DialContext(ctx, "tcp", dst.Remote.String())
	}
	if err != nil && l.ConnectFromListener && dst.Proto != WS && dst.Proto != WSS &&
		(errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL)) {
		// The listener's port could not be shared (another system, or
		// a connection to the same peer from it already): any port.
		l.logger().Debug("transport: connecting from the listener's port failed; using another", "dst", dst, "err", err)
		if dst.Proto == TLS {
			d := tls.Dialer{Config: l.clientTLS(dst)}
			nc, err = d.DialContext(ctx, "tcp", dst.Remote.String())
		} else {
			var d net.Dialer
			nc, err = d.DialContext(ctx, "tcp", dst.Remote.String())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("transport: connect to %s: %w", dst, err)
	}
	c := l.addConn(dst.Proto, nc)
	if c == nil {
		return nil, ErrClosed
	}
	return c, nil
}

// listenConfig is how stream listeners are opened: with shared ports
// when ConnectFromListener is set.
func (l *Layer) listenConfig() *net.ListenConfig {
	if !l.ConnectFromListener {
		return &net.ListenConfig{}
	}
	return &net.ListenConfig{Control: reusePort}
}

// dialer is how a connection toward dst is opened: from the listener's
// address and port when ConnectFromListener is set and there is one.
func (l *Layer) dialer(dst Flow) *net.Dialer {
	d := &net.Dialer{}
	if !l.ConnectFromListener || !canSharePort {
		return d
	}
	proto := dst.Proto
	if proto == WSS {
		proto = TLS
	}
	if s := l.listenerFor(proto); s != nil {
		d.LocalAddr = net.TCPAddrFromAddrPort(s.local)
		d.Control = reusePort
	}
	return d
}

// clientTLS returns the configuration of an outgoing TLS or WSS connection
// toward dst: TLSConfig's, with the name to verify set to dst.Name (RFC 5922
// §7.2) or, without one, to the address (which only a certificate with that
// IP address in its subjectAltName passes).
func (l *Layer) clientTLS(dst Flow) *tls.Config {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if l.TLSConfig != nil {
		conf = l.TLSConfig.Clone()
	}
	conf.ServerName = dst.Name
	if conf.ServerName == "" {
		conf.ServerName = dst.Remote.Addr().Unmap().WithZone("").String()
	}
	return conf
}

// Wire is a response as the transport sent it: its bytes and where they
// went. A server transaction keeps it to retransmit the response (RFC 3261
// §17.2.1, §17.2.2) without keeping the message it was built from.
type Wire struct {
	Bytes []byte
	// To is where Bytes went. Over UDP: the destination address and the
	// local socket. Over a stream: the connection (Conn), and in Remote the
	// address to connect to should that connection be gone (§18.2.2).
	To Flow
}

// SendResponse sends res back toward the source of its request (see
// SendResponseWire) and reports only the error.
func (l *Layer) SendResponse(res *sip.Message, src Flow) error {
	_, err := l.SendResponseWire(res, src)
	return err
}

// SendResponseWire implements transaction.Transport (refusing what
// sip.CheckOutgoing rejects) with the rules of RFC 3261
// §18.2.2 and RFC 3581 §4: over a stream, on the connection the request came
// in on, or a new one to the source address and sent-by port; over UDP, to
// the maddr address at the sent-by port when the Via has one (an IP
// address; a host name there is ignored), else the source address and the
// rport, or the sent-by port, from the socket the request arrived on.
// It returns what it sent, for Resend.
func (l *Layer) SendResponseWire(res *sip.Message, src Flow) (Wire, error) {
	if err := sip.CheckOutgoing(res); err != nil {
		return Wire{}, fmt.Errorf("transport: refusing to send: %w", err)
	}
	v, err := res.Via()
	if err != nil {
		return Wire{}, fmt.Errorf("transport: response without Via: %w", err)
	}
	port := uint16(5060)
	if v.Port != 0 {
		port = uint16(v.Port)
	}
	to := src
	to.Remote = netip.AddrPortFrom(src.Remote.Addr(), port)
	if !src.Reliable() {
		to.Conn = 0
		if maddr, ok := sip.HostAddr(v.Params.Value("maddr")); ok {
			// §18.2.2: to maddr at the sent-by port (before received and
			// rport). A multicast group gets the socket's default TTL.
			to.Remote = netip.AddrPortFrom(maddr.Unmap(), port)
		} else if rp := v.Params.Value("rport"); rp != "" {
			if n, err := strconv.ParseUint(rp, 10, 16); err == nil {
				to.Remote = netip.AddrPortFrom(src.Remote.Addr(), uint16(n))
			}
		}
	}
	w := Wire{Bytes: res.Bytes(), To: to}
	return w, l.Resend(w)
}

// Resend sends w.Bytes to w.To, as SendResponseWire did: over a stream on
// the same connection, or when it has closed on a new one to w.To.Remote
// (never for a WebSocket, RFC 7118 §5.3); over UDP from the same socket.
func (l *Layer) Resend(w Wire) error {
	to := w.To
	if to.Reliable() {
		l.mu.Lock()
		c := l.conns[to.Conn]
		l.mu.Unlock()
		if c == nil {
			if to.Proto == WS || to.Proto == WSS {
				// RFC 7118 §5.3: responses go back only over the
				// WebSocket the request came on; a browser cannot be
				// connected to.
				return fmt.Errorf("transport: the WebSocket of %s is closed; the response is lost", to)
			}
			var err error
			if c, err = l.connTo(Flow{Proto: to.Proto, Remote: to.Remote}); err != nil {
				return err
			}
		}
		if err := c.write(w.Bytes); err != nil {
			l.removeConn(c)
			return fmt.Errorf("transport: send response to %s: %w", to, err)
		}
		return nil
	}
	s := l.udpFrom(to.Local)
	if s == nil {
		return fmt.Errorf("transport: no UDP socket for %s", to.Local)
	}
	if err := s.raw.send(w.Bytes, to.Remote); err != nil {
		return fmt.Errorf("transport: send response to %s: %w", to.Remote, err)
	}
	return nil
}

func (l *Layer) udpFrom(local netip.AddrPort) *udpSocket {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.packets {
		if s.local == local {
			return s
		}
	}
	if len(l.packets) > 0 {
		return l.packets[0]
	}
	return nil
}
