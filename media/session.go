package media

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/srtp/v3"
)

// Timing constants of a Session.
const (
	frameDuration       = 20 * time.Millisecond // FrameSamples at SampleRate
	defaultJitterDelay  = 60 * time.Millisecond
	maxJitterDelay      = time.Second
	defaultRTCPInterval = 5 * time.Second // RFC 3550 §6.2 minimum interval
	maxCatchUp          = 5               // frames a late clock tick may catch up; more are skipped
)

// SRTPKeyLen is the length of an SRTP master key and salt together for
// AES_CM_128_HMAC_SHA1_80: the decoded inline key of RFC 4568 §6.1
// (16-byte key followed by a 14-byte salt).
const SRTPKeyLen = 30

// ErrClosed is returned by the methods of a Session that has been closed.
var ErrClosed = errors.New("media: session closed")

// Config describes one RTP audio stream for Start. The zero value of each
// optional field has the documented default.
type Config struct {
	// Conn is the RTP socket, bound by the caller (see ListenPair). The
	// Session owns it from a successful Start on and closes it on Close.
	Conn *net.UDPConn
	// RTCPConn is the RTCP socket (conventionally the RTP port + 1, RFC 3550
	// §11), or nil for no RTCP. Owned and closed like Conn.
	RTCPConn *net.UDPConn
	// Remote is where RTP is sent (from the peer's SDP). The zero value means
	// do not send until media arrives, then send to its source.
	Remote netip.AddrPort
	// RemoteRTCP is where RTCP is sent; the zero value means Remote's
	// address with port + 1 (RFC 3550 §11).
	RemoteRTCP netip.AddrPort
	// Codec is the audio codec for both directions: PCMU or PCMA.
	Codec Codec
	// DTMFType is the RTP payload type negotiated for telephone-event
	// (RFC 4733), or 0 for none (0 is never a dynamic payload type). It must
	// differ from the codec's payload type.
	DTMFType uint8
	// SendKey and RecvKey are the SRTP AES_CM_128_HMAC_SHA1_80 master key and
	// salt (SRTPKeyLen bytes each, the decoded RFC 4568 inline key) for what
	// we send and what we receive. Both nil means plain RTP; with keys, RTCP
	// is SRTCP too (RFC 3711 §3.4).
	SendKey, RecvKey []byte
	// Source gives the audio to send; nil sends silence. It is called from
	// the media clock goroutine and must not call Close.
	Source Source
	// Sink takes the audio played out; nil discards it. Once media has
	// started arriving it is called every 20 ms of playout time with one
	// frame; missing packets are concealed (the last frame repeated and
	// faded, then silence). It is called from the media clock goroutine and
	// must not call Close.
	Sink Sink
	// OnDTMF is called once per RFC 4733 event received (digits 0-9 * # A-D),
	// from a Session goroutine, without any lock held. It must not block for
	// long, and may call the Session's methods except Close.
	OnDTMF func(digit rune)
	// JitterDelay is the fixed depth of the jitter buffer: playout starts this
	// long after the first packet arrives. Zero means 60 ms; at most 1 s.
	JitterDelay time.Duration
	// RTCPInterval is the mean interval between RTCP reports; the first is
	// sent after about a fifth of it and each later one after 0.5 to 1.5
	// times it (RFC 3550 §6.2). Zero means 5 s.
	RTCPInterval time.Duration
	// CNAME is the RTCP SDES canonical name; empty means a random one
	// (RFC 7022 §4.2).
	CNAME string
	// Logger receives debug records (source latching, dropped packets);
	// nil discards them.
	Logger *slog.Logger
}

