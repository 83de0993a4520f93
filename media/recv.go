package media

import (
	"net/netip"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// ssrcTimeout is how long the current remote source must have been silent
// before packets from a different SSRC are accepted as its replacement
// (a peer restarting its stream, or a re-INVITE to another endpoint).
const ssrcTimeout = time.Second

// rtpReader is the RTP reader's scratch space (see Session.rio).
type rtpReader struct {
	buf  [2048]byte
	hdr  rtp.Header
	srtp *srtp.Context // SRTP for received RTP; nil for plain RTP
}

// Reasons a received datagram is dropped, for the log (each logged once).
const (
	dropMalformed = 1 << iota
	dropPayloadType
	dropSSRC
	dropAuth
	dropSequence
)

func dropReason(reason int) string {
	switch reason {
	case dropMalformed:
		return "not an RTP packet"
	case dropPayloadType:
		return "unknown payload type"
	case dropSSRC:
		return "SSRC of another stream"
	case dropAuth:
		return "SRTP authentication failed (wrong key?)"
	case dropSequence:
		return "sequence number jump (RFC 3550 A.1)"
	}
	return "unknown"
}

// receiver is the receiving half of a Session; Session.rxMu guards it.
type receiver struct {
	recvOn      bool
	havePeer    bool
	peerSSRC    uint32
	lastArrival time.Time

	seq     seqState
	packets uint64 // accepted RTP packets (audio and events)
	bytes   uint64 // their datagram bytes
	dropped uint64 // datagrams dropped before acceptance
	logged  int    // drop reasons already logged (bit set)

	// RFC 3550 A.8 interarrival jitter, in timestamp units.
	jitter      float64
	haveTransit bool
	lastTransit int32
	lastTS      uint32

	// RFC 4733 events already reported, by timestamp.
	seen         [16]uint32
	seenN        int // valid entries in seen
	seenNext     int // next entry of seen to overwrite
	haveEvent    bool
	lastEvent    rtpEvent
	dtmfReceived []byte

	jb jitterBuffer
}

// rtpEvent is the last telephone-event report seen.
type rtpEvent struct {
	ts   uint32
	code byte
	dur  uint16
}

func (r *receiver) init(delay time.Duration) {
	r.recvOn = true
	r.jb.init(delay)
}

// readRTP reads one datagram from the RTP socket and handles it. A zero now
// means the time of arrival.
func (s *Session) readRTP(now time.Time) error {
	r := &s.rio
	n, from, err := s.conn.ReadFromUDPAddrPort(r.buf[:])
	if err != nil {
		return err
	}
	if now.IsZero() {
		now = time.Now()
	}
	s.handleRTP(r.buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), now)
	return nil
}

