package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ramp-flags/ramp"
)

// TokenRequest describes a token to create.
type TokenRequest struct {
	Name string         `json:"name"`
	Kind ramp.TokenKind `json:"kind"`
	// Environment is the one environment an SDK token reads.
	Environment string `json:"environment,omitempty"`
}

// NewToken is a token just created: its description and, this one time,
// its secret.
type NewToken struct {
	ramp.Token
	// Secret is the token string to hand to the CLI or an SDK. The server
	// keeps only its hash and never shows it again.
	Secret string `json:"token"`
}

// ListTokens returns every token, without secrets.
func (c *Client) ListTokens(ctx context.Context) ([]ramp.Token, error) {
	var out struct {
		Tokens []ramp.Token `json:"tokens"`
	}
	if _, err := c.get(ctx, "/api/v1/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// CreateToken creates a token and returns it with its secret.
func (c *Client) CreateToken(ctx context.Context, r TokenRequest) (*NewToken, error) {
	var t NewToken
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/tokens", body: r, out: &t}); err != nil {
		return nil, err
	}
	return &t, nil
}

// RevokeToken revokes the token with the id; requests made with it fail
// from then on.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/tokens/" + url.PathEscape(id)})
	return err
}
