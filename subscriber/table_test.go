package subscriber

import (
	"fmt"
	"testing"
	"time"
)

// TestTable checks the pointer-free account table against a map: adds,
// replacements (with longer and shorter strings) and removals, then every
// lookup, times included (the zero time too).
func TestTable(t *testing.T) {
	tb := newTable(0)
	model := map[[2]string]Account{}
	now := time.Date(2026, 11, 29, 12, 0, 0, 123, time.UTC)
	for i := range 5000 {
		a := Account{User: fmt.Sprint("u", i), Domain: fmt.Sprintf("d%d.example.com", i%7),
			HA1MD5: fmt.Sprintf("%032x", i), HA1SHA256: fmt.Sprintf("%064x", i), Created: now, Updated: now.Add(time.Duration(i))}
		if i%11 == 0 {
			a.Created, a.HA1MD5 = time.Time{}, ""
		}
		if !tb.put(a) {
			t.Fatal("put refused a short account")
		}
		model[[2]string{a.Domain, a.User}] = a
	}
	for i := 0; i < 5000; i += 2 {
		k := [2]string{fmt.Sprintf("d%d.example.com", i%7), fmt.Sprint("u", i)}
		a := model[k]
		a.HA1SHA256 = "x"
		tb.put(a)
		model[k] = a
	}
	for i := 0; i < 5000; i += 4 {
		k := [2]string{fmt.Sprintf("d%d.example.com", i%7), fmt.Sprint("u", i)}
		if !tb.remove(k[0], k[1]) {
			t.Fatalf("remove %v: not found", k)
		}
		delete(model, k)
		if tb.remove(k[0], k[1]) {
			t.Fatalf("remove %v twice", k)
		}
	}
	if tb.live != len(model) {
		t.Errorf("live %d, want %d", tb.live, len(model))
	}
	for i := range 5000 {
		k := [2]string{fmt.Sprintf("d%d.example.com", i%7), fmt.Sprint("u", i)}
		got, ok := tb.get(k[0], k[1])
		want, wok := model[k]
		if ok != wok || got.HA1MD5 != want.HA1MD5 || got.HA1SHA256 != want.HA1SHA256 ||
			!got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) || got.Created.IsZero() != want.Created.IsZero() {
			t.Fatalf("get %v = %+v, %v; want %+v, %v", k, got, ok, want, wok)
		}
	}
	if _, ok := tb.get("d1.example.com", "nobody"); ok {
		t.Error("found an account never added")
	}
	long := Account{User: "u", Domain: "example.com", HA1MD5: string(make([]byte, 70000))}
	if tb.put(long) {
		t.Error("put accepted a 70000-byte HA1")
	}
}
