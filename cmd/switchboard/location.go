package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/switchboard-sip/switchboard/location"
)

// locationCmd runs `switchboard location list`: the bindings live now, read
// from the data directory's location database and its journals, without
// writing to them (a running server keeps them up to date: what it
// acknowledged is there).
func locationCmd(args []string, stdout, stderr io.Writer) int {
	usage := "usage: switchboard location list [-config FILE | -data DIR]"
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fset := flag.NewFlagSet("location list", flag.ContinueOnError)
	fset.SetOutput(stderr)
	cfgPath := fset.String("config", "", "configuration file whose data_dir to read")
	data := fset.String("data", "", "data directory")
	if err := fset.Parse(args[1:]); err != nil {
		return 2
	}
	if fset.NArg() != 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	dir, err := dataDirFor(*cfgPath, *data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	st, err := location.Snapshot(filepath.Join(dir, location.FileName))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	now := time.Now()
	bs, err := st.List(context.Background(), now)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AOR\tCONTACT\tEXPIRES\tQ\tVIA\tINSTANCE\tUSER-AGENT")
	for i := range bs {
		b := &bs[i]
		q := "-"
		if b.Q >= 0 {
			q = strconv.FormatFloat(float64(b.Q)/1000, 'f', -1, 64)
		}
		via := b.Transport + " " + b.Source.String()
		inst := b.Instance
		if b.RegID != 0 {
			inst += " reg-id=" + strconv.Itoa(b.RegID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%ds\t%s\t%s\t%s\t%s\n", b.AOR, b.Contact, int(b.Expires.Sub(now).Seconds()), q, via, orDash(inst), orDash(b.UserAgent))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d binding(s)\n", len(bs))
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
