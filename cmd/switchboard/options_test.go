package main

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// TestOptionsCommand runs `switchboard options` against a server on
// loopback and checks the line and exit status an operator sees.
func TestOptionsCommand(t *testing.T) {
	srv := &stack.Server{Handler: stack.HandlerFunc(func(ctx context.Context, tx *stack.Tx, req *sip.Message) {
		if req.RequestURI.User == "missing" {
			tx.Reply(404, "")
			return
		}
		tx.Reply(200, "")
	})}
	udp, err := srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := srv.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := srv.Listen("ws", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	cases := []struct {
		args []string
		code int
		line string
	}{
		{[]string{"options", "sip:" + udp.String()}, 0, "SIP/2.0 200 OK ("},
		{[]string{"options", "-transport", "tcp", "sip:" + tcp.String()}, 0, "SIP/2.0 200 OK ("},
		{[]string{"options", "-transport", "ws", "sip:" + ws.String()}, 0, "SIP/2.0 200 OK ("},
		{[]string{"options", "-transport", "sctp", "sip:" + udp.String()}, 2, ""},
		{[]string{"options", "sip:missing@" + udp.String()}, 1, "SIP/2.0 404 Not Found ("},
		{[]string{"options", "-timeout", "300ms", "sip:127.0.0.1:9"}, 2, "no response from sip:127.0.0.1:9"},
		{[]string{"options", "-transport", "tcp", "sip:127.0.0.1:9"}, 2, "connect to TCP 127.0.0.1:9"},
		{[]string{"options", "mailto:x@y"}, 2, ""},
	}
	for _, c := range cases {
		code, out, _ := runCLI(c.args...)
		if code != c.code || !strings.Contains(out, c.line) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", c.args, code, out, c.code, c.line)
		}
	}
}
