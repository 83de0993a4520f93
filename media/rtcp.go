package media

import (
	"net/netip"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// rtcpState is the RTCP state of a Session; Session.rtcpMu guards it.
type rtcpState struct {
	srtcp *srtp.Context // SRTCP for sending; nil for plain RTCP

	sentAtLast, sentAtPrev uint64 // RTP packets sent at the last two reports (RFC 3550 §6.4)

	haveLSR bool      // a sender report arrived from the peer
	lsr     uint32    // its NTP timestamp, middle 32 bits (RFC 3550 §6.4.1 LSR)
	lsrAt   time.Time // when it arrived, for DLSR

	srs    [4]sentSR // our recent sender reports, to time the peer's LSR echo exactly
	srNext int

	haveRTT        bool
	rtt            time.Duration
	haveRemote     bool   // the peer reported on our stream
	remoteFraction uint8  // its fraction lost (8-bit fixed point)
	remoteJitter   uint32 // its interarrival jitter, timestamp units

	sent, received uint64 // RTCP compound packets
	logged         bool   // a bad RTCP packet was logged
}

type sentSR struct {
	mid uint32 // NTP timestamp, middle 32 bits
	at  time.Time
}

// rtcpReader is the RTCP reader's scratch space (see Session.rcio).
type rtcpReader struct {
	buf   [2048]byte
	srtcp *srtp.Context // SRTCP for receiving; nil for plain RTCP
}

// ntpTime converts t to a 64-bit NTP timestamp (RFC 3550 §4): seconds since
// 1900 in the high word, the fraction in the low word.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800 // seconds from 1900-01-01 to 1970-01-01
	sec := uint64(t.Unix()) + unixToNTP
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

// ntpShort converts a duration in 1/65536 s units (RFC 3550 §6.4.1 DLSR).
func ntpShort(units uint32) time.Duration {
	return time.Duration(uint64(units) * uint64(time.Second) >> 16)
}

// sendRTCP sends a compound RTCP packet (RFC 3550 §6.1): an SR when we have
// sent RTP since the report before last, else an RR, with a reception
// report block on the peer's stream once it has been heard (§6.4), an SDES
// CNAME (§6.5) and, with bye, a BYE (§6.6). Under SRTP it is SRTCP.
func (s *Session) sendRTCP(now time.Time, bye bool) {
	s.mu.Lock()
	dst := s.remoteRTCP
	s.mu.Unlock()
	if !dst.IsValid() {
		return
	}

	s.txMu.Lock()
	packets, octets := s.tx.packets, s.tx.octets
	sentAny, frameTS, frameTime := s.tx.sentAny, s.tx.frameTS, s.tx.frameTime
	s.txMu.Unlock()

	var blocks []rtcp.ReceptionReport
	s.rxMu.Lock()
	if s.rx.havePeer {
		fraction, lost := s.rx.seq.interval()
		// RFC 3550 §6.4.1: cumulative number lost is a signed 24-bit value.
		lost = min(max(lost, -0x800000), 0x7FFFFF)
		blocks = append(blocks, rtcp.ReceptionReport{
			SSRC:               s.rx.peerSSRC,
			FractionLost:       fraction,
			TotalLost:          uint32(lost) & 0xFFFFFF,
			LastSequenceNumber: uint32(s.rx.seq.extendedMax()),
			Jitter:             uint32(s.rx.jitter),
		})
	}
	s.rxMu.Unlock()

	s.rtcpMu.Lock()
	defer s.rtcpMu.Unlock()
	rc := &s.rc
	if len(blocks) > 0 && rc.haveLSR {
		// RFC 3550 §6.4.1: LSR and DLSR let the peer compute the round trip.
		blocks[0].LastSenderReport = rc.lsr
		blocks[0].Delay = uint32(now.Sub(rc.lsrAt) * (1 << 16) / time.Second)
	}
	weSent := sentAny && packets != rc.sentAtPrev
	rc.sentAtPrev, rc.sentAtLast = rc.sentAtLast, packets
	var report rtcp.Packet
	if weSent {
		ntp := ntpTime(now)
		report = &rtcp.SenderReport{
			SSRC:        s.ssrc,
			NTPTime:     ntp,
			RTPTime:     frameTS + uint32(now.Sub(frameTime)/(time.Second/SampleRate)),
			PacketCount: uint32(packets),
			OctetCount:  uint32(octets),
			Reports:     blocks,
		}
		rc.srs[rc.srNext] = sentSR{mid: uint32(ntp >> 16), at: now}
		rc.srNext = (rc.srNext + 1) % len(rc.srs)
	} else {
		report = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: blocks}
	}
	pkts := []rtcp.Packet{report, rtcp.NewCNAMESourceDescription(s.ssrc, s.cname)}
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		s.log.Debug("media: marshal RTCP", "err", err)
		return
	}
	if rc.srtcp != nil {
		// RFC 3711 §3.4: SRTCP, encrypted and authenticated.
		if raw, err = rc.srtcp.EncryptRTCP(nil, raw, nil); err != nil {
			s.log.Debug("media: SRTCP protect", "err", err)
			return
		}
	}
	if _, err := s.rtcpConn.WriteToUDPAddrPort(raw, dst); err != nil {
		s.log.Debug("media: RTCP send failed", "to", dst, "err", err)
		return
	}
	rc.sent++
}

