package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/switchboard-sip/switchboard/config"
	"github.com/switchboard-sip/switchboard/subscriber"
)

const userUsage = `usage: switchboard user add USER@DOMAIN [-password P] [-config FILE | -data DIR]
       switchboard user passwd USER@DOMAIN [-password P] [-config FILE | -data DIR]
       switchboard user remove USER@DOMAIN [-config FILE | -data DIR]
       switchboard user list [-config FILE | -data DIR]`

// userCmd runs `switchboard user SUBCOMMAND`: it edits the subscriber
// database, DATA_DIR/subscribers.db, which a running server watches and
// reads again when it changes, so changes apply within a second. Without -password, add and
// passwd prompt twice on a terminal, or read one line from a piped stdin.
// Exit status: 0 done, 1 failed, 2 bad usage.
func userCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "passwd", "remove", "list":
	default:
		fmt.Fprintf(stderr, "switchboard user: unknown command %q; try add, passwd, remove or list\n%s\n", sub, userUsage)
		return 2
	}
	name := "switchboard user " + sub
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	cfgPath := flags.String("config", "", "the configuration `FILE` whose data_dir holds the database (default ./switchboard.yaml when present)")
	dataDir := flags.String("data", "", "the data directory `DIR` (overrides the configuration's data_dir; default ./switchboard-data)")
	var password *string
	if sub == "add" || sub == "passwd" {
		password = flags.String("password", "", "the password (visible to other local users in the process list; default: prompt, or one line of standard input)")
	}
	pos, err := parseInterspersed(flags, args)
	if err != nil {
		return 2
	}
	wantPos := 1
	if sub == "list" {
		wantPos = 0
	}
	if len(pos) != wantPos {
		fmt.Fprintln(stderr, userUsage)
		return 2
	}
	var user, domain string
	if wantPos == 1 {
		if user, domain, err = subscriber.ParseAddress(pos[0]); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n%s\n", name, err, userUsage)
			return 2
		}
	}
	passwordSet := false
	flags.Visit(func(f *flag.Flag) { passwordSet = passwordSet || f.Name == "password" })

	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, name+": "+format+"\n", a...)
		return 1
	}
	dir, err := dataDirFor(*cfgPath, *dataDir)
	if err != nil {
		return fail("%v", err)
	}
	path := filepath.Join(dir, subscriber.FileName)
	if sub != "add" {
		// Reading or changing accounts needs a database; do not create
		// an empty one in a mistyped directory.
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if sub == "list" {
				fmt.Fprintf(stderr, "no users: there is no subscriber database at %s\n", path)
				return 0
			}
			return fail("user %s@%s does not exist: there is no subscriber database at %s", user, domain, path)
		}
	}
	store, err := subscriber.OpenSQLite(path)
	if err != nil {
		return fail("%v", err)
	}
	defer store.Close()
	ctx := context.Background()
	addr := user + "@" + domain

	switch sub {
	case "add":
		if _, ok, err := store.Get(ctx, user, domain); err != nil {
			return fail("%v", err)
		} else if ok {
			return fail("user %s exists; use `switchboard user passwd` to change the password", addr)
		}
		pw, err := userPassword(addr, passwordSet, *password, stdin, stderr)
		if err != nil {
			return fail("%v", err)
		}
		a, err := subscriber.NewAccount(user, domain, pw, time.Now())
		if err != nil {
			return fail("%v", err)
		}
		if err := store.Add(ctx, a); errors.Is(err, subscriber.ErrExists) {
			return fail("user %s exists; use `switchboard user passwd` to change the password", addr)
		} else if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "added %s\n", addr)
	case "passwd":
		a, ok, err := store.Get(ctx, user, domain)
		if err != nil {
			return fail("%v", err)
		} else if !ok {
			return fail("user %s does not exist; add it with `switchboard user add %s`", addr, addr)
		}
		pw, err := userPassword(addr, passwordSet, *password, stdin, stderr)
		if err != nil {
			return fail("%v", err)
		}
		if a, err = a.WithPassword(pw, time.Now()); err != nil {
			return fail("%v", err)
		}
		if err := store.Put(ctx, a); err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "changed the password of %s\n", addr)
	case "remove":
		ok, err := store.Delete(ctx, user, domain)
		if err != nil {
			return fail("%v", err)
		} else if !ok {
			return fail("user %s does not exist", addr)
		}
		fmt.Fprintf(stdout, "removed %s\n", addr)
	case "list":
		accounts, err := store.List(ctx)
		if err != nil {
			return fail("%v", err)
		}
		if len(accounts) == 0 {
			fmt.Fprintf(stderr, "no users in %s\n", path)
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER@DOMAIN\tCREATED\tHA1")
		for _, a := range accounts {
			var algs []string
			if a.HA1MD5 != "" {
				algs = append(algs, "MD5")
			}
			if a.HA1SHA256 != "" {
				algs = append(algs, "SHA-256")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Address(), a.Created.UTC().Format(time.RFC3339), strings.Join(algs, ","))
		}
		tw.Flush()
	}
	return 0
}

// parseInterspersed parses fs's flags wherever they stand among args
// ("add alice@example.com -password x" as well as "add -password x
// alice@example.com") and returns the other arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dataDirFor returns the data directory that `switchboard serve` with the
// same -config and -data flags would use: dataDir when set, else the
// data_dir of the configuration (config.Load: cfgPath, or with none
// ./switchboard.yaml when present, else the default ./switchboard-data).
// The `user` and `location` commands use it.
func dataDirFor(cfgPath, dataDir string) (string, error) {
	if dataDir != "" {
		return filepath.Abs(dataDir)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return "", err
	}
	return cfg.DataDir, nil
}

// userPassword returns the password for addr: the -password value when
// set; else, when stdin is a terminal, one typed twice without echo; else
// the first line of stdin. It refuses an empty password.
func userPassword(addr string, set bool, value string, stdin io.Reader, stderr io.Writer) (string, error) {
	pw := value
	switch f, ok := stdin.(*os.File); {
	case set:
	case ok && term.IsTerminal(int(f.Fd())):
		fd := int(f.Fd())
		fmt.Fprintf(stderr, "Password for %s: ", addr)
		first, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprint(stderr, "Retype password: ")
		second, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if string(first) != string(second) {
			return "", errors.New("the passwords do not match; nothing changed")
		}
		pw = string(first)
	default:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if pw == "" && err != nil {
			return "", errors.New("no password: standard input is empty; pipe one line, run on a terminal, or use -password")
		}
	}
	if pw == "" {
		return "", errors.New("empty password refused")
	}
	return pw, nil
}
