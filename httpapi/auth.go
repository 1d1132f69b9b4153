package httpapi

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"

	"github.com/ramp-flags/ramp"
)

// AdminActor is the actor name of the admin token given in
// Config.AdminTokenHash.
const AdminActor = "admin"

// Principal is who made a request: the holder of a valid token.
type Principal struct {
	// Name is the token's name, recorded as the actor of every change the
	// request makes.
	Name string
	// Kind says what the token may do.
	Kind ramp.TokenKind
	// Environment is the one environment an SDK token may read; empty for
	// admin tokens.
	Environment string
	// TokenID is the stored token's id; empty for the configured admin
	// token.
	TokenID string
}

type principalKey struct{}

// principalContext is a context that carries a principal. Its Value
// answers with the context itself, a pointer, so that reading the
// principal does not allocate.
type principalContext struct {
	context.Context
	p Principal
}

func (c *principalContext) Value(key any) any {
	if key == (principalKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return &principalContext{Context: ctx, p: p}
}

// PrincipalFromContext returns the principal the authentication middleware
// stored in ctx, and false if the request was not authenticated (an open
// route such as /healthz).
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	if c, ok := ctx.Value(principalKey{}).(*principalContext); ok {
		return c.p, true
	}
	return Principal{}, false
}

// withPrincipal returns r with p in its context. The context lives in
// rw, the request's writer, when there is one, so that only the request
// is copied.
func withPrincipal(rw *responseWriter, r *http.Request, p Principal) *http.Request {
	if rw == nil {
		return r.WithContext(WithPrincipal(r.Context(), p))
	}
	rw.principal = principalContext{Context: r.Context(), p: p}
	return r.WithContext(&rw.principal)
}

// tokenCache remembers the principals of valid tokens while the change
// feed stands still, so that evaluations do not read the store: a token
// lookup costs more than an evaluation. Every change, revoking a token
// included, moves the feed on and so invalidates every entry, which makes
// a revocation effective as soon as the change is applied: within
// milliseconds, like a flag change. Entries are keyed by the token's
// SHA-256, so that no secret stays in memory, and only valid tokens are
// cached, so that their number is bounded by the store's.
type tokenCache struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]tokenEntry
}

// tokenEntry is the principal of a token, valid while the change feed is
// at seq.
type tokenEntry struct {
	p   Principal
	seq int64
}

// tokenCacheLimit bounds the cache; it is emptied when full.
const tokenCacheLimit = 1 << 16

// authenticate finds the principal of r's token, through the token cache
// when the server follows the change feed.
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	if s.sessions != nil && r.Header.Get("Authorization") == "" && r.Header.Get("X-API-Key") == "" {
		if p, ok, err := s.sessions.Principal(r); ok {
			return s.sessionPrincipal(r, p, err)
		}
	}
	if s.live == nil {
		return s.lookupToken(r)
	}
	tok, err := tokenOf(r)
	if err != nil {
		return Principal{}, err
	}
	key := tokenKey(tok)
	// Read the position first: a revocation committed during the lookup
	// below then moves the feed past the entry's position.
	seq := s.live.Seq()
	s.tokens.mu.RLock()
	e, ok := s.tokens.m[key]
	s.tokens.mu.RUnlock()
	if ok && e.seq == seq {
		return e.p, nil
	}
	p, err := s.lookupToken(r)
	if err != nil {
		return Principal{}, err
	}
	s.tokens.mu.Lock()
	if s.tokens.m == nil || len(s.tokens.m) >= tokenCacheLimit {
		s.tokens.m = map[[sha256.Size]byte]tokenEntry{}
	}
	s.tokens.m[key] = tokenEntry{p: p, seq: seq}
	s.tokens.mu.Unlock()
	return p, nil
}

// tokenKey returns the SHA-256 of a token string, without allocating for
// tokens of usual length.
func tokenKey(tok string) [sha256.Size]byte {
	var b [128]byte
	if len(tok) > len(b) {
		return sha256.Sum256([]byte(tok))
	}
	n := copy(b[:], tok)
	return sha256.Sum256(b[:n])
}

// lookupToken finds the principal of r's token, given as
// "Authorization: Bearer <token>" or "X-API-Key: <token>". It fails with
// EUNAUTHORIZED for a missing, malformed, unknown or revoked token, and
// passes on store failures such as EUNAVAILABLE.
func (s *Server) lookupToken(r *http.Request) (Principal, error) {
	tok, err := tokenOf(r)
	if err != nil {
		return Principal{}, err
	}
	if s.adminHash != nil {
		sum := tokenKey(tok)
		if ramp.HashEqual(sum[:], s.adminHash) {
			return Principal{Name: AdminActor, Kind: ramp.TokenAdmin}, nil
		}
	}
	id, hash, ok := ramp.ParseToken(tok)
	switch {
	case !ok && strings.HasPrefix(tok, "ramp_"):
		return Principal{}, ramp.Errorf(ramp.EUNAUTHORIZED, "the token is cut short or has extra characters: a ramp token is ramp_<kind>_<id>_<secret> with a 16-character id and a 32-character secret; copy it whole")
	case !ok:
		return Principal{}, ramp.Errorf(ramp.EUNAUTHORIZED, "the token is not a ramp token (ramp_<kind>_<id>_<secret>)")
	}
	t, err := s.store.GetToken(r.Context(), id)
	if ramp.ErrorCode(err) == ramp.ENOTFOUND {
		return Principal{}, ramp.Errorf(ramp.EUNAUTHORIZED, "the token is unknown or revoked")
	}
	if err != nil {
		return Principal{}, err
	}
	if !ramp.HashEqual(hash, t.Hash) {
		return Principal{}, ramp.Errorf(ramp.EUNAUTHORIZED, "the token is unknown or revoked")
	}
	return Principal{Name: t.Name, Kind: t.Kind, Environment: t.Environment, TokenID: t.ID}, nil
}

// tokenOf returns the token string of r.
func tokenOf(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", ramp.Errorf(ramp.EUNAUTHORIZED, "the Authorization header must be \"Bearer <token>\"")
		}
		if tok = strings.TrimSpace(tok); tok != "" {
			return tok, nil
		}
		return "", ramp.Errorf(ramp.EUNAUTHORIZED, "the Authorization header has no token after \"Bearer\"")
	}
	if tok := strings.TrimSpace(r.Header.Get("X-API-Key")); tok != "" {
		return tok, nil
	}
	return "", ramp.Errorf(ramp.EUNAUTHORIZED, "a token is required: send \"Authorization: Bearer <token>\"")
}
