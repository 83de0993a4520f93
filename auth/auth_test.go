package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/sip/digest"
)

// users is a Credentials with clear passwords, for tests only.
type users map[string]string

func (u users) HA1(_ context.Context, user, realm string, alg digest.Algorithm) (string, bool, error) {
	if user == "broken" {
		return "", false, errors.New("disk on fire")
	}
	p, ok := u[user]
	if !ok {
		return "", false, nil
	}
	return alg.HA1(user, realm, p), true, nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newVerifier() (*Verifier, *clock) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	return &Verifier{Credentials: users{"alice": "secret"}, Now: c.now}, c
}

const register = "REGISTER sip:example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1\r\n" +
	"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n" +
	"Call-ID: c1\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"

// answer builds the REGISTER with credentials for challenge ch, computed
// the way a phone does (RFC 7616 §3.4.1).
func answer(t *testing.T, ch, user, pass, nc string) *sip.Message {
	t.Helper()
	a, err := sip.ParseAuth(ch)
	if err != nil {
		t.Fatal(err)
	}
	realm, _ := a.Param("realm")
	nonce, _ := a.Param("nonce")
	algName, _ := a.Param("algorithm")
	alg, _ := digest.ParseAlgorithm(algName)
	resp := alg.Response(alg.HA1(user, realm, pass), nonce, nc, "c0ffee", "auth", "REGISTER", "sip:example.com")
	cred := fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, uri="sip:example.com", response=%q, algorithm=%s, qop=auth, nc=%s, cnonce="c0ffee"`,
		user, realm, nonce, resp, algName, nc)
	m, err := sip.Parse([]byte(strings.Replace(register, "Content-Length", "Authorization: "+cred+"\r\nContent-Length", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func check(t *testing.T, v *Verifier, m *sip.Message) Result {
	t.Helper()
	_, r, err := v.Check(context.Background(), m, "Authorization", "example.com")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestChallenges: SHA-256 first, then MD5 (RFC 8760 §2.3), qop="auth", a
// fresh nonce each, stale only when asked.
func TestChallenges(t *testing.T) {
	v, _ := newVerifier()
	chs := v.Challenges("example.com", false)
	if len(chs) != 2 || !strings.Contains(chs[0], "algorithm=SHA-256") || !strings.Contains(chs[1], "algorithm=MD5") {
		t.Fatalf("challenges %q", chs)
	}
	n0, n1 := param(t, chs[0], "nonce"), param(t, chs[1], "nonce")
	if n0 == n1 || param(t, chs[0], "qop") != "auth" || param(t, chs[0], "realm") != "example.com" || strings.Contains(chs[0], "stale") {
		t.Errorf("challenges %q", chs)
	}
	if s := v.Challenges("example.com", true); !strings.HasSuffix(s[0], "stale=true") {
		t.Errorf("stale challenge %q", s[0])
	}
}

func param(t *testing.T, ch, name string) string {
	t.Helper()
	a, err := sip.ParseAuth(ch)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := a.Param(name)
	return s
}

// TestCheck walks the outcomes a registrar acts on.
func TestCheck(t *testing.T) {
	v, c := newVerifier()
	for i, ch := range v.Challenges("example.com", false) {
		if r := check(t, v, answer(t, ch, "alice", "secret", "00000001")); r != OK {
			t.Errorf("challenge %d, right password: %v", i, r)
		}
	}
	ch := v.Challenges("example.com", false)[0]
	if r := check(t, v, answer(t, ch, "alice", "wrong", "00000001")); r != Invalid {
		t.Errorf("wrong password: %v", r)
	}
	if r := check(t, v, answer(t, ch, "mallory", "secret", "00000001")); r != Invalid {
		t.Errorf("unknown user: %v", r)
	}
	m, _ := sip.Parse([]byte(register))
	if r := check(t, v, m); r != Missing {
		t.Errorf("no credentials: %v", r)
	}
	// Counts: 1, 2 accepted; 2 again and 1 refused as replays.
	for _, step := range []struct {
		nc   string
		want Result
	}{{"00000001", OK}, {"00000002", OK}, {"00000002", Replay}, {"00000001", Replay}, {"00000000", Invalid}, {"0001", Invalid}} {
		if r := check(t, v, answer(t, ch, "alice", "secret", step.nc)); r != step.want {
			t.Errorf("nc %s: %v, want %v", step.nc, r, step.want)
		}
	}
	// Another realm's nonce, a forged nonce, a nonce signed with another key.
	other := v.Challenges("other.example", false)[0]
	m = answer(t, strings.Replace(other, `"other.example"`, `"example.com"`, 1), "alice", "secret", "00000001")
	if r := check(t, v, m); r != Invalid {
		t.Errorf("nonce of another realm: %v", r)
	}
	w, _ := newVerifier()
	if r := check(t, v, answer(t, w.Challenges("example.com", false)[0], "alice", "secret", "00000001")); r != Invalid {
		t.Errorf("nonce of another key: %v", r)
	}
	// Expiry: right password on an old nonce is Stale; wrong stays Invalid.
	old := v.Challenges("example.com", false)[1]
	c.t = c.t.Add(5*time.Minute + time.Second)
	if r := check(t, v, answer(t, old, "alice", "secret", "00000001")); r != Stale {
		t.Errorf("expired nonce, right password: %v", r)
	}
	if r := check(t, v, answer(t, old, "alice", "wrong", "00000001")); r != Invalid {
		t.Errorf("expired nonce, wrong password: %v", r)
	}
	// A store failure is an error, not a verdict on the password.
	if _, _, err := v.Check(context.Background(), answer(t, v.Challenges("example.com", false)[0], "broken", "x", "00000001"), "Authorization", "example.com"); !errors.Is(err, ErrStore) {
		t.Errorf("store failure: %v", err)
	}
}

// TestReplayMemoryPruned: counts are forgotten once their nonce has expired.
func TestReplayMemoryPruned(t *testing.T) {
	v, c := newVerifier()
	for range 10 {
		ch := v.Challenges("example.com", false)[0]
		if r := check(t, v, answer(t, ch, "alice", "secret", "00000001")); r != OK {
			t.Fatal(r)
		}
	}
	c.t = c.t.Add(11 * time.Minute)
	check(t, v, answer(t, v.Challenges("example.com", false)[0], "alice", "secret", "00000001"))
	if n := len(v.used); n != 1 {
		t.Errorf("%d nonces remembered after the old ones expired, want 1", n)
	}
}

// TestAlgorithms: a verifier configured for MD5 alone offers one MD5
// challenge and refuses SHA-256 credentials, even correct ones.
func TestAlgorithms(t *testing.T) {
	full, _ := newVerifier()
	md5only, _ := newVerifier()
	md5only.Algorithms = []digest.Algorithm{digest.MD5}
	md5only.Key = []byte("k")
	full.Key = md5only.Key
	chs := md5only.Challenges("example.com", false)
	if len(chs) != 1 || param(t, chs[0], "algorithm") != "MD5" {
		t.Fatalf("MD5-only challenges: %q", chs)
	}
	if r := check(t, md5only, answer(t, chs[0], "alice", "secret", "00000001")); r != OK {
		t.Fatalf("MD5 answer: %v, want ok", r)
	}
	sha := full.Challenges("example.com", false)[0] // same key: a nonce md5only accepts
	if r := check(t, md5only, answer(t, sha, "alice", "secret", "00000001")); r != Invalid {
		t.Fatalf("SHA-256 answer to an MD5-only verifier: %v, want invalid", r)
	}
}

// TestChallengesFor: a seeded challenge is the same for the same seed in
// the same second, differs for another seed or a later second, and its
// nonce is accepted like any other.
func TestChallengesFor(t *testing.T) {
	v, clk := newVerifier()
	a := v.ChallengesFor("example.com", false, "call-1\x001 REGISTER\x00z9hG4bK1")
	b := v.ChallengesFor("example.com", false, "call-1\x001 REGISTER\x00z9hG4bK1")
	c := v.ChallengesFor("example.com", false, "call-2\x001 REGISTER\x00z9hG4bK2")
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Errorf("same seed, same second, different challenges:\n%q\n%q", a, b)
	}
	if param(t, a[0], "nonce") == param(t, c[0], "nonce") || param(t, a[0], "nonce") == param(t, a[1], "nonce") {
		t.Errorf("nonces repeat across seeds or algorithms: %q %q", a, c)
	}
	clk.t = clk.t.Add(time.Second)
	if d := v.ChallengesFor("example.com", false, "call-1\x001 REGISTER\x00z9hG4bK1"); d[0] == a[0] {
		t.Error("a second later the seeded challenge is unchanged")
	}
	if r := check(t, v, answer(t, a[1], "alice", "secret", "00000001")); r != OK {
		t.Errorf("answer to a seeded MD5 challenge: %v, want ok", r)
	}
}
