package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/switchboard-sip/switchboard/config"
)

// checkConfigCmd loads a configuration the way serve does and reports the
// result: "ok: FILE" (or "ok: defaults") and a one-line summary on stdout,
// or every problem, one per line, on stderr. Exit status: 0 when the
// configuration is valid, 1 when it is not or cannot be read, 2 on bad
// usage.
func checkConfigCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "the configuration `file` (default ./"+config.DefaultFile+" when present, else the built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: switchboard check-config [-config FILE]")
		return 2
	}
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err) // an Errors prints one problem per line
		return 1
	}
	source := cfg.File
	if source == "" {
		source = "defaults"
	}
	fmt.Fprintln(stdout, "ok:", source)
	fmt.Fprintln(stdout, cfg.Summary())
	return 0
}
