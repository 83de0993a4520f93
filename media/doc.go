// Package media carries the audio of a call: RTP audio streams with RTCP
// (RFC 3550, RFC 3551), G.711 µ-law and A-law (ITU-T G.711), DTMF as RFC
// 4733 telephone-events, SRTP and SRTCP with AES_CM_128_HMAC_SHA1_80 keys
// from SDP security descriptions (RFC 3711, RFC 4568), a fixed-delay
// jitter buffer with loss concealment, call-quality statistics with an
// E-model MOS (ITU-T G.107), and WAV files for prompts and recordings.
//
// It knows nothing of SIP: the user agent negotiates the codec, the
// telephone-event payload type, the addresses and the keys in SDP, and
// hands them to Start.
//
// # Walkthrough
//
// Bind the sockets, start a Session with what SDP said, and close it when
// the call ends:
//
//	rtpConn, rtcpConn, err := media.ListenPair(localIP, 10000, 20000)
//	// ... offer rtpConn's port in SDP, get the answer ...
//	prompt, err := media.ReadWAV("welcome.wav") // 8 kHz mono samples
//	rec, err := media.CreateWAV("call.wav", media.SampleRate)
//	s, err := media.Start(media.Config{
//		Conn:     rtpConn,
//		RTCPConn: rtcpConn,
//		Remote:   remoteRTP, // from the answer's c= and m= lines
//		Codec:    media.PCMU,
//		DTMFType: 101,
//		SendKey:  localKey, RecvKey: remoteKey, // decoded a=crypto inline keys, or nil
//		Source:   media.NewFileSource(prompt, false),
//		Sink:     rec,
//		OnDTMF:   func(d rune) { log.Printf("pressed %c", d) },
//	})
//	defer rec.Close()
//	defer s.Close() // RTCP BYE, stops the goroutines, closes the sockets
//
//	s.SendDTMF("1234#")
//	err = s.WaitDTMF(ctx)
//	s.SetDirection(false, true) // on hold (RFC 3264 §8.4)
//	s.SetRemote(newRTP, netip.AddrPort{}) // after a re-INVITE
//	st := s.Stats() // packets, loss, jitter, RTT, MOS, digits
//
// A Session sends one 20 ms packet per tick of its media clock, receives
// on its own goroutine, and plays out to its Sink every 20 ms once media
// has arrived, JitterDelay behind the first packet. It latches its
// destination onto the source of valid received media (symmetric RTP), so
// a peer behind a NAT is reached where its packets come from.
package media
