package sip

import (
	"fmt"
	"strings"
)

// Describe renders m's parsed structure for people: the start line, each
// header with what the stack reads from it (or why it cannot), and the body
// size. It is meant for diagnostics (`switchboard parse`, traces), not as a
// wire format.
func Describe(m *Message) string {
	var b strings.Builder
	if m.IsRequest() {
		fmt.Fprintf(&b, "request  %s\n", m.Method)
		if m.RequestURI.IsZero() {
			fmt.Fprintf(&b, "  uri      %q (unparsed)\n", m.target)
		} else {
			describeURI(&b, "  uri      ", &m.RequestURI)
		}
	} else {
		fmt.Fprintf(&b, "response %d %q\n", m.StatusCode, m.Reason)
	}
	fmt.Fprintf(&b, "  version  %q\n", m.Version)
	if m.defect != nil {
		fmt.Fprintf(&b, "  defect   %v\n", m.defect)
	}
	fmt.Fprintf(&b, "headers  %d\n", len(m.Headers))
	for i := range m.Headers {
		h := &m.Headers[i]
		name := h.Name
		if name == "" {
			name = "(no colon)"
		}
		fmt.Fprintf(&b, "  %-20s %q\n", name, h.Value)
		k := h.k()
		switch k {
		case hVia:
			eachItemOf(h.Value, func(item string) bool {
				v, err := ParseVia(item)
				if err != nil {
					fmt.Fprintf(&b, "    error: %v\n", err)
					return true
				}
				fmt.Fprintf(&b, "    via %s/%s/%s host=%s port=%d branch=%q\n", v.Protocol, v.Version, v.Transport, v.Host, v.Port, v.Branch())
				return true
			})
		case hFrom, hTo, hContact, hRoute, hRecordRoute, hPath:
			if k == hContact && h.Value == "*" {
				fmt.Fprintf(&b, "    wildcard\n")
				break
			}
			eachItemOf(h.Value, func(item string) bool {
				a, err := ParseAddress(item)
				if err != nil {
					fmt.Fprintf(&b, "    error: %v\n", err)
					return true
				}
				fmt.Fprintf(&b, "    display=%q", a.Display)
				describeURI(&b, " uri=", &a.URI)
				if a.Params != "" {
					fmt.Fprintf(&b, "    params=%q\n", string(a.Params))
				}
				return true
			})
		case hCSeq:
			if c, err := ParseCSeq(h.Value); err != nil {
				fmt.Fprintf(&b, "    error: %v\n", err)
			} else {
				fmt.Fprintf(&b, "    seq=%d method=%s\n", c.Seq, c.Method)
			}
		case hAuthorization, hProxyAuthorization, hWWWAuthenticate, hProxyAuthenticate:
			if a, err := ParseAuth(h.Value); err != nil {
				fmt.Fprintf(&b, "    error: %v\n", err)
			} else {
				fmt.Fprintf(&b, "    scheme=%s", a.Scheme)
				for n, v := range a.all() {
					fmt.Fprintf(&b, " %s=%q", n, Unquote(v))
				}
				b.WriteString("\n")
			}
		default:
			if k != hOther {
				if err := checkHeaderValue(m, k, h.Value); err != nil {
					fmt.Fprintf(&b, "    error: %v\n", err)
				}
			}
		}
	}
	fmt.Fprintf(&b, "body     %d bytes\n", len(m.Body))
	return b.String()
}

func describeURI(b *strings.Builder, prefix string, u *URI) {
	fmt.Fprintf(b, "%sscheme=%s", prefix, u.Scheme)
	if u.Opaque != "" {
		fmt.Fprintf(b, " opaque=%q\n", u.Opaque)
		return
	}
	if u.User != "" {
		fmt.Fprintf(b, " user=%q", u.User)
	}
	if u.Password != "" {
		fmt.Fprintf(b, " password=%q", u.Password)
	}
	if u.Host != "" {
		fmt.Fprintf(b, " host=%s", u.Host)
	}
	if u.Port != 0 {
		fmt.Fprintf(b, " port=%d", u.Port)
	}
	if u.Params != "" {
		fmt.Fprintf(b, " params=%q", string(u.Params))
	}
	if u.Headers != "" {
		fmt.Fprintf(b, " headers=%q", u.Headers)
	}
	b.WriteString("\n")
}