// handleRTP validates, decrypts and accounts one received datagram, puts
// audio in the jitter buffer, reports new DTMF events and latches the
// destination onto its source (symmetric RTP). Only the RTP reader calls it.
func (s *Session) handleRTP(pkt []byte, from netip.AddrPort, now time.Time) {
	r := &s.rio
	h := &r.hdr
	size := len(pkt)
	hl, err := h.Unmarshal(pkt)
	if err != nil || h.Version != 2 {
		s.drop(dropMalformed, from)
		return
	}
	audio := h.PayloadType == s.codec.PayloadType()
	event := s.dtmfPT != 0 && h.PayloadType == s.dtmfPT
	if !audio && !event {
		s.drop(dropPayloadType, from)
		return
	}
	s.rxMu.Lock()
	ok := !s.rx.havePeer || h.SSRC == s.rx.peerSSRC || now.Sub(s.rx.lastArrival) > ssrcTimeout
	s.rxMu.Unlock()
	if !ok {
		s.drop(dropSSRC, from)
		return
	}
	if r.srtp != nil {
		// RFC 3711 §3.3: authenticate (and replay-check) before anything
		// else is believed; decrypt in place.
		if pkt, err = r.srtp.DecryptRTP(pkt[:0], pkt, h); err != nil {
			s.drop(dropAuth, from)
			return
		}
	}
	payload := pkt[hl:]
	if h.Padding { // RFC 3550 §5.1: the last octet counts the padding
		if len(payload) == 0 || int(payload[len(payload)-1]) == 0 || int(payload[len(payload)-1]) > len(payload) {
			s.drop(dropMalformed, from)
			return
		}
		payload = payload[:len(payload)-int(payload[len(payload)-1])]
	}

	var digit rune
	s.rxMu.Lock()
	rx := &s.rx
	newSource := !rx.havePeer || rx.peerSSRC != h.SSRC
	if newSource {
		rx.havePeer = true
		rx.peerSSRC = h.SSRC
		rx.seq.restart(h.SequenceNumber)
		rx.haveTransit = false
		rx.seenN, rx.seenNext, rx.haveEvent = 0, 0, false
		rx.jb.restart()
	} else if !rx.seq.update(h.SequenceNumber) {
		s.rxMu.Unlock()
		s.drop(dropSequence, from)
		return
	}
	rx.packets++
	rx.bytes += uint64(size)
	rx.lastArrival = now
	if !rx.haveTransit || h.Timestamp != rx.lastTS {
		// RFC 3550 A.8; the repeated timestamps of one RFC 4733 event count
		// once (RFC 4733 §2.5.2.2).
		arrival := uint32(now.Sub(s.epoch) / (time.Second / SampleRate))
		transit := int32(arrival - h.Timestamp)
		if rx.haveTransit {
			d := transit - rx.lastTransit
			if d < 0 {
				d = -d
			}
			rx.jitter += (float64(d) - rx.jitter) / 16
		}
		rx.lastTransit = transit
		rx.lastTS = h.Timestamp
		rx.haveTransit = true
	}
	if rx.recvOn {
		if audio {
			rx.jb.insert(h.SequenceNumber, h.Timestamp, payload, now)
		} else {
			digit = rx.event(h.Timestamp, payload)
		}
	}
	s.rxMu.Unlock()

	if newSource {
		s.log.Debug("media: receiving RTP", "ssrc", h.SSRC, "from", from)
	}
	s.latchRTP(from)
	if digit != 0 && s.onDTMF != nil {
		s.onDTMF(digit)
	}
}

// drop counts a datagram that was not accepted and logs the first of each
// kind, so that a flood does not flood the log.
func (s *Session) drop(reason int, from netip.AddrPort) {
	s.rxMu.Lock()
	s.rx.dropped++
	first := s.rx.logged&reason == 0
	s.rx.logged |= reason
	s.rxMu.Unlock()
	if first {
		s.log.Debug("media: dropping RTP (further drops are only counted)", "reason", dropReason(reason), "from", from)
	}
}

// latchRTP makes from the RTP destination when accepted media comes from
// elsewhere (symmetric RTP, after the idea of RFC 4961: send where the
// peer's packets come from, which is what gets through a NAT).
func (s *Session) latchRTP(from netip.AddrPort) {
	s.mu.Lock()
	if s.remote == from {
		s.mu.Unlock()
		return
	}
	old := s.remote
	s.remote = from
	if s.rtcpDerived {
		s.remoteRTCP = nextPort(from)
	}
	s.mu.Unlock()
	s.log.Debug("media: RTP comes from another address; sending there (symmetric RTP)", "was", old, "now", from)
}

