package client

import (
	"context"
	"net/http"
)

// ServerMetrics returns the server's own metrics in the Prometheus text
// format, as GET /metrics serves them to any valid token. Reports and
// guides read from them what the server is configured with, such as its
// webhook targets.
func (c *Client) ServerMetrics(ctx context.Context) ([]byte, error) {
	var body []byte
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/metrics", out: rawBody{&body}}); err != nil {
		return nil, err
	}
	return body, nil
}
