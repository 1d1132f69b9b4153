package promsource_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/rollout"
)

func TestExpand(t *testing.T) {
	got, err := promsource.Expand(promsource.DefaultErrorsQuery, "checkout-v2", "on", "production", 90500*time.Millisecond)
	want := `sum(increase(ramp_flag_errors_total{flag="checkout-v2",variant="on",environment="production"}[91s]))`
	if err != nil || got != want {
		t.Errorf("Expand = %q, %v; want %q", got, err, want)
	}
	if _, err := promsource.Expand(promsource.DefaultErrorsQuery, "f", "v", "e", 0); err == nil {
		t.Error("Expand accepted a zero window")
	}
	if _, err := promsource.Expand(`sum(x{flag={{flag}}})`, "f", "v", "e", time.Minute); err == nil || !strings.Contains(err.Error(), "double quotes") {
		t.Errorf("Expand of a bad template: %v", err)
	}
}

func TestExpandRange(t *testing.T) {
	for rng, ok := range map[string]bool{
		"5m": true, "1h30m": true, "90s": true, "500ms": true, "$__rate_interval": true, "$__interval": true, "$__range": true,
		"": false, "5": false, "5 m": false, "$__range_ms": false, "$datasource": false, "5m]) or vector(1": false, "-5m": false,
	} {
		got, err := promsource.ExpandRange(promsource.DefaultRequestsQuery, "f", `x"y`, "e", rng)
		if ok != (err == nil) {
			t.Errorf("ExpandRange(%q) = %q, %v; want ok %v", rng, got, err, ok)
			continue
		}
		if ok && !strings.HasSuffix(got, `variant="x\"y",environment="e"}[`+rng+`]))`) {
			t.Errorf("ExpandRange(%q) = %q", rng, got)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	own := `sum(increase(http_requests_total{ff="{{variant}}"}[{{window}}]))`
	q := promsource.WithDefaults(rollout.Queries{Requests: own, Errors: "  "})
	if q.Requests != own || q.Errors != promsource.DefaultErrorsQuery || q.Buckets != promsource.DefaultBucketsQuery {
		t.Errorf("WithDefaults = %+v", q)
	}
}
