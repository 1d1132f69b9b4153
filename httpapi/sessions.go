package httpapi

import (
	"context"
	"net/http"

	"github.com/ramp-flags/ramp"
)

// Sessions authenticates requests by a browser session, such as the web
// console's cookie. The API asks it only about requests that carry no
// token, so that the token path stays as it is.
type Sessions interface {
	// Principal returns the principal of r's session. ok is false when r
	// has no session at all, and the API then asks for a token. With ok
	// true, err is set when the session is unknown or expired
	// (EUNAUTHORIZED) or when r changes something without passing the
	// session's cross-site request forgery check (EFORBIDDEN). It is
	// called concurrently.
	Principal(r *http.Request) (p Principal, ok bool, err error)
}

// sessionPrincipal finishes the authentication of a session: a session
// signed in with a stored token ends when the token is revoked, checked on
// every request because console requests are few.
func (s *Server) sessionPrincipal(r *http.Request, p Principal, err error) (Principal, error) {
	if err != nil {
		return Principal{}, err
	}
	if p.TokenID == "" {
		return p, nil
	}
	t, err := s.store.GetToken(r.Context(), p.TokenID)
	if ramp.ErrorCode(err) == ramp.ENOTFOUND {
		return Principal{}, ramp.Errorf(ramp.EUNAUTHORIZED, "the token this console session signed in with was revoked; sign in again")
	}
	if err != nil {
		return Principal{}, err
	}
	p.Kind, p.Name = t.Kind, t.Name
	return p, nil
}

// AuthenticateToken returns the principal of a token string, as the API
// would for a request that sends it, so that the console can sign people
// in with the tokens the API knows. It fails with EUNAUTHORIZED for a
// malformed, unknown or revoked token and passes on store failures.
func (s *Server) AuthenticateToken(ctx context.Context, token string) (Principal, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return Principal{}, err
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return s.lookupToken(r)
}
