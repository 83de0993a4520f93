// Package subscriber keeps the accounts of the users who may register and
// place calls: for each user of a domain, the digest HA1s of their password
// (RFC 7616 §3.4.2), never the password itself.
//
// Store is the interface every backend implements; storetest.Run is the
// conformance suite each must pass. SQLite (OpenSQLite) is the embedded
// backend: a database file in the data directory that `switchboard user`
// edits while the server runs; the server keeps every account in memory and
// reads the file again whenever it changed (SQLite.CacheReads), so a new
// password or a removed user takes effect within a second. Memory keeps accounts in
// memory only.
//
// Credentials adapts a Store to the auth package's Credentials interface.
// The realm of a domain is the domain itself, in lower case.
//
// Names follow RFC 3261: the user is compared byte for byte (it is
// case-sensitive, and %XX escapes are not decoded), the domain ignoring
// case; stores keep it in lower case.
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-sip/switchboard/sip/digest"
)

// Account is one subscriber. It holds what digest authentication needs
// of the password and nothing from which the password can be read back.
type Account struct {
	// User is the user part of the subscriber's SIP URI (RFC 3261 §25.1
	// user), case-sensitive.
	User string
	// Domain is the host part of the subscriber's SIP URI, a host name or
	// an IP literal (IPv6 in brackets), in lower case. It is also the
	// digest realm.
	Domain string
	// HA1MD5 and HA1SHA256 are digest.MD5.HA1 and digest.SHA256.HA1 of
	// User, Domain and the password, in lower-case hex. Either may be
	// empty (that algorithm is then refused for this user), not both.
	HA1MD5    string
	HA1SHA256 string
	// Created is when the account was added, Updated when it was last
	// written.
	Created time.Time
	Updated time.Time
}

// ErrExists is returned by Store.Add when the account is already there.
var ErrExists = errors.New("subscriber: account exists")

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("subscriber: store closed")

// NewAccount returns the account of user at domain with password, created
// and updated at now. It lower-cases domain and computes both HA1s with the
// realm set to it. It fails when user is not an RFC 3261 user part, domain
// is not a host name or IP literal, or password is empty.
func NewAccount(user, domain, password string, now time.Time) (Account, error) {
	if err := checkUser(user); err != nil {
		return Account{}, err
	}
	d, err := canonicalDomain(domain)
	if err != nil {
		return Account{}, err
	}
	a := Account{User: user, Domain: d, Created: now}
	return a.WithPassword(password, now)
}

// WithPassword returns a with its HA1s computed afresh from password and
// Updated set to now; Created is kept. It fails when password is empty.
// a.User and a.Domain must already be valid (as NewAccount makes them).
func (a Account) WithPassword(password string, now time.Time) (Account, error) {
	if password == "" {
		return Account{}, fmt.Errorf("subscriber: %s: empty password", a.Address())
	}
	a.HA1MD5 = digest.MD5.HA1(a.User, a.Domain, password)
	a.HA1SHA256 = digest.SHA256.HA1(a.User, a.Domain, password)
	a.Updated = now
	return a, nil
}

// Address returns "user@domain".
func (a Account) Address() string { return a.User + "@" + a.Domain }

// HA1 returns the account's HA1 for alg; ok is false when the account has
// none for it or alg is neither digest.MD5 nor digest.SHA256.
func (a Account) HA1(alg digest.Algorithm) (ha1 string, ok bool) {
	switch alg {
	case digest.MD5:
		ha1 = a.HA1MD5
	case digest.SHA256:
		ha1 = a.HA1SHA256
	}
	return ha1, ha1 != ""
}

// Check reports whether a may be stored, and returns it with its domain
// in lower case and its times in UTC. Stores call it in Put and Add.
func (a Account) Check() (Account, error) {
	if err := checkUser(a.User); err != nil {
		return Account{}, err
	}
	d, err := canonicalDomain(a.Domain)
	if err != nil {
		return Account{}, err
	}
	a.Domain = d
	if a.HA1MD5 == "" && a.HA1SHA256 == "" {
		return Account{}, fmt.Errorf("subscriber: %s: no HA1; an account needs an MD5 or a SHA-256 HA1", a.Address())
	}
	if err := checkHex(a, "MD5", a.HA1MD5, 32); err != nil {
		return Account{}, err
	}
	if err := checkHex(a, "SHA-256", a.HA1SHA256, 64); err != nil {
		return Account{}, err
	}
	a.Created = a.Created.UTC()
	a.Updated = a.Updated.UTC()
	return a, nil
}

