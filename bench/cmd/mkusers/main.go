// Command mkusers fills a Switchboard data directory with numbered
// subscriber accounts for the authenticated REGISTER benchmark
// (bench/sipp/run.sh, SCENARIO=register_auth):
//
//	go run ./cmd/mkusers -data DIR -n 300000 [-domain example.com]
//
// It writes the accounts user000001 … userN (numbered with -width digits,
// by default six or as many as N has) at DOMAIN, each with the password "pw-" followed by its
// user name, to DIR/subscribers.db through subscriber.OpenSQLite and Put,
// the store `switchboard serve` reads. Kamailio's bench configuration
// (bench/kamailio/registrar_auth.cfg) derives the same passwords, so the
// two servers are driven with one SIPp injection file.
//
// Each Put is its own durable transaction (one fsync each, about 1 ms on
// a disk), and the store serialises them: on a disk 100 000 accounts take
// minutes, on a tmpfs (/dev/shm) seconds. run.sh therefore builds the file
// on a tmpfs and copies it into the server's data directory. Several
// goroutines compute the accounts (the HA1s) in parallel. Existing
// accounts are overwritten.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-sip/switchboard/subscriber"
)

func main() {
	data := flag.String("data", "", "the data directory (required)")
	n := flag.Int("n", 0, "how many accounts (required)")
	domain := flag.String("domain", "example.com", "the accounts' domain, which is also the digest realm")
	width := flag.Int("width", 0, "digits in the user numbers (default max(6, digits of N))")
	workers := flag.Int("workers", 4, "concurrent writers")
	flag.Parse()
	if *data == "" || *n <= 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkusers -data DIR -n N [-domain D] [-width DIGITS] [-workers W]")
		os.Exit(2)
	}
	start := time.Now()
	store, err := subscriber.OpenSQLite(filepath.Join(*data, subscriber.FileName))
	if err != nil {
		log.Fatalf("mkusers: %v", err)
	}
	if *width <= 0 {
		*width = max(6, len(fmt.Sprint(*n)))
	}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	now := time.Now()
	for range max(1, *workers) {
		wg.Go(func() {
			for failed.Load() == nil {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				user := fmt.Sprintf("user%0*d", *width, i)
				a, err := subscriber.NewAccount(user, *domain, "pw-"+user, now)
				if err == nil {
					err = store.Put(context.Background(), a)
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := store.Close(); err != nil {
		log.Fatalf("mkusers: %v", err)
	}
	if p := failed.Load(); p != nil {
		log.Fatalf("mkusers: %v", *p)
	}
	fmt.Printf("mkusers: %d accounts at %s in %s (%.1f s)\n", *n, *domain, *data, time.Since(start).Seconds())
}