// Session is one RTP audio stream (RFC 3550) with its RTCP: it sends a
// frame every 20 ms from its Source, receives, de-jitters and plays out to
// its Sink, sends and receives RFC 4733 DTMF, and keeps the statistics of
// Stats. Its methods are safe for concurrent use.
//
// A Session runs three goroutines (the media clock, the RTP reader and,
// with RTCP, the RTCP reader); Close stops them all.
type Session struct {
	// Read-only after Start.
	codec        Codec
	dtmfPT       uint8
	jitterDelay  time.Duration
	rtcpInterval time.Duration
	source       Source
	sink         Sink
	onDTMF       func(rune)
	log          *slog.Logger
	conn         *net.UDPConn
	rtcpConn     *net.UDPConn
	ssrc         uint32
	cname        string
	secure       bool
	epoch        time.Time     // origin of arrival times in timestamp units (RFC 3550 A.8)
	stop         chan struct{} // closed by Close to stop the goroutines
	clockExited  chan struct{} // closed when runClock returns; nil when not started (set before it starts)
	wg           sync.WaitGroup
	closeOnce    sync.Once
	closeErr     error // set inside closeOnce

	// mu guards the destination, the sending direction and the DTMF queue.
	mu          sync.Mutex
	remote      netip.AddrPort // RTP destination; zero = unknown
	remoteRTCP  netip.AddrPort // RTCP destination; zero = none
	rtcpDerived bool           // remoteRTCP is remote's port + 1, follows it
	sendOn      bool
	closed      bool
	dtmfQueue   []byte        // digits queued and not finished, the current one first
	dtmfIdle    chan struct{} // closed when dtmfQueue becomes empty
	dtmfSent    []byte        // digits whose first event packet went out

	// txMu guards tx: the sending half, used by the media clock.
	txMu sync.Mutex
	tx   sender

	// rxMu guards rx: receive statistics and the jitter buffer, shared by
	// the RTP reader, the media clock and Stats.
	rxMu sync.Mutex
	rx   receiver

	// srcPCM is the frame read from the Source; only the caller of sendFrame
	// (the media clock) touches it.
	srcPCM [FrameSamples]int16
	// playPCM is the frame given to the Sink; only the caller of playout
	// (the media clock) touches it.
	playPCM [FrameSamples]int16

	// rio is the RTP reader's scratch space; only the goroutine calling
	// readRTP (the RTP reader) touches it.
	rio rtpReader

	// rtcpMu guards rc: RTCP state shared by the clock, the RTCP reader and
	// Stats.
	rtcpMu sync.Mutex
	rc     rtcpState

	// rcio is the RTCP reader's scratch space; only the RTCP reader touches it.
	rcio rtcpReader
}

// Start validates cfg, takes ownership of its sockets and starts the
// Session's goroutines. On error nothing is started and the sockets are
// left open, still the caller's to close.
func Start(cfg Config) (*Session, error) {
	s, err := newSession(cfg)
	if err != nil {
		return nil, err
	}
	s.clockExited = make(chan struct{})
	s.wg.Add(2)
	go s.runClock()
	go s.runRTPReader()
	if s.rtcpConn != nil {
		s.wg.Add(1)
		go s.runRTCPReader()
	}
	return s, nil
}

