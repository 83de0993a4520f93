// Package auth is the server side of SIP digest authentication (RFC 3261
// §22, RFC 7616, RFC 8760): challenges that offer SHA-256 and MD5 with
// qop=auth, stateless nonces, and the check of a request's credentials.
//
// A nonce carries its own issue time, a random part and an HMAC-SHA256 over
// both and the realm under the Verifier's key, so the server keeps no state
// per challenge. A nonce older than NonceLifetime is stale: a request that
// answers it correctly gets a new challenge with stale=true (RFC 7616
// §3.3), so the phone retries without asking its user. Replays are refused
// by nonce count: each use of a nonce must carry a higher nc than the last
// accepted one (RFC 7616 §3.4.5); the counts are kept only for nonces that
// were answered correctly, and only for the nonce's lifetime.
//
// An unknown user and a wrong password take the same path and give the same
// result, so the responses reveal nothing about which accounts exist.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-sip/switchboard/sip"
	"github.com/switchboard-sip/switchboard/sip/digest"
)

// Credentials finds what the server keeps of a subscriber's password: the
// HA1 (digest.Algorithm.HA1) for a user, realm and algorithm. ok is false
// for an unknown user; err is for a store that failed.
type Credentials interface {
	HA1(ctx context.Context, user, realm string, alg digest.Algorithm) (ha1 string, ok bool, err error)
}

// Result is the outcome of Verifier.Check.
type Result int

const (
	// OK: the credentials are valid for the realm.
	OK Result = iota
	// Missing: the request carries no digest credentials for the realm;
	// answer with a challenge.
	Missing
	// Invalid: wrong password, unknown user, a nonce that is not ours,
	// an unsupported algorithm or malformed credentials; answer with a new
	// challenge (or 403 after repeated failures).
	Invalid
	// Stale: the password was right but the nonce has expired; answer
	// with a challenge that says stale=true.
	Stale
	// Replay: a nonce count that was already used; answer with a new
	// challenge.
	Replay
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Missing:
		return "missing"
	case Invalid:
		return "invalid"
	case Stale:
		return "stale"
	case Replay:
		return "replay"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Verifier issues challenges and checks credentials. Set its fields before
// first use; they must not change afterwards.
type Verifier struct {
	// Credentials looks subscribers up.
	Credentials Credentials
	// Key signs nonces. Nodes that share it accept each other's nonces.
	// Empty means a random key drawn on first use, so nonces do not
	// survive a restart (they then fail as Invalid, and the phone gets a
	// new challenge).
	Key []byte
	// NonceLifetime is how long a nonce is accepted; zero means 5 minutes.
	NonceLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Algorithms are the digest algorithms offered, one challenge each,
	// in this order; credentials with another algorithm are refused.
	// Nil means SHA-256 then MD5, the order RFC 8760 §2.3 asks for. A
	// client that reads only the first challenge and knows only MD5
	// (SIPp 3.6, some older phones) needs MD5 first or alone.
	Algorithms []digest.Algorithm

	once sync.Once
	key  []byte
	macs sync.Pool // of HMAC-SHA256 under key
	mu   sync.Mutex
	used map[nonceID]seen // guarded by mu
	next time.Time        // when used is next pruned; guarded by mu
}

const nonceRandom = 9 // bytes of randomness in a nonce

func (v *Verifier) init() {
	v.once.Do(func() {
		v.key = v.Key
		if len(v.key) == 0 {
			v.key = make([]byte, 32)
			rand.Read(v.key)
		}
		v.used = make(map[nonceID]seen)
	})
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) lifetime() time.Duration {
	if v.NonceLifetime > 0 {
		return v.NonceLifetime
	}
	return 5 * time.Minute
}

// hmac runs f on an HMAC-SHA256 under the key, reset and taken from a
// pool (hmac.New costs the key schedule and allocations each time), and
// returns its sum, appended to dst.
func (v *Verifier) hmac(dst []byte, f func(m hash.Hash)) []byte {
	m, _ := v.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, v.key)
	} else {
		m.Reset()
	}
	f(m)
	dst = m.Sum(dst)
	v.macs.Put(m)
	return dst
}

