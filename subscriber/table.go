package subscriber

import (
	"hash/maphash"
	"math"
	"time"
	"unsafe"
)

// table holds accounts without a single pointer the garbage collector
// would have to follow: an index from a hash of (domain, user) to entries,
// entries of offsets and numbers, and one byte slab with every string. A
// server with a million accounts then adds nothing to each GC cycle's
// marking, where a map of Account values would add several million
// pointers.
//
// Bytes in the slab are never changed once written (new accounts are
// appended), so strings returned by get may point into it. Replaced and
// removed accounts leave their bytes behind until the next reload.
type table struct {
	seed  maphash.Seed
	index map[uint64]uint32 // hash → 1 + index of the first entry with that hash
	ents  []tableEnt
	slab  []byte
	live  int
}

// tableEnt is one account: the offset of its strings in the slab, their
// lengths, its times, and the next entry with the same hash (1-based, 0
// for none).
type tableEnt struct {
	off                    uint32
	user, domain, md5, sha uint16
	created, updated       int64
	next                   uint32
	dead                   bool
	_                      [3]byte
}

func newTable(n int) *table {
	return &table{seed: maphash.MakeSeed(), index: make(map[uint64]uint32, n), ents: make([]tableEnt, 0, n)}
}

func (t *table) hash(domain, user string) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(domain)
	h.WriteByte(0)
	h.WriteString(user)
	return h.Sum64()
}

// str returns n bytes of the slab at off as a string, without copying.
func (t *table) str(off uint32, n uint16) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&t.slab[off], int(n))
}

// find returns the index of the live entry for (domain, user), or -1.
func (t *table) find(domain, user string, h uint64) int {
	for i := t.index[h]; i != 0; i = t.ents[i-1].next {
		e := &t.ents[i-1]
		if e.dead || int(e.domain) != len(domain) || int(e.user) != len(user) {
			continue
		}
		if t.str(e.off, e.user) == user && t.str(e.off+uint32(e.user), e.domain) == domain {
			return int(i - 1)
		}
	}
	return -1
}

// get returns the account of user at domain.
func (t *table) get(domain, user string) (Account, bool) {
	i := t.find(domain, user, t.hash(domain, user))
	if i < 0 {
		return Account{}, false
	}
	e := &t.ents[i]
	off := e.off + uint32(e.user) + uint32(e.domain)
	return Account{
		User: user, Domain: domain,
		HA1MD5:    t.str(off, e.md5),
		HA1SHA256: t.str(off+uint32(e.md5), e.sha),
		Created:   fromNanos(e.created),
		Updated:   fromNanos(e.updated),
	}, true
}

// put adds a or replaces the account it names. Strings longer than 65535
// bytes cannot be held; put reports false for them and changes nothing.
func (t *table) put(a Account) bool {
	for _, s := range []string{a.User, a.Domain, a.HA1MD5, a.HA1SHA256} {
		if len(s) > 0xffff {
			return false
		}
	}
	h := t.hash(a.Domain, a.User)
	if i := t.find(a.Domain, a.User, h); i >= 0 {
		t.ents[i].dead = true
		t.live--
	}
	e := tableEnt{
		off:  uint32(len(t.slab)),
		user: uint16(len(a.User)), domain: uint16(len(a.Domain)),
		md5: uint16(len(a.HA1MD5)), sha: uint16(len(a.HA1SHA256)),
		created: toNanos(a.Created), updated: toNanos(a.Updated),
		next: t.index[h],
	}
	t.slab = append(append(append(append(t.slab, a.User...), a.Domain...), a.HA1MD5...), a.HA1SHA256...)
	t.ents = append(t.ents, e)
	t.index[h] = uint32(len(t.ents))
	t.live++
	return true
}

// remove deletes the account of user at domain and reports whether there
// was one.
func (t *table) remove(domain, user string) bool {
	i := t.find(domain, user, t.hash(domain, user))
	if i < 0 {
		return false
	}
	t.ents[i].dead = true
	t.live--
	return true
}

// toNanos and fromNanos keep a time as unix nanoseconds, the zero time as
// math.MinInt64 (its UnixNano is undefined).
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
