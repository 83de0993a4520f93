package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

// optionsCmd sends one OPTIONS and reports the answer, like sipsak -s.
// Exit status: 0 on 2xx, 1 on another final response, 2 on timeout,
// transport error or bad usage.
func optionsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("options", flag.ContinueOnError)
	fs.SetOutput(stderr)
	proto := fs.String("transport", "udp", "udp, tcp, tls, ws or wss")
	timeout := fs.Duration("timeout", 32*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: switchboard options [-transport udp|tcp|tls|ws|wss] [-timeout 32s] sip:host[:port]")
		return 2
	}
	target, err := sip.ParseURI(fs.Arg(0))
	if err != nil || !target.IsSIP() {
		fmt.Fprintf(stderr, "switchboard options: %q is not a sip: or sips: URI\n", fs.Arg(0))
		return 2
	}
	p := strings.ToLower(*proto)
	switch p {
	case "udp", "tcp", "tls", "ws", "wss":
	default:
		fmt.Fprintf(stderr, "switchboard options: unknown transport %q; use udp, tcp, tls, ws or wss\n", *proto)
		return 2
	}
	srv := &stack.Server{}
	local := "0.0.0.0:0"
	if a, ok := sip.HostAddr(target.Host); ok && a.Is6() && !a.Is4In6() {
		local = "[::]:0"
	}
	if a, ok := sip.HostAddr(target.Host); ok && a.IsLoopback() {
		local = netip.AddrPortFrom(a, 0).String()
	}
	if _, err := srv.Listen("udp", local); err != nil {
		fmt.Fprintf(stderr, "switchboard options: %v\n", err)
		return 2
	}
	defer srv.Shutdown(context.Background())
	cli := srv.Client()
	cli.Transport = p
	from, _ := sip.ParseAddress("<sip:switchboard@invalid>")
	req := stack.NewRequest("OPTIONS", target, from)
	req.Add("Accept", "application/sdp")
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	res, err := cli.Do(ctx, req)
	rtt := time.Since(start)
	if err != nil {
		fmt.Fprintf(stdout, "no response from %s: %v\n", target.String(), err)
		return 2
	}
	fmt.Fprintf(stdout, "%s %d %s (%.1f ms)\n", res.Version, res.StatusCode, res.Reason, float64(rtt.Microseconds())/1000)
	if res.StatusCode/100 == 2 {
		return 0
	}
	return 1
}
