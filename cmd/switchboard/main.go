// Command switchboard is the Switchboard SIP server suite in one binary.
//
//	switchboard version          print the version
//	switchboard options [-transport udp|tcp|tls|ws|wss] [-timeout D] sip:host[:port]
//	                             send OPTIONS (like sipsak -s), print the
//	                             status line and round-trip time; exit 0 on
//	                             2xx, 1 on another final response, 2 on
//	                             timeout or transport error
//	switchboard parse [-role R] FILE
//	                             parse one SIP message (a datagram's bytes)
//	                             and print its structure and the verdict a
//	                             server in role R (uas, proxy, registrar)
//	                             owes it; exit 0 when the verdict is ok
//	switchboard check-config [-config FILE]
//	                             check a configuration file (default
//	                             ./switchboard.yaml when present, else the
//	                             defaults); print "ok: FILE" and a summary,
//	                             or every problem as FILE:LINE: FIELD: what
//	                             is wrong; what to do; exit 0 when valid,
//	                             1 when not, 2 on bad usage
//	switchboard user add|passwd USER@DOMAIN [-password P] [-config FILE | -data DIR]
//	switchboard user remove USER@DOMAIN [-config FILE | -data DIR]
//	switchboard user list [-config FILE | -data DIR]
//	                             add a subscriber, change their password,
//	                             remove them, or list them, in
//	                             DATA_DIR/subscribers.db (a running server
//	                             sees the change at once); without -password,
//	                             prompt twice on a terminal or read one line
//	                             of standard input; exit 0 when done, 1 when
//	                             the operation failed, 2 on bad usage
//	switchboard call [flags] sip:user@host
//	switchboard answer [flags] [sip:registrar]
//	switchboard register [-once] [flags] sip:registrar
//	switchboard message [flags] sip:user@host TEXT
//	                             the softphone (docs/ua.md): place a call
//	                             playing and recording WAV files with DTMF,
//	                             answer calls, keep a registration, send a
//	                             MESSAGE; common flags -user, -password,
//	                             -proxy, -transport, -srtp, -ca, -listen;
//	                             exit 0 when done, 1 when refused or
//	                             failed, 2 on bad usage or input
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/switchboard-sip/switchboard/sip"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: switchboard version | serve | call|answer|register|message ... | options [-transport udp|tcp|tls|ws|wss] sip:host[:port] | parse [-role uas|proxy|registrar] FILE | check-config [-config FILE] | user add|passwd|remove|list ... | location list")
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintln(stdout, "switchboard", version)
		return 0
	case "parse":
		return parseCmd(args[1:], stdout, stderr)
	case "options":
		return optionsCmd(args[1:], stdout, stderr)
	case "check-config":
		return checkConfigCmd(args[1:], stdout, stderr)
	case "user":
		return userCmd(args[1:], stdin, stdout, stderr)
	case "serve":
		return serveCmd(args[1:], stdout, stderr)
	case "location":
		return locationCmd(args[1:], stdout, stderr)
	case "register":
		return registerCmd(args[1:], stdout, stderr)
	case "call":
		return callCmd(args[1:], stdin, stdout, stderr)
	case "answer":
		return answerCmd(args[1:], stdin, stdout, stderr)
	case "message":
		return messageCmd(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "switchboard: unknown command %q; try serve, call, answer, register, message, options, user, parse or check-config\n", args[0])
	return 2
}

func parseCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "uas", "the element judging the message: uas, proxy or registrar")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: switchboard parse [-role uas|proxy|registrar] FILE (- for standard input)")
		return 2
	}
	var p sip.Policy
	switch *role {
	case "uas":
		p.Role = sip.RoleUAS
	case "proxy":
		p.Role = sip.RoleProxy
	case "registrar":
		p.Role = sip.RoleRegistrar
	default:
		fmt.Fprintf(stderr, "switchboard parse: unknown role %q; use uas, proxy or registrar\n", *role)
		return 2
	}
	data, err := readInput(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "switchboard parse: %v\n", err)
		return 2
	}
	m, err := sip.Parse(data)
	if err != nil {
		fmt.Fprintf(stdout, "error: %v\n", err)
		fmt.Fprintln(stdout, "verdict: drop")
		return 1
	}
	fmt.Fprint(stdout, sip.Describe(m))
	v := p.Check(m)
	if v.Err != nil {
		fmt.Fprintf(stdout, "error: %v\n", v.Err)
	}
	fmt.Fprintf(stdout, "verdict: %s\n", v)
	if !v.OK() {
		return 1
	}
	return 0
}

// readInput reads at most one byte more than a message may hold, so that an
// oversized file is refused without being read whole.
func readInput(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, sip.MaxMessageSize+1))
	if err != nil {
		return nil, errors.New("read " + name + ": " + err.Error())
	}
	return data, nil
}
