package media

import (
	"context"
	"fmt"
	"strings"
)

// dtmfDigits maps RFC 4733 §3.2 event codes 0-15 to their digits.
const dtmfDigits = "0123456789*#ABCD"

// dtmfCode returns the RFC 4733 §3.2 event code of a DTMF digit; the
// letters may be lower case.
func dtmfCode(r rune) (byte, bool) {
	if r >= 'a' && r <= 'd' {
		r -= 'a' - 'A'
	}
	i := strings.IndexRune(dtmfDigits, r)
	if i < 0 {
		return 0, false
	}
	return byte(i), true
}

// SendDTMF queues digits (0-9 * # A-D, letters in either case) to be sent
// as RFC 4733 telephone-events after any digits already queued. Each digit
// is a 100 ms event: a packet every 20 ms with the event's timestamp and a
// growing duration, the marker bit on the first, the E bit on the last,
// which is sent three times (RFC 4733 §2.5.1); 60 ms separate the events.
// No audio is sent while an event is. Digits are sent only while sending is
// on (SetDirection) and the destination is known.
//
// An invalid digit is an error and nothing is queued; so is a Session
// without a telephone-event payload type (Config.DTMFType 0) or one that is
// closed (ErrClosed). Use WaitDTMF to wait until the queue has been sent.
func (s *Session) SendDTMF(digits string) error {
	if s.dtmfPT == 0 {
		return fmt.Errorf("media: cannot send DTMF %q: no telephone-event payload type (Config.DTMFType is 0); negotiate telephone-event in SDP", digits)
	}
	q := make([]byte, 0, len(digits))
	for i, r := range digits {
		c, ok := dtmfCode(r)
		if !ok {
			return fmt.Errorf("media: cannot send DTMF %q: %q at byte %d is not a DTMF digit; use 0-9 * # A-D", digits, r, i)
		}
		q = append(q, dtmfDigits[c])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(q) == 0 {
		return nil
	}
	if len(s.dtmfQueue) == 0 {
		s.dtmfIdle = make(chan struct{})
	}
	s.dtmfQueue = append(s.dtmfQueue, q...)
	return nil
}

// WaitDTMF returns nil once every digit queued by SendDTMF has been sent
// (immediately when none is queued), ctx's error wrapped when ctx ends
// first, or ErrClosed when the Session is closed first.
func (s *Session) WaitDTMF(ctx context.Context) error {
	s.mu.Lock()
	if len(s.dtmfQueue) == 0 {
		s.mu.Unlock()
		return nil
	}
	idle := s.dtmfIdle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("media: waiting for DTMF to be sent: %w", ctx.Err())
	case <-s.stop:
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.dtmfQueue) == 0 {
			return nil
		}
		return ErrClosed
	}
}
