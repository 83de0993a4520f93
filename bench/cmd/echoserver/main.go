// Command echoserver is the server side of the SIPp load benchmark
// (bench/sipp/run.sh): a stack.Server on one UDP address whose handler
// answers OPTIONS and REGISTER with 200 and nothing else (other methods get
// the Mux's 405). Timers are the RFC defaults, so every non-INVITE
// transaction stays in the table for Timer J (32 s) as in production.
//
//	go run ./cmd/echoserver -addr 127.0.0.1:5070 [-cpuprofile cpu.pprof]
//
// It prints "listening udp ADDR" once ready. On SIGINT or SIGTERM it shuts
// down and prints its own CPU time (getrusage RUSAGE_SELF) and peak RSS,
// e.g. "cpu user=1.23s sys=0.45s total=1.68s maxrss=51234KiB"; the script
// reads /proc/PID/stat between runs instead, which needs no signal.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/stack"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5070", "UDP address to listen on")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until the server stops")
	flag.Parse()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatalf("echoserver: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatalf("echoserver: %v", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	var mux stack.Mux
	ok := func(ctx context.Context, tx *stack.Tx, req *sip.Message) { tx.Reply(200, "") }
	mux.HandleFunc("OPTIONS", ok)
	mux.HandleFunc("REGISTER", ok)
	srv := &stack.Server{Handler: &mux}
	local, err := srv.Listen("udp", *addr)
	if err != nil {
		log.Fatalf("echoserver: %v", err)
	}
	fmt.Printf("listening udp %s\n", local)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		user := time.Duration(ru.Utime.Nano())
		sys := time.Duration(ru.Stime.Nano())
		fmt.Printf("cpu user=%.2fs sys=%.2fs total=%.2fs maxrss=%dKiB\n",
			user.Seconds(), sys.Seconds(), (user + sys).Seconds(), ru.Maxrss)
	}
}
