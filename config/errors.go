package config

import (
	"fmt"
	"strings"
)

// An Error is one problem in a configuration.
type Error struct {
	File string // the file, as given to Load or Parse; "" when not from a file
	Line int    // 1-based line in File; 0 when unknown (a default, or no file)
	Path string // the field, such as "registrar.min_expires" or "listen.udp[1]"; "" for the whole file
	Msg  string // what is wrong, then after "; " what to do
}

// Error returns "FILE:LINE: PATH: MSG", leaving out what is unknown. An
// Error not from a file reads "config: PATH: MSG".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "config: line %d: ", e.Line)
	default:
		b.WriteString("config: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration, in the order of the
// lines they are on (problems without a line last). Load, Parse and
// Validate return their problems as an Errors; find it with errors.As.
type Errors []*Error

// Error returns each problem's Error on its own line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
