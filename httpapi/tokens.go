package httpapi

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/ramp-flags/ramp"
)

func (s *Server) tokenRoutes() {
	s.handle("GET /api/v1/tokens", accessAdmin, s.listTokens)
	s.handle("POST /api/v1/tokens", accessAdmin, s.createToken)
	s.handle("DELETE /api/v1/tokens/{id}", accessAdmin, s.revokeToken)
}

type tokenList struct {
	Tokens []ramp.Token `json:"tokens"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.store.ListTokens(r.Context())
	if err != nil {
		return err
	}
	if toks == nil {
		toks = []ramp.Token{}
	}
	return writeJSON(w, http.StatusOK, tokenList{Tokens: toks})
}

// tokenRequest is the body of a token creation.
type tokenRequest struct {
	// Name identifies the token's holder; it is the actor of every change
	// made with the token.
	Name string         `json:"name"`
	Kind ramp.TokenKind `json:"kind"`
	// Environment is the environment an SDK token reads; admin tokens have
	// none.
	Environment string `json:"environment,omitempty"`
}

// createdToken answers a token creation: the stored token and, this one
// time, the token string itself.
type createdToken struct {
	// Secret is the token string to send as "Authorization: Bearer". Only
	// its hash is stored.
	Secret string `json:"token"`
	ramp.Token
}

// maxTokenName is the longest token name.
const maxTokenName = 100

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	var v fields
	switch {
	case req.Name == "":
		v.add("name", "is required: name the holder, such as the application or person")
	case len(req.Name) > maxTokenName:
		v.add("name", "is %d characters long; the limit is %d", len(req.Name), maxTokenName)
	case strings.TrimSpace(req.Name) != req.Name || strings.IndexFunc(req.Name, unicode.IsControl) >= 0:
		v.add("name", "has leading or trailing spaces or control characters")
	}
	switch req.Kind {
	case ramp.TokenAdmin:
		if req.Environment != "" {
			v.add("environment", "must be empty for an admin token, which may change every environment")
		}
	case ramp.TokenSDK:
		// The store checks that the environment exists, in the transaction.
		if req.Environment == "" {
			v.add("environment", "is required for an sdk token: name the environment it reads")
		}
	case "":
		v.add("kind", "is required: use admin or sdk")
	default:
		v.add("kind", "%q is not a token kind: use admin or sdk", req.Kind)
	}
	if err := v.err("token"); err != nil {
		return err
	}

	plain, id, hash := ramp.NewToken(req.Kind)
	c := change(r)
	c.Action = ramp.ActionTokenCreate
	t, err := s.store.CreateToken(r.Context(), c, ramp.Token{
		ID:          id,
		Name:        req.Name,
		Kind:        req.Kind,
		Environment: req.Environment,
		Hash:        hash,
		CreatedBy:   c.Actor,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, createdToken{Secret: plain, Token: t})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	c := change(r)
	c.Action = ramp.ActionTokenRevoke
	if err := s.store.RevokeToken(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