// newSession builds a Session without starting goroutines; benchmarks and
// tests drive it by calling the per-frame methods directly.
func newSession(cfg Config) (*Session, error) {
	if cfg.Conn == nil {
		return nil, errors.New("media: Config.Conn is nil; bind a UDP socket for RTP (see ListenPair) and pass it")
	}
	if !cfg.Codec.valid() {
		return nil, fmt.Errorf("media: codec %s is not supported; use media.PCMU or media.PCMA", cfg.Codec)
	}
	if cfg.DTMFType > 127 || (cfg.DTMFType != 0 && cfg.DTMFType == cfg.Codec.PayloadType()) {
		return nil, fmt.Errorf("media: DTMFType %d is not usable for telephone-event; use the payload type negotiated in SDP (96-127), or 0 for none", cfg.DTMFType)
	}
	if cfg.JitterDelay < 0 || cfg.JitterDelay > maxJitterDelay {
		return nil, fmt.Errorf("media: JitterDelay %v is out of range; use 20ms to 1s, or 0 for 60ms", cfg.JitterDelay)
	}
	if cfg.RTCPInterval < 0 {
		return nil, fmt.Errorf("media: RTCPInterval %v is negative; use 0 for the RFC 3550 default of 5s", cfg.RTCPInterval)
	}
	if (cfg.SendKey == nil) != (cfg.RecvKey == nil) {
		return nil, errors.New("media: SRTP needs both SendKey and RecvKey; pass both for SRTP or neither for plain RTP")
	}
	s := &Session{
		codec:        cfg.Codec,
		dtmfPT:       cfg.DTMFType,
		jitterDelay:  cfg.JitterDelay,
		rtcpInterval: cfg.RTCPInterval,
		source:       cfg.Source,
		sink:         cfg.Sink,
		onDTMF:       cfg.OnDTMF,
		log:          cfg.Logger,
		conn:         cfg.Conn,
		rtcpConn:     cfg.RTCPConn,
		ssrc:         mrand.Uint32(), // RFC 3550 §8.1: random SSRC
		cname:        cfg.CNAME,
		epoch:        time.Now(),
		stop:         make(chan struct{}),
		sendOn:       true,
	}
	if s.jitterDelay == 0 {
		s.jitterDelay = defaultJitterDelay
	}
	if s.rtcpInterval == 0 {
		s.rtcpInterval = defaultRTCPInterval
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cname == "" {
		s.cname = rand.Text() // RFC 7022 §4.2: random, at least 96 bits
	}
	if cfg.SendKey != nil {
		var err error
		if s.tx.srtp, err = newSRTPContext("SendKey", cfg.SendKey, false); err != nil {
			return nil, err
		}
		if s.rc.srtcp, err = newSRTPContext("SendKey", cfg.SendKey, false); err != nil {
			return nil, err
		}
		if s.rio.srtp, err = newSRTPContext("RecvKey", cfg.RecvKey, true); err != nil {
			return nil, err
		}
		if s.rcio.srtcp, err = newSRTPContext("RecvKey", cfg.RecvKey, true); err != nil {
			return nil, err
		}
		s.secure = true
	}
	s.setRemoteLocked(cfg.Remote, cfg.RemoteRTCP)
	s.tx.init()
	s.rx.init(s.jitterDelay)
	return s, nil
}

// newSRTPContext creates an AES_CM_128_HMAC_SHA1_80 context (RFC 3711
// §8.2, RFC 4568 §6.2.1) from a 30-byte key||salt. Receiving contexts get
// replay protection (RFC 3711 §3.3.2).
func newSRTPContext(name string, keySalt []byte, recv bool) (*srtp.Context, error) {
	if len(keySalt) != SRTPKeyLen {
		return nil, fmt.Errorf("media: SRTP %s is %d bytes; want %d (16-byte master key then 14-byte salt, the decoded RFC 4568 inline key)", name, len(keySalt), SRTPKeyLen)
	}
	var opts []srtp.ContextOption
	if recv {
		opts = append(opts, srtp.SRTPReplayProtection(128), srtp.SRTCPReplayProtection(128))
	}
	c, err := srtp.CreateContext(keySalt[:16], keySalt[16:], srtp.ProtectionProfileAes128CmHmacSha1_80, opts...)
	if err != nil {
		return nil, fmt.Errorf("media: create SRTP context from %s: %w", name, err)
	}
	return c, nil
}

// SetRemote sets a new destination, typically after a re-INVITE: RTP goes
// to rtp, RTCP to rtcp or, when rtcp is zero, to rtp's port + 1. A zero rtp
// stops sending until media arrives. Received media may latch the
// destination again afterwards (symmetric RTP).
func (s *Session) SetRemote(rtp, rtcp netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRemoteLocked(rtp, rtcp)
}

func (s *Session) setRemoteLocked(rtp, rtcp netip.AddrPort) {
	s.remote = rtp
	s.remoteRTCP = rtcp
	s.rtcpDerived = !rtcp.IsValid()
	if s.rtcpDerived {
		s.remoteRTCP = nextPort(rtp)
	}
}

// nextPort returns a with port + 1 (RFC 3550 §11), or zero when a is zero
// or its port is the last one.
func nextPort(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() || a.Port() == 0 || a.Port() == 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Addr(), a.Port()+1)
}

// SetDirection changes the direction of the stream for hold and resume
// (RFC 3264 §8.4). With send false no RTP is sent (the timestamp keeps
// advancing and the Source is not read, RTCP continues); the first packet
// after resuming carries the marker bit (RFC 3551 §4.1). With recv false,
// received audio and DTMF are counted in Stats but discarded, so the Sink
// gets silence.
func (s *Session) SetDirection(send, recv bool) {
	s.mu.Lock()
	s.sendOn = send
	s.mu.Unlock()
	s.rxMu.Lock()
	s.rx.recvOn = recv
	s.rxMu.Unlock()
}

// Close sends an RTCP BYE (when there is RTCP), stops the Session's
// goroutines and waits for them, and closes both sockets. DTMF digits not
// yet sent are abandoned (WaitDTMF returns ErrClosed). Closing again
// returns the result of the first Close.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		// The clock may be sending an RTCP report; BYE comes after it.
		s.clockDone()
		if s.rtcpConn != nil {
			s.sendRTCP(time.Now(), true)
		}
		var errs []error
		if err := s.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("media: close RTP socket: %w", err))
		}
		if s.rtcpConn != nil {
			if err := s.rtcpConn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("media: close RTCP socket: %w", err))
			}
		}
		s.wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// clockDone waits for the media clock goroutine to observe stop. The
