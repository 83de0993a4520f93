package stack

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/transaction"
	"github.com/switchboard-sip/switchboard/transport"
)

func newServer(t *testing.T, h Handler, protos ...string) (*Server, map[string]string) {
	t.Helper()
	srv := &Server{Handler: h}
	addrs := map[string]string{}
	for _, p := range protos {
		a, err := srv.Listen(p, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[p] = a.String()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, addrs
}

func options(t *testing.T, target string) *sip.Message {
	t.Helper()
	u, err := sip.ParseURI(target)
	if err != nil {
		t.Fatal(err)
	}
	from, _ := sip.ParseAddress("<sip:tester@127.0.0.1>")
	return NewRequest("OPTIONS", u, from)
}

// TestOptionsRoundTrip: a client and a server on loopback exchange OPTIONS
// over UDP and TCP; the server sees received/rport and the client the 200.
func TestOptionsRoundTrip(t *testing.T) {
	var seen atomic.Value
	_, addrs := newServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		v, _ := req.Via()
		seen.Store(v)
		tx.Reply(200, "", sip.NewHeader("Allow", "OPTIONS"))
	}), "udp", "tcp")
	cli, _ := newServer(t, nil, "udp", "tcp")
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			req := options(t, "sip:echo@"+addrs[proto]+";transport="+proto)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := cli.Client().Do(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 200 || res.Get("Allow") != "OPTIONS" || res.CallID() != req.CallID() {
				t.Errorf("response:\n%s", res)
			}
			v := seen.Load().(sip.Via)
			if !strings.EqualFold(v.Transport, proto) || v.Params.Value("received") != "127.0.0.1" || v.Params.Value("rport") == "" {
				t.Errorf("server saw Via %s; want %s with received and rport", v, proto)
			}
		})
	}
}

// TestStatelessRejections: what fails validation is answered without a
// handler call and without a transaction.
func TestStatelessRejections(t *testing.T) {
	var calls atomic.Int32
	srv, addrs := newServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		calls.Add(1)
		tx.Reply(200, "")
	}), "udp")
	cli, _ := newServer(t, nil, "udp")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := options(t, "sip:echo@"+addrs["udp"])
	req.Add("Require", "nosuchextension")
	res, err := cli.Client().Do(ctx, req)
	if err != nil || res.StatusCode != 420 || res.Get("Unsupported") != "nosuchextension" {
		t.Fatalf("got %v %v, want 420 with Unsupported", res, err)
	}
	req = options(t, "sip:echo@"+addrs["udp"])
	req.Set("Max-Forwards", "256")
	res, err = cli.Client().Do(ctx, req)
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("got %v %v, want 400", res, err)
	}
	if calls.Load() != 0 {
		t.Errorf("handler ran %d times for rejected requests", calls.Load())
	}
	if s, _ := srv.Transactions(); s != 0 {
		t.Errorf("%d server transactions for stateless answers", s)
	}
}

// TestDigestRetry: a 401 with SHA-256 and MD5 challenges is answered once
// with SHA-256 credentials that the server can verify.
func TestDigestRetry(t *testing.T) {
	const realm, nonce = "switchboard.test", "abc123"
	var tries atomic.Int32
	_, addrs := newServer(t, HandlerFunc(func(ctx context.Context, tx *Tx, req *sip.Message) {
		tries.Add(1)
		h := req.Get("Authorization")
		if h == "" {
			tx.Reply(401, "",
				sip.NewHeader("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, nonce=%q, algorithm=MD5, qop="auth"`, realm, nonce)),
				sip.NewHeader("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, nonce=%q, algorithm=SHA-256, qop="auth"`, realm, nonce)))
			return
		}
		a, _ := sip.ParseAuth(h)
		get := func(n string) string { v, _ := a.Param(n); return v }
		var hf func() hash.Hash = md5.New
		if get("algorithm") == "SHA-256" {
			hf = sha256.New
		}
		hx := func(s string) string { d := hf(); d.Write([]byte(s)); return hex.EncodeToString(d.Sum(nil)) }
		want := hx(hx("alice:"+realm+":secret") + ":" + nonce + ":" + get("nc") + ":" + get("cnonce") + ":auth:" + hx(req.Method+":"+get("uri")))
		if get("response") != want || get("algorithm") != "SHA-256" {
			tx.Reply(403, "")
			return
		}
		tx.Reply(200, "")
	}), "udp")
	cli, _ := newServer(t, nil, "udp")
	c := cli.Client()
	c.Username, c.Password = "alice", "secret"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := options(t, "sip:echo@"+addrs["udp"])
	res, err := c.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("got %v %v, want 200 after one retry", res, err)
	}
	if cseq, _ := res.CSeq(); cseq.Seq != 2 || tries.Load() != 2 {
		t.Errorf("CSeq %d after %d tries; want the retry to use CSeq 2", cseq.Seq, tries.Load())
	}
	c.Password = "wrong"
	res, err = c.Do(ctx, options(t, "sip:echo@"+addrs["udp"]))
	if err != nil || res.StatusCode != 403 {
		t.Errorf("wrong password: %v %v, want the server's 403", res, err)
	}
}

// TestClientTimeout: a request to a port where nobody answers ends with
// ErrTimeout after Timer F (shortened T1).
func TestClientTimeout(t *testing.T) {
	srv := &Server{Timers: transaction.Timers{T1: 10 * time.Millisecond}}
	if _, err := srv.Listen("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	sink := &transport.Layer{Handler: func(*sip.Message, transport.Flow) {}} // never answers
	sinkAddr, err := sink.Listen("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = srv.Client().Do(ctx, options(t, "sip:nobody@"+sinkAddr.String()))
	if !errors.Is(err, transaction.ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
}
