package ramp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
)

// Token strings have the form "ramp_<kind>_<id>_<secret>": the prefix lets
// secret scanners recognise a leaked token, the id finds the stored row
// without comparing secrets, and only SHA-256(secret) is stored.
const tokenPrefix = "ramp_"

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewToken returns a fresh token string for the kind, its id and the hash
// to store.
func NewToken(kind TokenKind) (plain, id string, hash []byte) {
	idb := make([]byte, 10)
	secret := make([]byte, 20)
	_, _ = rand.Read(idb) // crypto/rand.Read never fails
	_, _ = rand.Read(secret)
	id = tokenEncoding.EncodeToString(idb)
	s := tokenEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(s))
	return tokenPrefix + string(kind) + "_" + id + "_" + s, id, sum[:]
}

// ParseToken splits a token string made by NewToken into its id and the
// hash of its secret. ok is false for any other string.
func ParseToken(plain string) (id string, hash []byte, ok bool) {
	rest, found := strings.CutPrefix(plain, tokenPrefix)
	if !found {
		return "", nil, false
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 3 || len(parts[1]) != 16 || len(parts[2]) != 32 {
		return "", nil, false
	}
	sum := sha256.Sum256([]byte(parts[2]))
	return parts[1], sum[:], true
}

// HashEqual compares two hashes in constant time.
func HashEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// NewSalt returns a random salt for a flag's buckets.
func NewSalt() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return tokenEncoding.EncodeToString(b)
}

// Change says who makes a change, recorded in its audit row, and on what
// condition.
type Change struct {
	Actor string
	// Action overrides the audit action of the store method, for changes
	// such as flag.percentage and flag.rollback that are flag updates.
	Action string
	// Environment is recorded in the audit row of a change to one
	// environment's state.
	Environment string
	// IfVersion, when non-zero, makes the change fail with ECONFLICT unless
	// the stored version equals it.
	IfVersion int64
}
