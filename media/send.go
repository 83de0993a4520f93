package media

import (
	mrand "math/rand/v2"
	"net/netip"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// maxPacket is the largest datagram sent or received.
const maxPacket = 1500

// sender is the sending half of a Session; Session.txMu guards it.
type sender struct {
	seq      uint16 // next RTP sequence number (RFC 3550 §5.1: random start)
	ts       uint32 // RTP timestamp of the next frame (random start), +160 per frame
	audioRun bool   // the previous frame was sent as audio; the next audio packet has no marker

	// RFC 4733 §2.5.1 event schedule, one step per frame.
	dtmfPhase int    // next step of the current digit, 0 = not started
	dtmfGap   int    // audio frames still owed between digits
	dtmfTS    uint32 // RTP timestamp of the current event (its first frame)

	packets uint64 // RTP packets sent (audio and events)
	octets  uint64 // RTP payload octets sent (RFC 3550 §6.4.1 sender's octet count)
	bytes   uint64 // datagram bytes sent
	sentAny bool
	failing bool // the last write failed (logged once until one succeeds)

	// The media timeline, for the RTP timestamp of sender reports: frameTS
	// is the timestamp of the latest frame (sent or not), frameTime its
	// clock time.
	frameTS   uint32
	frameTime time.Time

	hdr  rtp.Header
	buf  [maxPacket]byte
	srtp *srtp.Context // SRTP for RTP only; nil for plain RTP
}

func (t *sender) init() {
	t.seq = uint16(mrand.Uint32())
	t.ts = mrand.Uint32()
	t.hdr.Version = 2
}

// Event timing of SendDTMF (RFC 4733 §2.5.1.2 and §2.5.1.4).
const (
	dtmfEventFrames = 5  // 100 ms of tone: steps 0..4, the last with the E bit
	dtmfSteps       = 7  // plus two retransmissions of the final packet
	dtmfGapFrames   = 1  // with the retransmissions: 60 ms between events
	dtmfVolume      = 10 // -10 dBm0 (RFC 4733 §2.3.4)
)

// sendFrame does the work of one 20 ms frame of the sending side: it reads
// the Source, and sends an audio packet, the next DTMF event packet, or
// nothing (on hold, or with no destination yet). The timestamp advances by
// one frame in every case.
func (s *Session) sendFrame(now time.Time) {
	s.mu.Lock()
	dst := s.remote
	canSend := s.sendOn && dst.IsValid()
	var digit byte
	if canSend && len(s.dtmfQueue) > 0 {
		digit = s.dtmfQueue[0]
	}
	s.mu.Unlock()

	// The Source is read outside any lock. During an event its audio is
	// read and dropped, so that a file plays on in step with the clock.
	pcm := s.srcPCM[:]
	if canSend {
		if s.source != nil {
			s.source.ReadFrame(pcm)
		} else {
			clear(pcm)
		}
	}

	s.txMu.Lock()
	t := &s.tx
	ts := t.ts
	t.ts += FrameSamples
	t.frameTS, t.frameTime = ts, now
	if !canSend {
		t.audioRun = false
		t.dtmfPhase = 0 // an interrupted event starts again after resuming
		s.txMu.Unlock()
		return
	}
	var finished bool
	if t.dtmfGap == 0 && digit != 0 {
		// RFC 4733 §2.5.1.2: same timestamp for the whole event, growing
		// duration, M bit on the first packet, E bit from the end on;
		// §2.5.1.4: the final packet three times; §2.5.1.6: each a new
		// sequence number.
		p := t.dtmfPhase
		if p == 0 {
			t.dtmfTS = ts
		}
		dur := min(p+1, dtmfEventFrames) * FrameSamples
		code, _ := dtmfCode(rune(digit))
		flags := byte(dtmfVolume)
		if p >= dtmfEventFrames-1 {
			flags |= 0x80 // E bit
		}
		t.audioRun = false
		s.sendLocked(dst, s.dtmfPT, p == 0, t.dtmfTS, func(b []byte) []byte {
			return append(b, code, flags, byte(dur>>8), byte(dur))
		})
		t.dtmfPhase++
		if t.dtmfPhase == dtmfSteps {
			t.dtmfPhase = 0
			t.dtmfGap = dtmfGapFrames
			finished = true
		}
	} else {
		if t.dtmfGap > 0 {
			t.dtmfGap--
		}
		// RFC 3551 §4.1: marker on the first packet of a talkspurt, i.e.
		// the first after a pause in sending audio.
		marker := !t.audioRun
		t.audioRun = true
		s.sendLocked(dst, s.codec.PayloadType(), marker, ts, func(b []byte) []byte {
			return s.codec.Encode(b, pcm)
		})
	}
	s.txMu.Unlock()

	if finished {
		s.mu.Lock()
		s.dtmfSent = append(s.dtmfSent, digit)
		if len(s.dtmfQueue) > 0 {
			s.dtmfQueue = s.dtmfQueue[1:]
			if len(s.dtmfQueue) == 0 {
				close(s.dtmfIdle)
			}
		}
		s.mu.Unlock()
	}
}

// sendLocked marshals, protects and sends one RTP packet whose payload
// appendPayload appends. s.txMu must be held.
func (s *Session) sendLocked(dst netip.AddrPort, pt uint8, marker bool, ts uint32, appendPayload func([]byte) []byte) {
	t := &s.tx
	h := &t.hdr
	h.Marker = marker
	h.PayloadType = pt
	h.SequenceNumber = t.seq
	h.Timestamp = ts
	h.SSRC = s.ssrc
	n, err := h.MarshalTo(t.buf[:])
	if err != nil {
		s.log.Debug("media: marshal RTP header", "err", err)
		return
	}
	pkt := appendPayload(t.buf[n:n])
	payloadLen := len(pkt)
	pkt = t.buf[:n+payloadLen]
	if t.srtp != nil {
		// RFC 3711 §3.3: encrypt the payload and append the 80-bit tag, in
		// place (buf has room for the tag).
		if pkt, err = t.srtp.EncryptRTP(t.buf[:0], pkt, h); err != nil {
			s.log.Debug("media: SRTP protect", "err", err)
			return
		}
	}
	t.seq++
	if _, err := s.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
		if !t.failing {
			s.log.Debug("media: RTP send failed", "to", dst, "err", err)
			t.failing = true
		}
		return
	}
	t.failing = false
	t.packets++
	t.octets += uint64(payloadLen)
	t.bytes += uint64(len(pkt))
	t.sentAny = true
}

// skipFrames advances the timestamp over n frames that the clock could not
// send in time; the receiver conceals them.
func (s *Session) skipFrames(n int) {
	s.txMu.Lock()
	s.tx.ts += uint32(n * FrameSamples)
	s.tx.frameTS += uint32(n * FrameSamples)
	s.tx.frameTime = s.tx.frameTime.Add(time.Duration(n) * frameDuration)
	s.tx.audioRun = false
	s.txMu.Unlock()
}
