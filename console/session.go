package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
)

// CookieName is the name of the console's session cookie.
const CookieName = "ramp_session"

// CSRFHeader is the request header that must carry the session's CSRF
// token on every request that changes something.
const CSRFHeader = "X-CSRF-Token"

// DefaultSessionTTL is how long a session lasts unless
// SessionConfig.TTL says otherwise.
const DefaultSessionTTL = 12 * time.Hour

// sweepAt is the number of sessions above which creating one first
// deletes the expired ones.
const sweepAt = 1024

// MaxSessions bounds the sessions held at once; signing in beyond it fails
// until some expire or sign out.
const MaxSessions = 100000

// SessionConfig configures Sessions.
type SessionConfig struct {
	// TTL is how long a session lasts from sign-in; zero means
	// DefaultSessionTTL. Sessions do not extend with use.
	TTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Sessions holds the console's sessions in memory: a restart of the
// server signs everyone out. Only the SHA-256 of a session id is kept, so
// that a memory dump holds no usable cookie. It implements
// httpapi.Sessions and is safe for concurrent use.
type Sessions struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]*session
}

// session is one signed-in browser.
type session struct {
	p       httpapi.Principal
	csrf    string
	expires time.Time
}

var _ httpapi.Sessions = (*Sessions)(nil)

// NewSessions returns an empty session store.
func NewSessions(cfg SessionConfig) *Sessions {
	s := &Sessions{ttl: cfg.TTL, now: cfg.Now, m: map[[sha256.Size]byte]*session{}}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func sessionKey(id string) [sha256.Size]byte { return sha256.Sum256([]byte(id)) }

// create starts a session for p and returns its id (the cookie's value),
// its CSRF token and when it expires. It fails with EUNAVAILABLE when
// MaxSessions sessions are live.
func (s *Sessions) create(p httpapi.Principal) (id, csrf string, expires time.Time, err error) {
	now := s.now()
	id, csrf, expires = randomToken(), randomToken(), now.Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= sweepAt {
		for k, se := range s.m {
			if !now.Before(se.expires) {
				delete(s.m, k)
			}
		}
	}
	if len(s.m) >= MaxSessions {
		return "", "", time.Time{}, ramp.Errorf(ramp.EUNAVAILABLE, "too many console sessions are open; try again when some have expired")
	}
	s.m[sessionKey(id)] = &session{p: p, csrf: csrf, expires: expires}
	return id, csrf, expires, nil
}

// get returns the live session with the id; an expired one is deleted.
func (s *Sessions) get(id string) (session, bool) {
	k := sessionKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	if !s.now().Before(se.expires) {
		delete(s.m, k)
		return session{}, false
	}
	return *se, true
}

// delete ends the session with the id, if any.
func (s *Sessions) delete(id string) {
	s.mu.Lock()
	delete(s.m, sessionKey(id))
	s.mu.Unlock()
}

// Len returns the number of sessions held, expired ones included until
// they are swept.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// fromRequest returns the session of r's cookie. ok is false when r has
// no session cookie.
func (s *Sessions) fromRequest(r *http.Request) (se session, id string, ok bool, err error) {
	c, cerr := r.Cookie(CookieName)
	if cerr != nil || c.Value == "" {
		return session{}, "", false, nil
	}
	se, live := s.get(c.Value)
	if !live {
		return session{}, c.Value, true, ramp.Errorf(ramp.EUNAUTHORIZED, "the console session has expired or was signed out; sign in again")
	}
	return se, c.Value, true, nil
}

// Principal returns the principal of r's session cookie, for the API: see
// httpapi.Sessions. A request with an unsafe method must pass checkCSRF.
func (s *Sessions) Principal(r *http.Request) (httpapi.Principal, bool, error) {
	se, _, ok, err := s.fromRequest(r)
	if !ok || err != nil {
		return httpapi.Principal{}, ok, err
	}
	if !safeMethod(r.Method) {
		if err := checkCSRF(r, se.csrf); err != nil {
			return httpapi.Principal{}, true, err
		}
	}
	return se.p, true, nil
}

// safeMethod reports whether a method only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF refuses a request that changes something unless it comes from
// the console's own pages: the browser's Sec-Fetch-Site and Origin
// headers, when sent, must name this origin, and the CSRF header must hold
// the session's token, which only a script of this origin can read.
func checkCSRF(r *http.Request, want string) error {
	if err := checkSameOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return ramp.Errorf(ramp.EFORBIDDEN, "the %s header is missing: a console session changes things only from the console's pages (scripts should send a token instead of the cookie)", CSRFHeader)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ramp.Errorf(ramp.EFORBIDDEN, "the %s header does not match this session: reload the console", CSRFHeader)
	}
	return nil
}

// checkSameOrigin refuses a request a browser marks as coming from another
// site or origin.
func checkSameOrigin(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return ramp.Errorf(ramp.EFORBIDDEN, "cross-site request refused (Sec-Fetch-Site: %s): use the console's own pages", site)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if o == "null" || err != nil || u.Host != r.Host {
			return ramp.Errorf(ramp.EFORBIDDEN, "request from origin %s refused: the console only accepts changes from its own origin", o)
		}
	}
	return nil
}
