package sip

import (
	"errors"
	"fmt"
)

// MaxMessageSize is the largest message, start line to end of body, that
// Parse and StreamReader accept: 64 KiB. Anything longer is refused with
// ErrMessageTooLarge and never buffered beyond this bound.
const MaxMessageSize = 64 << 10

var (
	// ErrMessageTooLarge reports a message longer than the size limit.
	ErrMessageTooLarge = errors.New("sip: message larger than 64 KiB")
	// ErrMalformed is wrapped by every syntax error this package returns;
	// test for it with errors.Is.
	ErrMalformed = errors.New("sip: malformed message")
	// ErrIncomplete reports a stream that ended inside a message.
	ErrIncomplete = errors.New("sip: stream ended inside a message")
	// ErrNoHeader reports a lookup of a header the message does not carry.
	ErrNoHeader = errors.New("sip: header not present")
)

// SyntaxError describes what is wrong with a message, header or URI.
// It matches ErrMalformed with errors.Is.
type SyntaxError struct {
	What string // e.g. "Via", "Request-Line", "URI"
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.What == "" {
		return "sip: " + e.Msg
	}
	return "sip: bad " + e.What + ": " + e.Msg
}

// Is makes every SyntaxError match ErrMalformed.
func (e *SyntaxError) Is(target error) bool { return target == ErrMalformed }

func errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...)}
}

// inHeader names the header an error came from.
func inHeader(name string, err error) error {
	if err == nil {
		return nil
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.What == name {
		return err
	}
	if se.What == "" {
		return &SyntaxError{What: name, Msg: se.Msg}
	}
	return &SyntaxError{What: name, Msg: se.What + ": " + se.Msg}
}
