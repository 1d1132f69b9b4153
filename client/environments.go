package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ramp-flags/ramp"
)

// ListEnvironments returns every environment.
func (c *Client) ListEnvironments(ctx context.Context) ([]ramp.Environment, error) {
	var out struct {
		Environments []ramp.Environment `json:"environments"`
	}
	if _, err := c.get(ctx, "/api/v1/environments", nil, &out); err != nil {
		return nil, err
	}
	return out.Environments, nil
}

// CreateEnvironment creates the environment; every flag gets a state in
// it, off and serving its default variant.
func (c *Client) CreateEnvironment(ctx context.Context, e ramp.Environment) (ramp.Environment, error) {
	var out ramp.Environment
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/environments", body: e, out: &out})
	return out, err
}

// DeleteEnvironment deletes the environment with the key and the state of
// every flag in it.
func (c *Client) DeleteEnvironment(ctx context.Context, key string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/environments/" + url.PathEscape(key)})
	return err
}

// Snapshot is everything needed to evaluate the flags of one environment
// locally.
type Snapshot struct {
	Environment string          `json:"environment"`
	Flags       []*ramp.Flag    `json:"flags"`
	Segments    []*ramp.Segment `json:"segments"`
}

// Snapshot returns the flags and segments of the environment.
func (c *Client) Snapshot(ctx context.Context, env string) (*Snapshot, error) {
	var s Snapshot
	if _, err := c.get(ctx, "/api/v1/environments/"+url.PathEscape(env)+"/snapshot", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