// readRTCP reads one datagram from the RTCP socket and handles it.
func (s *Session) readRTCP() error {
	r := &s.rcio
	n, from, err := s.rtcpConn.ReadFromUDPAddrPort(r.buf[:])
	if err != nil {
		return err
	}
	s.handleRTCP(r.buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), time.Now())
	return nil
}

// handleRTCP authenticates and parses one compound RTCP packet, keeps the
// peer's sender report time for our next reception report, takes the
// round-trip time and the peer's view of our stream from its report
// blocks, and latches the RTCP destination onto the source.
func (s *Session) handleRTCP(pkt []byte, from netip.AddrPort, now time.Time) {
	var err error
	if s.rcio.srtcp != nil {
		if pkt, err = s.rcio.srtcp.DecryptRTCP(nil, pkt, nil); err != nil {
			s.badRTCP("SRTCP authentication failed (wrong key?)", from, err)
			return
		}
	}
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		s.badRTCP("malformed RTCP", from, err)
		return
	}
	// RFC 3550 §6.1: a compound packet starts with an SR or RR, whose SSRC
	// is the sender's.
	var sender uint32
	switch p := pkts[0].(type) {
	case *rtcp.SenderReport:
		sender = p.SSRC
	case *rtcp.ReceiverReport:
		sender = p.SSRC
	default:
		s.badRTCP("RTCP compound packet without SR or RR first", from, nil)
		return
	}
	s.rxMu.Lock()
	foreign := s.rx.havePeer && s.rx.peerSSRC != sender
	s.rxMu.Unlock()
	if foreign {
		s.badRTCP("RTCP from an SSRC we do not receive", from, nil)
		return
	}

	bye := false
	s.rtcpMu.Lock()
	rc := &s.rc
	rc.received++
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			rc.haveLSR = true
			rc.lsr = uint32(p.NTPTime >> 16)
			rc.lsrAt = now
			s.reportBlocksLocked(p.Reports, now)
		case *rtcp.ReceiverReport:
			s.reportBlocksLocked(p.Reports, now)
		case *rtcp.Goodbye:
			bye = true
		}
	}
	s.rtcpMu.Unlock()
	if bye {
		s.log.Debug("media: peer sent RTCP BYE", "ssrc", sender)
	}
	s.latchRTCP(from)
}

// reportBlocksLocked takes what the peer reports about our stream.
// s.rtcpMu must be held.
func (s *Session) reportBlocksLocked(blocks []rtcp.ReceptionReport, now time.Time) {
	rc := &s.rc
	for _, b := range blocks {
		if b.SSRC != s.ssrc {
			continue
		}
		rc.haveRemote = true
		rc.remoteFraction = b.FractionLost
		rc.remoteJitter = b.Jitter
		if b.LastSenderReport == 0 {
			continue
		}
		// RFC 3550 §6.4.1: RTT = A - LSR - DLSR. When LSR echoes one of our
		// recent reports, A - LSR is measured exactly instead of in the
		// 16.16 fixed point of the field.
		var rtt time.Duration
		found := false
		for _, sr := range rc.srs {
			if !sr.at.IsZero() && sr.mid == b.LastSenderReport {
				rtt = now.Sub(sr.at) - ntpShort(b.Delay)
				found = true
				break
			}
		}
		if !found {
			units := uint32(ntpTime(now)>>16) - b.LastSenderReport - b.Delay
			if int32(units) < 0 {
				continue
			}
			rtt = ntpShort(units)
		}
		if rtt < 0 {
			rtt = 0 // the peer's DLSR is rounded down; never negative
		}
		rc.rtt = rtt
		rc.haveRTT = true
	}
}

// badRTCP logs the first unusable RTCP packet; later ones are dropped quietly.
func (s *Session) badRTCP(what string, from netip.AddrPort, err error) {
	s.rtcpMu.Lock()
	first := !s.rc.logged
	s.rc.logged = true
	s.rtcpMu.Unlock()
	if first {
		s.log.Debug("media: dropping RTCP (further drops are not logged)", "reason", what, "from", from, "err", err)
	}
}

// latchRTCP makes from the RTCP destination when valid RTCP comes from
// elsewhere (symmetric RTCP).
func (s *Session) latchRTCP(from netip.AddrPort) {
	s.mu.Lock()
	if s.remoteRTCP == from {
		s.mu.Unlock()
		return
	}
	old := s.remoteRTCP
	s.remoteRTCP = from
	s.rtcpDerived = false
	s.mu.Unlock()
	s.log.Debug("media: RTCP comes from another address; sending there (symmetric RTCP)", "was", old, "now", from)
}
