package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CryptoSuite is the only SRTP crypto-suite this package offers and accepts
// (RFC 4568 §6.2.1): AES-128 counter mode with an 80-bit HMAC-SHA1 tag.
const CryptoSuite = "AES_CM_128_HMAC_SHA1_80"

// KeyLen is the length of an AES_CM_128_HMAC_SHA1_80 master key||salt: a
// 16-byte key and a 14-byte salt (RFC 4568 §6.2.1).
const KeyLen = 30

// maxLifetimeLog2 is the SRTP master key lifetime limit of the suite,
// 2^48 packets (RFC 4568 §6.2.1).
const maxLifetimeLog2 = 48

// parseCrypto parses the value of an a=crypto attribute (RFC 4568 §9.1):
//
//	<tag> 1*WSP <crypto-suite> 1*WSP <key-params> *(1*WSP <session-param>)
//
// It fails only when the line does not have that shape; whether the line is
// usable is up to usable.
func parseCrypto(v string) (Crypto, bool) {
	f := strings.Fields(v)
	if len(f) < 3 || !allDigits(f[0]) || len(f[0]) > 9 {
		return Crypto{}, false
	}
	c := Crypto{Tag: f[0], Suite: f[1], KeyParams: f[2], Params: f[3:]}
	// RFC 4568 §6.1: "inline:" <key||salt> ["|" lifetime] ["|" MKI ":" length];
	// several keys are separated by ";".
	first, _, _ := strings.Cut(f[2], ";")
	method, info, ok := strings.Cut(first, ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return c, true
	}
	parts := strings.Split(info, "|")
	c.Key = decodeKey(parts[0])
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") {
			c.MKI = p
		} else if c.Lifetime == "" {
			c.Lifetime = p
		} else {
			c.Key = nil // two lifetimes: not a valid key
		}
	}
	return c, true
}

// decodeKey decodes base64 key||salt, with or without "=" padding
// (RFC 4568 §6.1: padding characters are discarded).
func decodeKey(s string) []byte {
	k, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(k) == 0 {
		return nil
	}
	return k
}

// usable reports why c cannot be used as an AES_CM_128_HMAC_SHA1_80 SDES
// line by this package, or nil when it can (RFC 4568 §7.1.2: only valid
// lines whose every parameter is acceptable may be accepted).
func (c Crypto) usable() error {
	if c.Suite != CryptoSuite {
		return fmt.Errorf("crypto-suite %q is not supported", clip(c.Suite))
	}
	if strings.Contains(c.KeyParams, ";") {
		return errors.New("several keys in one line are not supported")
	}
	if method, _, _ := strings.Cut(c.KeyParams, ":"); !strings.EqualFold(method, "inline") {
		return fmt.Errorf("key method %q is not supported", clip(method))
	}
	// RFC 4568 §6.1: a key of the wrong length makes the line invalid.
	if len(c.Key) != KeyLen {
		return fmt.Errorf("key||salt is %d bytes, want %d", len(c.Key), KeyLen)
	}
	if c.Lifetime != "" && !validLifetime(c.Lifetime) {
		return fmt.Errorf("invalid key lifetime %q", clip(c.Lifetime))
	}
	// The media layer does not put MKIs in SRTP packets (RFC 3711 §3.1).
	if c.MKI != "" {
		return fmt.Errorf("MKI %q is not supported", clip(c.MKI))
	}
	// RFC 4568 §6.3: the session parameters we can honour are a window size
	// hint (§6.3.6) and a key derivation rate of 0 (§6.3.1, the default).
	for _, p := range c.Params {
		if strings.HasPrefix(p, "WSH=") && allDigits(p[4:]) || p == "KDR=0" {
			continue
		}
		return fmt.Errorf("session parameter %q is not supported", clip(p))
	}
	return nil
}

// validLifetime checks an SRTP key lifetime (RFC 4568 §6.1, §9.2): a
// non-zero decimal without leading zeroes or "2^"n, at most 2^48.
func validLifetime(s string) bool {
	if e, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.ParseUint(e, 10, 8)
		return err == nil && allDigits(e) && n <= maxLifetimeLog2
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && allDigits(s) && s[0] != '0' && n <= 1<<maxLifetimeLog2
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// newKey returns a fresh random master key||salt. RFC 4568 §6.1: each key
// and salt must be cryptographically random. crypto/rand.Read never fails
// (it aborts the program when the system generator is broken).
func newKey() []byte {
	k := make([]byte, KeyLen)
	_, _ = rand.Read(k)
	return k
}

// cryptoLine is the a=crypto value for tag and key (RFC 4568 §9.2).
func cryptoLine(tag string, key []byte) string {
	return tag + " " + CryptoSuite + " inline:" + base64.StdEncoding.EncodeToString(key)
}
