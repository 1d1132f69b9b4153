package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ramp-flags/ramp"
)

// BaselineOptions select the baseline of a flag: its environment (empty
// means production), the window (zero means the server's default: 1h to
// record, the stored baseline's to read), the metric source ("sdk" or
// "prometheus"; empty means Prometheus when the server has one, else the
// SDK counts, and to read, the stored baseline's) and the canary variant
// of a flag with more than two variants.
type BaselineOptions struct {
	Environment string
	Window      time.Duration
	Source      string
	Variant     string
}

func (o BaselineOptions) query() url.Values {
	q := url.Values{}
	if o.Environment != "" {
		q.Set("env", o.Environment)
	}
	if o.Window != 0 {
		q.Set("window", o.Window.String())
	}
	if o.Source != "" {
		q.Set("source", o.Source)
	}
	if o.Variant != "" {
		q.Set("variant", o.Variant)
	}
	return q
}

// BaselineView is the stored baseline of a flag next to the live figures.
type BaselineView struct {
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	// Stored is nil when no baseline was recorded.
	Stored *ramp.Baseline `json:"stored"`
	// Live holds both variants' figures over a window as long as the
	// stored baseline's, ending now; nil when the source could not be
	// read, and LiveError says why.
	Live      *LiveFigures `json:"live"`
	LiveError string       `json:"liveError,omitempty"`
}

// LiveFigures are the figures of the canary and the baseline variant now.
type LiveFigures struct {
	Source   string       `json:"source"`
	Window   string       `json:"window"`
	Baseline ramp.Figures `json:"baseline"`
	Canary   ramp.Figures `json:"canary"`
}

// RecordBaseline measures what the flag's off variant served over the
// window ending now, from the metric source, and stores it as the flag's
// baseline in the environment, replacing the previous one. A variant that
// served nothing in the window gives an *APIError with status 422.
func (c *Client) RecordBaseline(ctx context.Context, flag string, o BaselineOptions) (*ramp.Baseline, error) {
	var b ramp.Baseline
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/flags/" + url.PathEscape(flag) + "/baseline", query: o.query(), out: &b})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// Baseline returns the flag's stored baseline in the environment next to
// the live figures of both variants.
func (c *Client) Baseline(ctx context.Context, flag string, o BaselineOptions) (*BaselineView, error) {
	var v BaselineView
	if _, err := c.get(ctx, "/api/v1/flags/"+url.PathEscape(flag)+"/baseline", o.query(), &v); err != nil {
		return nil, err
	}
	return &v, nil
}
