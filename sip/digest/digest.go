// Package digest is the arithmetic of digest authentication as SIP uses it
// (RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 7616 §3.4, RFC 8760): the hash of
// the credentials (HA1) and the request-digest, for a UAC answering a
// challenge and for a server checking the answer. It knows no headers:
// sip.ParseAuth reads them.
//
// The algorithms are MD5 and SHA-256 with qop=auth or without qop (the
// RFC 2069 form). The -sess variants, auth-int and SHA-512-256 are not
// implemented; ParseAlgorithm reports them as unsupported.
package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Algorithm is a digest algorithm as named in the algorithm parameter.
type Algorithm string

// The algorithms implemented.
const (
	MD5    Algorithm = "MD5"     // RFC 2617; the default when none is named
	SHA256 Algorithm = "SHA-256" // RFC 7616, RFC 8760
)

// ParseAlgorithm maps the value of an algorithm parameter to an Algorithm,
// ignoring case. An empty value means MD5 (RFC 3261 §22.4). ok is false for
// an algorithm this package does not implement.
func ParseAlgorithm(s string) (a Algorithm, ok bool) {
	switch {
	case s == "" || strings.EqualFold(s, string(MD5)):
		return MD5, true
	case strings.EqualFold(s, string(SHA256)):
		return SHA256, true
	}
	return "", false
}

// h returns H(parts joined by ':') in lower-case hex. The input is
// gathered in a buffer on the stack when it fits, so that the digest costs
// one allocation, the result's.
func (a Algorithm) h(parts ...string) string {
	var stack [512]byte
	in := stack[:0]
	for i, p := range parts {
		if i > 0 {
			in = append(in, ':')
		}
		in = append(in, p...)
	}
	var sum [sha256.Size]byte
	n := md5.Size
	if a == SHA256 {
		sum, n = sha256.Sum256(in), sha256.Size
	} else {
		m := md5.Sum(in)
		copy(sum[:], m[:])
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:n])
	return string(out[:2*n])
}

// HA1 returns H(username:realm:password) in lower-case hex (RFC 7616
// §3.4.2): what a server keeps instead of the password.
func (a Algorithm) HA1(username, realm, password string) string {
	return a.h(username, realm, password)
}

// Response returns the request-digest for the credentials ha1 (RFC 7616
// §3.4.1): with qop "auth", KD(HA1, nonce:nc:cnonce:qop:HA2); with qop "",
// the RFC 2069 form KD(HA1, nonce:HA2); HA2 is H(method:uri) in both.
func (a Algorithm) Response(ha1, nonce, nc, cnonce, qop, method, uri string) string {
	ha2 := a.h(method, uri)
	if qop == "" {
		return a.h(ha1, nonce, ha2)
	}
	return a.h(ha1, nonce, nc, cnonce, qop, ha2)
}

// Equal compares two digests in time that does not depend on where they
// differ, so a server's check leaks nothing about the expected value.
func Equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
