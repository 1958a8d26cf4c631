package tenancy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// Prefixes make a leaked secret recognisable (and greppable by scanners).
const (
	TokenPrefix  = "ct_"
	SecretPrefix = "sk_"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix_ followed by 16 random base32 characters (80 bits).
func NewID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + "_" + idEncoding.EncodeToString(b)
}

// NewSecret returns a fresh secret (256 bits of randomness) and its hash.
func NewSecret(prefix string) (secret, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	secret = prefix + idEncoding.EncodeToString(b)
	return secret, Hash(secret)
}

// Hash is the stored form of a secret. Secrets are long random strings, so a
// fast hash is enough: there is nothing to brute-force.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Matches compares a presented secret with a stored hash in constant time.
func Matches(secret, hash string) bool {
	h := Hash(secret)
	return subtle.ConstantTimeCompare([]byte(h), []byte(hash)) == 1
}

// Mask shows a secret's known prefix and last four characters only.
func Mask(secret string) string {
	if len(secret) < 12 {
		return strings.Repeat("•", 8)
	}
	prefix := ""
	for _, p := range []string{TokenPrefix, SecretPrefix} {
		if strings.HasPrefix(secret, p) {
			prefix = p
		}
	}
	return prefix + "…" + secret[len(secret)-4:]
}

// LooksLikeSecret reports whether s could be a token or account secret: a
// cheap check before any lookup.
func LooksLikeSecret(s string) bool {
	if len(s) < 20 || len(s) > 200 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// DerivedID is an ID in NewID's form that the same parts always give (an
// inbound message's from its provider id, a send's from its idempotency
// key): writing it conditionally makes the write happen once.
func DerivedID(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "_" + idEncoding.EncodeToString(h.Sum(nil)[:10])
}
