package sip

import (
	"bytes"
	"fmt"
	"os"
)

// compareMessages reports how two messages differ in what a receiver sees:
// start line, headers in order (Content-Length aside: AppendTo always states
// the real body length), body and the validation defect. "" means equal.
func compareMessages(a, b *Message) string {
	if a.Method != b.Method || a.StatusCode != b.StatusCode || a.Reason != b.Reason || a.Version != b.Version {
		return fmt.Sprintf("start line %q %d %q %q vs %q %d %q %q", a.Method, a.StatusCode, a.Reason, a.Version, b.Method, b.StatusCode, b.Reason, b.Version)
	}
	if a.RequestURI != b.RequestURI || a.RequestTarget() != b.RequestTarget() {
		return fmt.Sprintf("Request-URI %+v vs %+v", a.RequestURI, b.RequestURI)
	}
	ha, hb := withoutCL(a.Headers), withoutCL(b.Headers)
	if len(ha) != len(hb) {
		return fmt.Sprintf("%d headers vs %d", len(ha), len(hb))
	}
	for i := range ha {
		if ha[i].Name != hb[i].Name || ha[i].Value != hb[i].Value {
			return fmt.Sprintf("header %d: %q: %q vs %q: %q", i, ha[i].Name, ha[i].Value, hb[i].Name, hb[i].Value)
		}
	}
	if !bytes.Equal(a.Body, b.Body) {
		return fmt.Sprintf("body %q vs %q", a.Body, b.Body)
	}
	return ""
}

func withoutCL(hs []Header) []Header {
	var out []Header
	for _, h := range hs {
		if h.k() != hContentLength {
			out = append(out, h)
		}
	}
	return out
}

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