// readers end when their sockets close.
func (s *Session) clockDone() {
	if s.clockExited != nil {
		<-s.clockExited
	}
}

// runClock is the media clock: every 20 ms it plays out the frames that are
// due, sends the frames that are due and, when it is time, an RTCP report.
// A tick that comes late catches up by up to maxCatchUp frames and skips
// the rest, so the RTP timestamp stays locked to the wall clock.
func (s *Session) runClock() {
	defer s.wg.Done()
	defer close(s.clockExited)

	start := time.Now()
	ticker := time.NewTicker(frameDuration)
	defer ticker.Stop()
	var frames int64 // frames sent (or skipped) since start
	nextRTCP := start.Add(jitterInterval(s.rtcpInterval/5, 0.5))
	s.sendFrame(start)
	frames++
	for {
		select {
		case <-s.stop:
			return
		case now := <-ticker.C:
			s.playout(now)
			due := int64(now.Sub(start)/frameDuration) + 1
			if behind := due - frames; behind > maxCatchUp {
				s.skipFrames(int(behind - maxCatchUp))
				frames += behind - maxCatchUp
			}
			for ; frames < due; frames++ {
				s.sendFrame(now)
			}
			if s.rtcpConn != nil && !now.Before(nextRTCP) {
				s.sendRTCP(now, false)
				nextRTCP = now.Add(jitterInterval(s.rtcpInterval, 0.5))
			}
		}
	}
}

// jitterInterval returns d scaled by a random factor in [1-f, 1+f]
// (RFC 3550 §6.2: randomised report intervals avoid synchronisation).
func jitterInterval(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*mrand.Float64()))
}

// runRTPReader reads RTP until the socket is closed.
func (s *Session) runRTPReader() {
	defer s.wg.Done()
	for {
		if err := s.readRTP(time.Time{}); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (e.g. an ICMP-induced ECONNREFUSED): note it
			// and keep reading, but not in a tight loop.
			s.log.Debug("media: RTP read error", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// runRTCPReader reads RTCP until the socket is closed.
func (s *Session) runRTCPReader() {
	defer s.wg.Done()
	for {
		if err := s.readRTCP(); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("media: RTCP read error", "err", err)
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// ListenPair binds an RTP socket on an even port and the RTCP socket on the
// next port (RFC 3550 §11) at ip. Ports are taken from portMin..portMax
// (inclusive), starting at a random even port; with both zero the kernel
// picks ephemeral ports. The caller passes the sockets to Start in
// Config.Conn and Config.RTCPConn.
func ListenPair(ip netip.Addr, portMin, portMax int) (rtp, rtcp *net.UDPConn, err error) {
	if !ip.IsValid() {
		return nil, nil, errors.New("media: ListenPair needs an IP address; use 0.0.0.0 or :: for all interfaces")
	}
	try := func(port int) (*net.UDPConn, *net.UDPConn, bool) {
		a, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			return nil, nil, false
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			a.Close()
			return nil, nil, false
		}
		b, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(p+1))))
		if err != nil {
			a.Close()
			return nil, nil, false
		}
		return a, b, true
	}
	if portMin == 0 && portMax == 0 {
		for range 64 {
			if a, b, ok := try(0); ok {
				return a, b, nil
			}
		}
		return nil, nil, fmt.Errorf("media: no free even/odd ephemeral port pair on %s; configure an RTP port range", ip)
	}
	if portMin < 1 || portMax > 65535 || portMin > portMax {
		return nil, nil, fmt.Errorf("media: RTP port range %d-%d is invalid; use 1024-65535 with min <= max", portMin, portMax)
	}
	first := portMin + portMin%2 // first even port
	count := (portMax-1-first)/2 + 1
	if portMax-1 < first || count <= 0 {
		return nil, nil, fmt.Errorf("media: RTP port range %d-%d holds no even/odd pair; widen it", portMin, portMax)
	}
	off := mrand.IntN(count)
	for i := range count {
		if a, b, ok := try(first + 2*((off+i)%count)); ok {
			return a, b, nil
		}
	}
	return nil, nil, fmt.Errorf("media: no free RTP/RTCP port pair in %d-%d on %s; widen the range or stop what uses it", portMin, portMax, ip)
}
