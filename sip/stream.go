package sip

import (
	"bytes"
	"io"
)

// FrameStream finds the first message in b, bytes read from a stream
// transport (TCP, TLS, RFC 3261 §18.3): the message is b[start:end]. Leading
// CRLFs, which keep-alives and §7.5 allow, are skipped. end is 0 while the
// message is still incomplete. A message is framed by its Content-Length,
// which a stream message must carry (§20.14; a missing one is taken as 0).
// An error means framing is lost and the connection must be closed: a
// Content-Length that is malformed, negative or given twice with different
// values (RFC 4475 §3.1.2.3, §3.3.9), or a message that would exceed max
// bytes (MaxMessageSize if max <= 0), detected without waiting for the rest.
func FrameStream(b []byte, max int) (start, end int, err error) {
	start, end, _, _, err = frame(b, max, 0)
	return start, end, err
}

// frame is FrameStream resuming the search for the end of the header
// section where an earlier call on a prefix of the same bytes left off
// (scanned), so that a message trickling in byte by byte costs linear time.
// Once the headers are complete but the body is not, need is the length of
// b the message will span.
func frame(b []byte, max, scanned int) (start, end, need, nowScanned int, err error) {
	if max <= 0 {
		max = MaxMessageSize
	}
	start = skipCRLF(b)
	rest := b[start:]
	// Every '\n' before scanned-2 was judged with the two bytes after it
	// at hand; only the last two need another look.
	from := max0(scanned - 2)
	hdrEnd, bodyStart := headerEnd(rest, from)
	if hdrEnd < 0 {
		if len(rest) > max {
			return start, 0, 0, 0, ErrMessageTooLarge
		}
		return start, 0, 0, len(rest), nil
	}
	cl, err := scanContentLength(rest[:hdrEnd])
	if err != nil {
		return start, 0, 0, 0, err
	}
	total := bodyStart + cl
	if total > max {
		return start, 0, 0, 0, ErrMessageTooLarge
	}
	if len(rest) < total {
		return start, 0, start + total, hdrEnd, nil
	}
	return start, start + total, 0, 0, nil
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

// scanContentLength finds Content-Length (or "l") in a header section
// without parsing the other headers.
func scanContentLength(h []byte) (int, error) {
	cl, found := 0, false
	for len(h) > 0 {
		// One header line with its folded continuations (§7.3.1).
		end := 0
		for {
			i := bytes.IndexByte(h[end:], '\n')
			if i < 0 {
				end = len(h)
				break
			}
			end += i + 1
			if end >= len(h) || !isWS(h[end]) {
				break
			}
		}
		line := h[:end]
		h = h[end:]
		colon := bytes.IndexByte(line, ':')
		if colon < 0 || len(line) == 0 || isWS(line[0]) {
			continue
		}
		name := trimLWS(string(line[:colon]))
		if kindOf(name) != hContentLength {
			continue
		}
		v := trimLWS(string(line[colon+1:]))
		n, ok := parseUint(v, 1<<31-1)
		if !ok {
			return 0, &SyntaxError{What: "Content-Length", Msg: "not a length: " + quoteShort(v)}
		}
		if found && int(n) != cl {
			return 0, &SyntaxError{What: "Content-Length", Msg: "several different values"}
		}
		cl, found = int(n), true
	}
	return cl, nil
}

// ParseStream parses one message that FrameStream has delimited. Unlike
// Parse, it copies msg (stream buffers are reused), and a Content-Length it
// cannot use is an error.
func ParseStream(msg []byte) (*Message, error) {
	if len(msg) > MaxMessageSize {
		return nil, ErrMessageTooLarge
	}
	msg = msg[skipCRLF(msg):]
	if len(msg) == 0 {
		return nil, errorf("empty message")
	}
	buf := make([]byte, len(msg))
	copy(buf, msg)
	m := &Message{}
	if err := m.parse(buf, false); err != nil {
		return nil, err
	}
	return m, nil
}

// StreamReader reads messages from a stream transport. It never buffers more
// than MaxSize plus one read: a message that would be larger fails with
// ErrMessageTooLarge as soon as its headers or Content-Length show it.
type StreamReader struct {
	// MaxSize bounds one message; 0 means MaxMessageSize, which is also
	// the largest value that takes effect.
	MaxSize int
	// KeepAlive, if set, is called for each CRLFCRLF keep-alive ping seen
	// between messages; the transport answers it with CRLF (RFC 5626
	// §3.5.1).
	KeepAlive func()

	r       io.Reader
	buf     []byte // buf[off:] holds unread bytes
	off     int
	crlf    int // CRLF pairs seen since the last message or ping
	scanned int // bytes of the pending message already searched by frame
	need    int // once its headers are in: bytes of buf[off:] the pending message spans
}

// NewStreamReader returns a StreamReader reading from r.
func NewStreamReader(r io.Reader) *StreamReader { return &StreamReader{r: r} }

// ReadMessage returns the next message. At a clean end of stream it returns
// io.EOF; if the stream ends inside a message, ErrIncomplete. After any
// other error the connection should be closed: framing is lost, or (an
// error of ParseStream) the peer sends what is not SIP.
func (s *StreamReader) ReadMessage() (*Message, error) {
	max := s.MaxSize
	if max <= 0 || max > MaxMessageSize {
		max = MaxMessageSize
	}
	for {
		if s.need > 0 && len(s.buf)-s.off < s.need {
			// Headers framed already; wait for the rest of the body
			// without scanning them again.
			if err := s.fill(max); err != nil {
				if err == io.EOF {
					return nil, ErrIncomplete
				}
				return nil, err
			}
			continue
		}
		s.skipPings()
		start, end, need, scanned, err := frame(s.buf[s.off:], max, s.scanned)
		if err != nil {
			return nil, err
		}
		s.scanned = scanned
		if end == 0 && need > 0 {
			s.need = need
		}
		if end > 0 {
			s.need = 0
			msg := s.buf[s.off+start : s.off+end]
			s.off += end
			s.crlf = 0
			return ParseStream(msg)
		}
		if err := s.fill(max); err != nil {
			if err == io.EOF && len(s.buf)-s.off > 0 {
				return nil, ErrIncomplete
			}
			return nil, err
		}
	}
}

// skipPings consumes CRLFs before a message and reports each CRLFCRLF.
func (s *StreamReader) skipPings() {
	for s.off < len(s.buf) {
		c := s.buf[s.off]
		if c == '\r' && s.off+1 < len(s.buf) && s.buf[s.off+1] == '\n' {
			s.off += 2
			s.crlf++
			if s.crlf == 2 {
				s.crlf = 0
				if s.KeepAlive != nil {
					s.KeepAlive()
				}
			}
			continue
		}
		if c == '\n' {
			s.off++
			continue
		}
		return
	}
}

// fill reads more bytes, compacting the buffer first.
func (s *StreamReader) fill(max int) error {
	if s.off > 0 {
		n := copy(s.buf, s.buf[s.off:])
		s.buf = s.buf[:n]
		s.off = 0
	}
	if cap(s.buf)-len(s.buf) < 2048 {
		size := 2*cap(s.buf) + 4096
		if size > max+4096 {
			size = max + 4096
		}
		if size <= len(s.buf) {
			return ErrMessageTooLarge
		}
		nb := make([]byte, len(s.buf), size)
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
