package subscriber_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip/digest"
	"github.com/switchboard-sip/switchboard/subscriber"
	"github.com/switchboard-sip/switchboard/subscriber/storetest"
)

func openSQLite(t testing.TB, dir string) *subscriber.SQLite {
	t.Helper()
	s, err := subscriber.OpenSQLite(filepath.Join(dir, subscriber.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open:    func(t *testing.T, dir string) subscriber.Store { return openSQLite(t, dir) },
		Durable: true,
	})
}

func TestMemory(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(*testing.T, string) subscriber.Store { return new(subscriber.Memory) },
	})
}

// TestSQLiteSharedFile opens one file twice, as `switchboard serve` and
// `switchboard user` do in two processes, and checks that each sees the
// other's writes at once: the server caches nothing.
func TestSQLiteSharedFile(t *testing.T) {
	dir := t.TempDir()
	server, cli := openSQLite(t, dir), openSQLite(t, dir)
	defer server.Close()
	defer cli.Close()
	ctx := t.Context()
	creds := subscriber.Credentials{Store: server}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	// The server has looked alice up (and found nothing) before she is
	// added, so a cache would now be stale.
	if _, ok, err := creds.HA1(ctx, "alice", "example.com", digest.MD5); ok || err != nil {
		t.Fatalf("HA1 before add = %v, %v", ok, err)
	}
	a, err := subscriber.NewAccount("alice", "example.com", "first", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Add(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantHA1 := func(password string) {
		t.Helper()
		for _, alg := range []digest.Algorithm{digest.MD5, digest.SHA256} {
			got, ok, err := creds.HA1(ctx, "alice", "example.com", alg)
			if want := alg.HA1("alice", "example.com", password); got != want || !ok || err != nil {
				t.Fatalf("%s HA1 = %q, %v, %v; want %q (password %q)", alg, got, ok, err, want, password)
			}
		}
	}
	wantHA1("first")

	changed, err := a.WithPassword("second", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Put(ctx, changed); err != nil {
		t.Fatal(err)
	}
	wantHA1("second")

	if ok, err := cli.Delete(ctx, "alice", "example.com"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if _, ok, err := creds.HA1(ctx, "alice", "example.com", digest.MD5); ok || err != nil {
		t.Fatalf("HA1 after remove = %v, %v; want false, nil", ok, err)
	}

	// And the other way round: the server's writes reach the CLI.
	if err := server.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	if l, err := cli.List(ctx); err != nil || len(l) != 1 || l[0].User != "alice" {
		t.Fatalf("List through the second handle = %v, %v", l, err)
	}
}

// benchStore returns an SQLite store of 1000 accounts besides alice's.
func benchStore(b *testing.B) (subscriber.Credentials, subscriber.Account) {
	s := openSQLite(b, b.TempDir())
	b.Cleanup(func() { s.Close() })
	now := time.Now()
	all := make([]subscriber.Account, 0, 1001)
	for i := range 1000 {
		a, err := subscriber.NewAccount(fmt.Sprint("user", i), fmt.Sprintf("d%d.example.com", i%10), "secret", now)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, a)
	}
	alice, _ := subscriber.NewAccount("alice", "example.com", "secret", now)
	for _, a := range append(all, alice) {
		if err := s.Put(b.Context(), a); err != nil {
			b.Fatal(err)
		}
	}
	return subscriber.Credentials{Store: s}, alice
}

// BenchmarkCredentialsHA1 is the store's part of every authenticated
// request without the in-memory copy: one SQLite lookup.
func BenchmarkCredentialsHA1(b *testing.B) {
	creds, alice := benchStore(b)
	benchHA1(b, creds, alice)
}

// benchHA1 looks alice's SHA-256 HA1 up b.N times.
func benchHA1(b *testing.B, creds subscriber.Credentials, alice subscriber.Account) {
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		ha1, ok, err := creds.HA1(ctx, "alice", "example.com", digest.SHA256)
		if !ok || err != nil || ha1 != alice.HA1SHA256 {
			b.Fatalf("HA1 = %q, %v, %v", ha1, ok, err)
		}
	}
}

// BenchmarkCredentialsHA1Parallel is BenchmarkCredentialsHA1 from
// GOMAXPROCS goroutines, as a busy server calls it.
func BenchmarkCredentialsHA1Parallel(b *testing.B) {
	creds, alice := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ha1, ok, err := creds.HA1(ctx, "alice", "example.com", digest.MD5)
			if !ok || err != nil || ha1 != alice.HA1MD5 {
				b.Errorf("HA1 = %q, %v, %v", ha1, ok, err)
				return
			}
		}
	})
}

// TestSQLiteCached runs the conformance suite against a store that caches
// its reads.
func TestSQLiteCached(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, dir string) subscriber.Store {
			s := openSQLite(t, dir)
			if err := s.CacheReads(time.Hour); err != nil {
				t.Fatal(err)
			}
			return s
		},
		Durable: true,
	})
}

// TestCacheSeesOtherProcess: a server handle that caches its reads sees
// an account added, a password changed and an account removed through
// another handle (another process in real life) within its freshness.
func TestCacheSeesOtherProcess(t *testing.T) {
	dir := t.TempDir()
	server, cli := openSQLite(t, dir), openSQLite(t, dir)
	defer server.Close()
	defer cli.Close()
	const fresh = 50 * time.Millisecond
	if err := server.CacheReads(fresh); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	creds := subscriber.Credentials{Store: server}
	// eventually polls until the server's answer is want, for at most 5 s.
	eventually := func(what, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ha1, _, err := creds.HA1(ctx, "alice", "example.com", digest.MD5)
			if err != nil {
				t.Fatal(err)
			}
			if ha1 == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the cached store still answers %q, want %q", what, ha1, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	eventually("before add", "") // caches the miss
	a, _ := subscriber.NewAccount("alice", "example.com", "first", time.Now())
	if err := cli.Add(ctx, a); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually("after add", digest.MD5.HA1("alice", "example.com", "first"))
	if d := time.Since(start); d > time.Second {
		t.Errorf("the add took %v to show, want about %v", d, fresh)
	}
	a, _ = a.WithPassword("second", time.Now())
	if err := cli.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	eventually("after passwd", digest.MD5.HA1("alice", "example.com", "second"))
	if _, err := cli.Delete(ctx, "alice", "example.com"); err != nil {
		t.Fatal(err)
	}
	eventually("after remove", "")
}

// BenchmarkCredentialsHA1Cached is BenchmarkCredentialsHA1 with the read
// cache the server turns on.
func BenchmarkCredentialsHA1Cached(b *testing.B) {
	creds, alice := benchStore(b)
	if err := creds.Store.(*subscriber.SQLite).CacheReads(100 * time.Millisecond); err != nil {
		b.Fatal(err)
	}
	benchHA1(b, creds, alice)
}
