package registrar

import (
	"context"
	"sync/atomic"
	"testing"
)

func TestLocalDomainsFixed(t *testing.T) {
	d := &LocalDomains{Fixed: []string{"Example.COM", "[2001:db8::1]"}}
	ctx := context.Background()
	for host, want := range map[string]bool{
		"example.com": true, "EXAMPLE.com": true, "[2001:DB8::1]": true, "2001:db8::1": true,
		"localhost": false, "other.net": false,
	} {
		if got := d.IsLocal(ctx, host); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestLocalDomainsDynamic: without a fixed list, the host's own names and
// addresses are local, and so is a domain that gains a subscriber later
// (asked again on a miss, at most once a second).
func TestLocalDomainsDynamic(t *testing.T) {
	var asked atomic.Int32
	domains := []string{"example.com"}
	d := &LocalDomains{Dynamic: func(context.Context) ([]string, error) {
		asked.Add(1)
		return domains, nil
	}}
	ctx := context.Background()
	if !d.IsLocal(ctx, "localhost") || !d.IsLocal(ctx, "127.0.0.1") {
		t.Error("the host's own names are not local")
	}
	if !d.IsLocal(ctx, "Example.com") {
		t.Error("a subscriber domain is not local")
	}
	if d.IsLocal(ctx, "new.example.net") {
		t.Error("an unknown domain is local")
	}
	n := asked.Load()
	for range 100 {
		d.IsLocal(ctx, "scanner.invalid")
	}
	if asked.Load() != n {
		t.Errorf("misses within a second asked the store %d more times, want none", asked.Load()-n)
	}
	// The new domain appears once the answer is a second old.
	domains = []string{"example.com", "new.example.net"}
	d.mu.Lock()
	d.asked = d.asked.Add(-2e9)
	d.mu.Unlock()
	if !d.IsLocal(ctx, "new.example.net") {
		t.Error("a domain added to the store is not local after a second")
	}
}