// checkHex accepts an empty HA1 or n lower-case hex digits: the HA1 is
// hashed as text, so "AB" and "ab" would give different responses.
func checkHex(a Account, alg, ha1 string, n int) error {
	if ha1 == "" {
		return nil
	}
	ok := len(ha1) == n
	for i := 0; ok && i < len(ha1); i++ {
		c := ha1[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
	}
	if !ok {
		return fmt.Errorf("subscriber: %s: the %s HA1 is not %d lower-case hex digits", a.Address(), alg, n)
	}
	return nil
}

// ParseAddress splits "user@domain", as an operator writes it, into its
// user and its domain in canonical form (lower case, no final '.'). It
// fails on a missing '@' and on a user or domain that NewAccount refuses.
func ParseAddress(s string) (user, domain string, err error) {
	user, domain, found := strings.Cut(s, "@")
	if !found {
		return "", "", fmt.Errorf("subscriber: %q is not USER@DOMAIN (alice@example.com)", s)
	}
	if err := checkUser(user); err != nil {
		return "", "", err
	}
	if domain, err = canonicalDomain(domain); err != nil {
		return "", "", err
	}
	return user, domain, nil
}

// checkUser reports whether user is an RFC 3261 user part (§25.1):
// one or more unreserved characters (letters, digits, -_.!~*'()),
// user-unreserved ones (&=+$,;?/) or %XX escapes. That excludes '@', ':',
// white space, control characters and raw non-ASCII.
func checkUser(user string) error {
	if user == "" {
		return errors.New("subscriber: empty user")
	}
	for i := 0; i < len(user); i++ {
		c := user[i]
		switch {
		case isAlnum(c) || strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0:
		case c == '%' && i+2 < len(user) && isHex(user[i+1]) && isHex(user[i+2]):
			i += 2
		case c == '%':
			return fmt.Errorf("subscriber: user %q: '%%' at offset %d does not start a %%XX escape", user, i)
		default:
			r, _ := utf8.DecodeRuneInString(user[i:])
			return fmt.Errorf("subscriber: user %q: %q at offset %d is not allowed; "+
				"use letters, digits, -_.!~*'()&=+$,;?/ and %%XX escapes (RFC 3261 §25.1)", user, r, i)
		}
	}
	return nil
}

// canonicalDomain returns domain in lower case, without a final '.', when
// it is a host name (RFC 3261 §25.1 hostname), an IPv4 address or an IPv6
// address in brackets ("[2001:db8::1]"); otherwise it fails.
func canonicalDomain(domain string) (string, error) {
	d := domain
	if d == "" {
		return "", errors.New("subscriber: empty domain")
	}
	if d[0] == '[' {
		inner, ok := strings.CutSuffix(d[1:], "]")
		if a, err := netip.ParseAddr(inner); !ok || err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("subscriber: domain %q is not an IPv6 reference like [2001:db8::1]", domain)
		}
		return strings.ToLower(d), nil
	}
	if strings.IndexByte(d, ':') >= 0 {
		if _, err := netip.ParseAddr(d); err == nil {
			return "", fmt.Errorf("subscriber: domain %q: write an IPv6 address in brackets, [%s]", domain, d)
		}
		return "", fmt.Errorf("subscriber: domain %q: a domain has no ':' (and no port)", domain)
	}
	if strings.Trim(d, "0123456789.") == "" {
		// All digits and dots: only an IPv4 address will do (a top
		// label starts with a letter).
		if a, err := netip.ParseAddr(d); err != nil || !a.Is4() {
			return "", fmt.Errorf("subscriber: domain %q is not an IPv4 address", domain)
		}
		return d, nil
	}
	d = strings.TrimSuffix(d, ".")
	if len(d) > 253 {
		return "", fmt.Errorf("subscriber: domain %q is longer than 253 characters", domain)
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		bad := l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-'
		for j := 0; !bad && j < len(l); j++ {
			bad = !isAlnum(l[j]) && l[j] != '-'
		}
		if !bad && i == len(labels)-1 && !isAlpha(l[0]) {
			bad = true // toplabel = ALPHA *( alphanum / "-" ) alphanum
		}
		if bad {
			return "", fmt.Errorf("subscriber: domain %q is not a host name: label %q; "+
				"use letters, digits and inner '-', 1 to 63 per label, the last starting with a letter", domain, l)
		}
	}
	return strings.ToLower(d), nil
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || '0' <= c && c <= '9' }
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Store keeps accounts. Its methods are safe for concurrent use. Users are
// compared byte for byte and domains in canonical form (lower case, no
// final '.'); a user or domain that could not be stored is simply not
// found, which is not an error.
type Store interface {
	// Put adds a, or replaces the account of a.User at a.Domain. It fails
	// when a.Check does. When it returns nil, a is durable (for a
	// persistent store: on disk) and visible to Get.
	Put(ctx context.Context, a Account) error
	// Add is Put that fails with ErrExists, writing nothing, when the
	// account is already there.
	Add(ctx context.Context, a Account) error
	// Get returns the account of user at domain; ok is false when there
	// is none.
	Get(ctx context.Context, user, domain string) (a Account, ok bool, err error)
	// Delete removes the account of user at domain; ok is false when
	// there was none.
	Delete(ctx context.Context, user, domain string) (ok bool, err error)
	// List returns every account, ordered by domain and then user (byte
	// order).
	List(ctx context.Context) ([]Account, error)
	// Domains returns the domains that have accounts, each once, sorted.
	Domains(ctx context.Context) ([]string, error)
	// Close releases the store; afterwards its methods fail with
	// ErrClosed. Closing a closed store returns nil.
	Close() error
}

// key canonicalises the key of a lookup; ok is false when no account can
// have it.
func key(user, domain string) (string, string, bool) {
	if checkUser(user) != nil {
		return "", "", false
	}
	d, err := canonicalDomain(domain)
	return user, d, err == nil
}

// Credentials looks subscribers up for digest authentication: it
// implements auth.Credentials over Store, with the realm as the domain.
// It caches nothing itself; a change to the store applies as soon as the
// store's Get sees it.
type Credentials struct {
	Store Store
}

// HA1 returns the HA1 for alg of user at the domain realm. ok is false for
// an unknown user or domain, or an account without an HA1 for alg; err is
// the store's failure.
func (c Credentials) HA1(ctx context.Context, user, realm string, alg digest.Algorithm) (ha1 string, ok bool, err error) {
	if alg != digest.MD5 && alg != digest.SHA256 {
		return "", false, nil
	}
	a, ok, err := c.Store.Get(ctx, user, realm)
	if err != nil || !ok {
		return "", false, err
	}
	ha1, ok = a.HA1(alg)
	return ha1, ok, nil
}
