package media

import "time"

// Stats is a snapshot of a Session's counters and quality estimates.
type Stats struct {
	Codec string // "PCMU" or "PCMA"
	SRTP  bool   // the stream is SRTP/SRTCP

	PacketsSent     uint64 // RTP packets sent, audio and DTMF
	PacketsReceived uint64 // RTP packets accepted, audio and DTMF
	BytesSent       uint64 // RTP datagram bytes sent (header, payload, SRTP tag; no UDP/IP)
	BytesReceived   uint64 // RTP datagram bytes accepted

	// PacketsLost is the cumulative number of packets lost, expected minus
	// received (RFC 3550 A.3); duplicates can make it negative.
	PacketsLost int64
	// LossPercent is PacketsLost as a percentage of the packets expected,
	// 0 when none was lost.
	LossPercent float64
	// PacketsLate counts packets that arrived after their playout time and
	// were dropped by the jitter buffer.
	PacketsLate uint64
	// PacketsDropped counts datagrams on the RTP socket that were not
	// accepted: not RTP, an unknown payload type, another SSRC, failed SRTP
	// authentication or replay check, or an implausible sequence jump.
	PacketsDropped uint64
	// Jitter is the interarrival jitter of received packets (RFC 3550
	// §6.4.1, A.8).
	Jitter time.Duration
	// FramesPlayed counts frames given to the Sink; FramesConcealed those
	// of them for which no audio had arrived in time.
	FramesPlayed, FramesConcealed uint64

	// RTT is the round-trip time from the peer's RTCP reports (RFC 3550
	// §6.4.1 LSR/DLSR); 0 when unknown.
	RTT time.Duration
	// RemoteLossPercent is the fraction of our packets the peer reported
	// lost in its latest RTCP report block, in percent; 0 when unknown.
	RemoteLossPercent float64
	// RemoteJitter is the interarrival jitter the peer reported for our
	// stream; 0 when unknown.
	RemoteJitter time.Duration
	// RTCPSent and RTCPReceived count compound RTCP packets.
	RTCPSent, RTCPReceived uint64

	// MOS is a listening-quality estimate from 1 to 4.5 by the E-model
	// (ITU-T G.107, simplified for G.711: Ie = 0, Bpl = 25.1 with packet
	// loss concealment) from the loss (including late packets) and the
	// one-way delay (jitter buffer delay plus half the RTT); 0 when nothing
	// has been received.
	MOS float64

	DTMFReceived string // digits received, in order
	DTMFSent     string // digits sent completely (all their event packets), in order
}

// Stats returns a snapshot of the Session's statistics. It may be called at
// any time, also after Close.
func (s *Session) Stats() Stats {
	st := Stats{Codec: s.codec.Name(), SRTP: s.secure}

	s.mu.Lock()
	st.DTMFSent = string(s.dtmfSent)
	s.mu.Unlock()

	s.txMu.Lock()
	st.PacketsSent = s.tx.packets
	st.BytesSent = s.tx.bytes
	s.txMu.Unlock()

	s.rxMu.Lock()
	rx := &s.rx
	st.PacketsReceived = rx.packets
	st.BytesReceived = rx.bytes
	expected, received := rx.seq.totals()
	st.PacketsLost = expected - received
	st.PacketsLate = rx.jb.late
	st.PacketsDropped = rx.dropped
	st.Jitter = time.Duration(rx.jitter * float64(time.Second) / SampleRate)
	st.FramesPlayed = rx.jb.frames
	st.FramesConcealed = rx.jb.concealed
	st.DTMFReceived = string(rx.dtmfReceived)
	s.rxMu.Unlock()

	s.rtcpMu.Lock()
	rc := &s.rc
	if rc.haveRTT {
		st.RTT = rc.rtt
	}
	if rc.haveRemote {
		st.RemoteLossPercent = float64(rc.remoteFraction) * 100 / 256
		st.RemoteJitter = time.Duration(uint64(rc.remoteJitter) * uint64(time.Second) / SampleRate)
	}
	st.RTCPSent, st.RTCPReceived = rc.sent, rc.received
	s.rtcpMu.Unlock()

	if expected > 0 && st.PacketsLost > 0 {
		st.LossPercent = float64(st.PacketsLost) * 100 / float64(expected)
	}
	if st.PacketsReceived > 0 {
		effective := 0.0
		if expected > 0 {
			effective = float64(max(st.PacketsLost, 0)+int64(st.PacketsLate)) * 100 / float64(expected)
		}
		st.MOS = EstimateMOS(min(effective, 100), s.jitterDelay+st.RTT/2)
	}
	return st
}

// EstimateMOS returns the E-model (ITU-T G.107) estimate of the mean
// opinion score, 1 to 4.5, of a G.711 call with packet loss concealment
// that loses lossPercent of its packets at random and has the given
// one-way mouth-to-ear delay. It uses the default R0 - Is = 93.2, Ie = 0,
// Bpl = 25.1 (ITU-T G.113 Appendix I for G.711 with PLC), BurstR = 1, and
// the common linear approximation of the delay impairment Id.
func EstimateMOS(lossPercent float64, oneWay time.Duration) float64 {
	const (
		r0  = 93.2 // G.107 default R with no impairments
		ie  = 0.0  // G.711 equipment impairment (G.113)
		bpl = 25.1 // G.711 with PLC packet-loss robustness (G.113)
	)
	d := float64(oneWay) / float64(time.Millisecond)
	id := 0.024 * d // delay impairment, linear approximation of G.107 Idd
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := max(lossPercent, 0)
	ieEff := ie + (95-ie)*ppl/(ppl+bpl) // G.107 (7-29), random loss (BurstR = 1)
	return mosFromR(r0 - id - ieEff)
}

// mosFromR converts a transmission rating R to MOS (ITU-T G.107 Annex B,
// (B-4)), clamped to 1..4.5.
func mosFromR(r float64) float64 {
	if r <= 0 {
		return 1
	}
	if r >= 100 {
		return 4.5
	}
	return min(max(1+0.035*r+r*(r-60)*(100-r)*7e-6, 1), 4.5)
}
