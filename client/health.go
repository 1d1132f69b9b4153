package client

import (
	"context"
	"io"
	"net/http"
)

// Readiness is the answer of the readiness endpoint.
type Readiness struct {
	Status     string `json:"status"`
	Migrations struct {
		Current int `json:"current"`
		Latest  int `json:"latest"`
	} `json:"migrations"`
}

// Health checks that the server process answers. It needs no token.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.get(ctx, "/healthz", nil, nil)
	return err
}

// Ready reports whether the server can serve requests: its store is
// reachable and migrated. A server that is not ready gives an *APIError
// with status 503.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	var r Readiness
	if _, err := c.get(ctx, "/readyz", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// OpenAPI returns the OpenAPI document that describes the admin API.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var doc []byte
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/openapi.yaml", out: rawBody{&doc}}); err != nil {
		return nil, err
	}
	return doc, nil
}

// rawBody is an answer that is kept as bytes instead of decoded as JSON.
type rawBody struct{ b *[]byte }

func (r rawBody) readFrom(body io.Reader) error {
	b, err := io.ReadAll(body)
	*r.b = b
	return err
}