// event handles one telephone-event payload (RFC 4733 §2.3) and returns
// the digit to report, or 0. Each event is reported once, on whichever of
// its packets arrives first (the first may be lost, so the M bit is not
// required); later updates and the retransmitted end packets share its
// timestamp and are ignored.
func (r *receiver) event(ts uint32, payload []byte) rune {
	if len(payload) < 4 {
		return 0
	}
	code := payload[0]
	dur := uint16(payload[2])<<8 | uint16(payload[3])
	if code >= uint8(len(dtmfDigits)) || dur == 0 {
		// Not DTMF (RFC 4733 §3.2), or a zero duration, which is only for
		// state events (§2.3.5).
		return 0
	}
	if r.haveEvent && ts == r.lastEvent.ts && dur > r.lastEvent.dur {
		r.lastEvent.dur = dur
	}
	for _, t := range r.seen[:r.seenN] {
		if t == ts {
			return 0
		}
	}
	r.seen[r.seenNext] = ts
	r.seenNext = (r.seenNext + 1) % len(r.seen)
	r.seenN = min(r.seenN+1, len(r.seen))
	// RFC 4733 §2.5.2.3: a new segment of a long event starts where the
	// previous one, of maximum duration, ended; it is not a new digit.
	prev := r.lastEvent
	cont := r.haveEvent && code == prev.code && prev.dur == 0xFFFF && ts == prev.ts+0xFFFF
	r.lastEvent = rtpEvent{ts: ts, code: code, dur: dur}
	r.haveEvent = true
	if cont {
		return 0
	}
	d := dtmfDigits[code]
	r.dtmfReceived = append(r.dtmfReceived, d)
	return rune(d)
}

// seqState is the per-source sequence number state of RFC 3550 A.1,
// without the probation step (the first packet is accepted: the PT check,
// SRTP and the single expected source are validation enough), with counts
// carried over when a source restarts so that totals stay cumulative.
type seqState struct {
	maxSeq  uint16 // highest sequence number seen
	cycles  uint64 // shifted count of sequence number wraps
	baseSeq uint64 // first sequence number of this epoch
	badSeq  uint32 // last "bad" sequence number + 1
	recv    int64  // packets received in this epoch

	expectedPrior, recvPrior int64 // at the last reception report (A.3)

	carriedExpected, carriedRecv int64 // totals of earlier epochs
}

// RFC 3550 A.1 constants.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
)

// restart begins a new epoch at seq (a new source, or a restarted one),
// keeping the totals, and counts seq as received.
func (q *seqState) restart(seq uint16) {
	q.carriedExpected += q.expected()
	q.carriedRecv += q.recv
	q.baseSeq = uint64(seq)
	q.maxSeq = seq
	q.cycles = 0
	q.badSeq = seqMod + 1
	q.recv = 1
	q.expectedPrior, q.recvPrior = 0, 0
}

// update accounts one packet of the current source (RFC 3550 A.1
// update_seq) and reports whether it is valid.
func (q *seqState) update(seq uint16) bool {
	udelta := seq - q.maxSeq
	switch {
	case udelta < maxDropout:
		// In order, with a permissible gap.
		if seq < q.maxSeq {
			q.cycles += seqMod // wrapped
		}
		q.maxSeq = seq
	case int(udelta) <= seqMod-maxMisorder:
		// A very large jump: accept it only if the next packet follows it
		// (the sender restarted), otherwise it is a stray.
		if uint32(seq) != q.badSeq {
			q.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
		q.restart(seq)
		return true
	default:
		// A duplicate or reordered packet.
	}
	q.recv++
	return true
}

// extendedMax is the extended highest sequence number received (A.1).
func (q *seqState) extendedMax() uint64 { return q.cycles + uint64(q.maxSeq) }

// expected is the number of packets expected in this epoch (A.3).
func (q *seqState) expected() int64 {
	if q.recv == 0 {
		return 0
	}
	return int64(q.extendedMax()-q.baseSeq) + 1
}

// totals returns the cumulative expected and received counts.
func (q *seqState) totals() (expected, received int64) {
	return q.carriedExpected + q.expected(), q.carriedRecv + q.recv
}

// interval returns the RFC 3550 A.3 fraction lost since the previous call
// (8-bit fixed point) and the cumulative number lost, and starts a new
// interval.
func (q *seqState) interval() (fraction uint8, cumulative int64) {
	expected := q.expected()
	expInterval := expected - q.expectedPrior
	recvInterval := q.recv - q.recvPrior
	q.expectedPrior, q.recvPrior = expected, q.recv
	if lost := expInterval - recvInterval; expInterval > 0 && lost > 0 {
		fraction = uint8(min((lost<<8)/expInterval, 255))
	}
	e, r := q.totals()
	return fraction, e - r
}