// mac returns the first 16 bytes of HMAC-SHA256(key, stamp||random||realm).
func (v *Verifier) mac(head []byte, realm string) []byte {
	var sum [sha256.Size]byte
	v.hmac(sum[:0], func(m hash.Hash) {
		m.Write(head)
		io.WriteString(m, realm)
	})
	return sum[:16]
}

// Nonce returns a fresh nonce for realm.
func (v *Verifier) Nonce(realm string) string { return v.nonce(realm, "") }

// nonce returns a nonce for realm whose middle part is random, or, with a
// seed, derived from the key and the seed: the same seed within the same
// second gives the same nonce.
func (v *Verifier) nonce(realm, seed string) string {
	v.init()
	head := make([]byte, 8+nonceRandom)
	binary.BigEndian.PutUint64(head, uint64(v.now().Unix()))
	if seed == "" {
		rand.Read(head[8:])
	} else {
		var sum [sha256.Size]byte
		v.hmac(sum[:0], func(m hash.Hash) {
			io.WriteString(m, "seed\x00")
			io.WriteString(m, seed)
		})
		copy(head[8:], sum[:])
	}
	return base64.RawURLEncoding.EncodeToString(append(head, v.mac(head, realm)...))
}

// decodeNonce splits a nonce into its signed head (issue time and random
// part) and its MAC, and reads the issue time; ok is false when it is not
// shaped like one of ours.
func decodeNonce(nonce string) (head, sum []byte, issued time.Time, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceRandom+16 {
		return nil, nil, time.Time{}, false
	}
	head, sum = raw[:8+nonceRandom], raw[8+nonceRandom:]
	return head, sum, time.Unix(int64(binary.BigEndian.Uint64(head)), 0), true
}

// checkNonce reports whether nonce was issued for realm by this key, and
// whether it is still fresh.
func (v *Verifier) checkNonce(nonce, realm string) (id nonceID, issued time.Time, ours, fresh bool) {
	head, sum, issued, ok := decodeNonce(nonce)
	if !ok || !hmac.Equal(sum, v.mac(head, realm)) {
		return id, issued, false, false
	}
	copy(id[:], sum)
	age := v.now().Sub(issued)
	return id, issued, true, age >= -time.Minute && age <= v.lifetime()
}

// nonceID names a nonce in the replay table: its MAC, unique per nonce.
// The table holds no pointers, so its size costs the garbage collector
// nothing to scan.
type nonceID [16]byte

// seen is what the replay table keeps of a nonce: the highest nonce count
// accepted, and when the nonce was issued (unix seconds), for pruning.
type seen struct {
	nc     uint32
	issued uint32
}

func (v *Verifier) algorithms() []digest.Algorithm {
	if v.Algorithms != nil {
		return v.Algorithms
	}
	return []digest.Algorithm{digest.SHA256, digest.MD5}
}

// Challenges returns the values of the WWW-Authenticate (or
// Proxy-Authenticate) headers for realm, one per algorithm in Algorithms
// (by default SHA-256 first, then MD5, which RFC 8760 §2.3 asks of a
// server offering both), each with a fresh nonce and qop="auth";
// stale=true when the last answer was right but its nonce expired.
func (v *Verifier) Challenges(realm string, stale bool) []string {
	return v.ChallengesFor(realm, stale, "")
}

// ChallengesFor is Challenges for a challenge sent without a transaction
// (RFC 3261 §8.2.7): seed names the request (its Call-ID, CSeq, branch …),
// and a retransmission of the request within the same second gets the very
// same challenge, as a transaction would have resent it, so that the client
// sees a retransmitted response and not a new one. Nonces of different
// seeds differ; each is as unpredictable as the key.
func (v *Verifier) ChallengesFor(realm string, stale bool, seed string) []string {
	algs := v.algorithms()
	out := make([]string, 0, len(algs))
	for i, alg := range algs {
		sd := seed
		if sd != "" {
			sd += "\x00" + strconv.Itoa(i)
		}
		s := "Digest realm=" + sip.Quote(realm) + ", nonce=" + sip.Quote(v.nonce(realm, sd)) +
			", algorithm=" + string(alg) + `, qop="auth"`
		if stale {
			s += ", stale=true"
		}
		out = append(out, s)
	}
	return out
}

