package stack

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
)

// TestInline: a request Server.Inline takes is answered from another
// goroutine, later, with nothing from Handler; one it declines goes to
// Handler. A request still waiting for its answer holds a MaxConcurrent
// slot (the next one gets 503) and holds up Shutdown until it is answered.
func TestInline(t *testing.T) {
	var handled atomic.Int32
	release := make(chan struct{})
	taken := make(chan struct{}, 4)
	srv := &Server{
		MaxConcurrent: 1,
		Handler: HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
			handled.Add(1)
			tx.Reply(200, "From the handler")
		}),
		Inline: func(tx *Tx, req *sip.Message) bool {
			if req.Get("Subject") != "inline" {
				return false
			}
			taken <- struct{}{}
			go func() {
				<-release
				tx.Reply(202, "Later")
			}()
			return true
		},
	}
	a, err := srv.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cli, _ := newServer(t, nil, "udp")
	do := func(subject string) (*sip.Message, error) {
		req := options(t, "sip:echo@"+a.String())
		req.Headers = append(req.Headers, sip.NewHeader("Subject", subject))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cli.Client().Do(ctx, req)
	}

	// Declined: the handler answers, and the slot is free again after.
	if res, err := do("handler"); err != nil || res.StatusCode != 200 {
		t.Fatalf("declined request: %v, %v; want 200 from the handler", res, err)
	}

	// Taken: no answer until released; meanwhile the one slot is held.
	type result struct {
		res *sip.Message
		err error
	}
	first := make(chan result, 1)
	// The declined request's handler frees its slot just after its 200
	// went out: an inline request that arrives before that gets 503 and
	// is sent again (a bounded number of times).
	for try := 0; ; try++ {
		go func() { res, err := do("inline"); first <- result{res, err} }()
		select {
		case <-taken:
		case r := <-first:
			if r.err == nil && r.res.StatusCode == 503 && try < 20 {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			t.Fatalf("inline request: %v, %v before it was taken", r.res, r.err)
		case <-time.After(15 * time.Second):
			t.Fatal("the inline request was not taken within 15 s")
		}
		break
	}
	if res, err := do("handler"); err != nil || res.StatusCode != 503 {
		t.Errorf("request while the inline one holds the only slot: %v, %v; want 503", res, err)
	}
	select {
	case r := <-first:
		t.Fatalf("inline request answered before it was released: %v, %v", r.res, r.err)
	default:
	}

	// Shutdown waits for the taken request.
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a taken request was unanswered", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	r := <-first
	if r.err != nil || r.res.StatusCode != 202 || r.res.Reason != "Later" {
		t.Errorf("inline request: %v, %v; want 202 Later", r.res, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := handled.Load(); n != 1 {
		t.Errorf("Handler ran %d times, want 1 (the declined request)", n)
	}
}
