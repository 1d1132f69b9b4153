package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ramp-flags/ramp"
)

// FlagFilter selects flags in ListFlags. Empty fields do not filter.
type FlagFilter struct {
	Tag   string
	Owner string
	// Query matches a substring of the key or the name.
	Query string
}

// ListFlags returns the flags that match the filter, sorted by key.
func (c *Client) ListFlags(ctx context.Context, f FlagFilter) ([]*ramp.Flag, error) {
	q := url.Values{}
	if f.Tag != "" {
		q.Set("tag", f.Tag)
	}
	if f.Owner != "" {
		q.Set("owner", f.Owner)
	}
	if f.Query != "" {
		q.Set("q", f.Query)
	}
	var out struct {
		Flags []*ramp.Flag `json:"flags"`
	}
	if _, err := c.get(ctx, "/api/v1/flags", q, &out); err != nil {
		return nil, err
	}
	return out.Flags, nil
}

// GetFlag returns the flag with the key. Its Version is the one to pass
// back in UpdateFlag or DeleteFlag.
func (c *Client) GetFlag(ctx context.Context, key string) (*ramp.Flag, error) {
	var f ramp.Flag
	h, err := c.get(ctx, flagPath(key), nil, &f)
	if err != nil {
		return nil, err
	}
	if f.Version == 0 {
		f.Version = versionFromETag(h)
	}
	return &f, nil
}

// CreateFlag creates f and returns it as stored: with its salt, version 1
// and the state of every environment filled in.
func (c *Client) CreateFlag(ctx context.Context, f *ramp.Flag) (*ramp.Flag, error) {
	return c.sendFlag(ctx, request{method: http.MethodPost, path: "/api/v1/flags", body: f})
}

// UpdateFlag replaces the flag with f (salt kept if f has none). When
// f.Version is non-zero the write only happens if the stored flag still
// has that version; otherwise it fails with a conflict *APIError whose
// CurrentVersion holds the stored version.
func (c *Client) UpdateFlag(ctx context.Context, f *ramp.Flag) (*ramp.Flag, error) {
	return c.sendFlag(ctx, request{method: http.MethodPut, path: flagPath(f.Key), body: f, ifVersion: f.Version})
}

// DeleteFlag deletes the flag with the key. A non-zero version makes the
// delete conditional on the stored version, as in UpdateFlag.
func (c *Client) DeleteFlag(ctx context.Context, key string, version int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: flagPath(key), ifVersion: version})
	return err
}

// SetEnvironmentState replaces the state of the flag in one environment:
// on or off, off variant, rules and fallthrough. It returns the whole flag.
func (c *Client) SetEnvironmentState(ctx context.Context, key, env string, fe *ramp.FlagEnv) (*ramp.Flag, error) {
	return c.sendFlag(ctx, request{method: http.MethodPut, path: flagEnvPath(key, env), body: fe})
}

// SetPercentage turns the environment on and serves pct percent (0 to 100,
// at most three decimals) of users the variant, everyone else the off
// variant. An empty variant lets the server choose: on for boolean flags,
// otherwise the only variant other than the off variant.
func (c *Client) SetPercentage(ctx context.Context, key, env string, pct float64, variant string) (*ramp.Flag, error) {
	body := struct {
		Percentage float64 `json:"percentage"`
		Variant    string  `json:"variant,omitempty"`
	}{pct, variant}
	return c.sendFlag(ctx, request{method: http.MethodPost, path: flagEnvPath(key, env) + "/percentage", body: body})
}

// Rollback is the kill switch: it turns the environment off, so everyone
// gets the off variant at once, and resets its rollout to 0 %.
func (c *Client) Rollback(ctx context.Context, key, env string) (*ramp.Flag, error) {
	return c.sendFlag(ctx, request{method: http.MethodPost, path: flagEnvPath(key, env) + "/rollback"})
}

// FlagStatus is the state of a flag in every environment, as the status
// endpoint reports it.
type FlagStatus struct {
	Key          string      `json:"key"`
	Version      int64       `json:"version"`
	Environments []EnvStatus `json:"environments"`
}

// EnvStatus is the state of a flag in one environment.
type EnvStatus struct {
	Environment string `json:"environment"`
	On          bool   `json:"on"`
	// Percentage is the share of the fallthrough not served the off
	// variant; 0 while the environment is off.
	Percentage float64 `json:"percentage"`
	// Variant is the rolled-out variant, when there is one.
	Variant    string `json:"variant,omitempty"`
	OffVariant string `json:"offVariant,omitempty"`
	// Rules is the number of targeting rules.
	Rules int `json:"rules"`
}

// FlagStatus returns the state of the flag in every environment.
func (c *Client) FlagStatus(ctx context.Context, key string) (*FlagStatus, error) {
	var s FlagStatus
	if _, err := c.get(ctx, flagPath(key)+"/status", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (c *Client) sendFlag(ctx context.Context, r request) (*ramp.Flag, error) {
	var f ramp.Flag
	r.out = &f
	h, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if f.Version == 0 {
		f.Version = versionFromETag(h)
	}
	return &f, nil
}

func flagPath(key string) string { return "/api/v1/flags/" + url.PathEscape(key) }

func flagEnvPath(key, env string) string {
	return flagPath(key) + "/environments/" + url.PathEscape(env)
}