// ErrStore wraps a failure of Credentials.
var ErrStore = errors.New("auth: credentials store failed")

// Check verifies the credentials that req carries in header
// ("Authorization" or "Proxy-Authorization") for realm, as RFC 7616 §3.4
// and RFC 3261 §22.4 describe, and returns the user they name. Credentials
// for other realms are ignored (§22.4: one header per realm). err is set
// only when the store failed (wrapping ErrStore).
func (v *Verifier) Check(ctx context.Context, req *sip.Message, header, realm string) (user string, res Result, err error) {
	v.init()
	var cred sip.Auth
	found := false
	for _, h := range req.Headers {
		if !h.Is(header) {
			continue
		}
		a, perr := sip.ParseAuth(h.Value)
		if perr != nil || !strings.EqualFold(a.Scheme, "Digest") {
			continue
		}
		if r, _ := a.Param("realm"); r == realm {
			cred, found = a, true
			break
		}
	}
	if !found {
		return "", Missing, nil
	}
	// One pass over the parameters; the first of each name counts.
	var nonce, uri, response, qop, nc, cnonce, algorithm string
	fields := [...]struct {
		name string
		p    *string
	}{{"username", &user}, {"nonce", &nonce}, {"uri", &uri}, {"response", &response},
		{"qop", &qop}, {"nc", &nc}, {"cnonce", &cnonce}, {"algorithm", &algorithm}}
	var set uint8
	for n, v := range cred.All() {
		for i := range fields {
			if set&(1<<i) == 0 && strings.EqualFold(n, fields[i].name) {
				*fields[i].p, set = v, set|1<<i
				break
			}
		}
	}
	alg, ok := digest.ParseAlgorithm(algorithm)
	if !ok || !slices.Contains(v.algorithms(), alg) || user == "" || nonce == "" || uri == "" || response == "" {
		return user, Invalid, nil
	}
	var count uint32
	switch {
	case qop == "":
		// RFC 2069 form: no nonce count, so each nonce is good once.
	case strings.EqualFold(qop, "auth"):
		n, perr := strconv.ParseUint(nc, 16, 32)
		if perr != nil || len(nc) != 8 || n == 0 || cnonce == "" {
			return user, Invalid, nil
		}
		count = uint32(n)
	default:
		return user, Invalid, nil // auth-int is not offered
	}
	id, issued, ours, fresh := v.checkNonce(nonce, realm)
	// The same work for an unknown user as for a known one: a digest is
	// computed from a stand-in HA1 that no password matches.
	ha1, known, serr := v.Credentials.HA1(ctx, user, realm, alg)
	if serr != nil {
		return user, Invalid, fmt.Errorf("%w: %w", ErrStore, serr)
	}
	if !known {
		ha1 = alg.HA1("\x00unknown", realm, string(v.key))
	}
	want := alg.Response(ha1, nonce, nc, cnonce, qop, req.Method, uri)
	if !digest.Equal(strings.ToLower(response), want) || !known || !ours {
		return user, Invalid, nil
	}
	if !fresh {
		return user, Stale, nil
	}
	if !v.accept(id, issued, count) {
		return user, Replay, nil
	}
	return user, OK, nil
}

// accept records count for nonce and reports whether it is higher than any
// count accepted before for it. Entries older than a nonce's lifetime are
// pruned, a sweep at most once per lifetime.
func (v *Verifier) accept(id nonceID, issued time.Time, count uint32) bool {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.After(v.next) {
		oldest := now.Add(-v.lifetime()).Unix()
		for n, s := range v.used {
			if int64(s.issued) < oldest {
				delete(v.used, n)
			}
		}
		v.next = now.Add(v.lifetime())
	}
	if last, ok := v.used[id]; ok && count <= last.nc {
		return false
	}
	v.used[id] = seen{nc: count, issued: uint32(issued.Unix())}
	return true
}
