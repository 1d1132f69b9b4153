package promsource

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/rollout"
)

func TestExpand(t *testing.T) {
	v := vars{flag: "checkout-v2", variant: "on", env: "production", window: 90*time.Second + 200*time.Millisecond}
	tests := []struct {
		name, tmpl string
		v          vars
		want       string
		err        string
	}{
		{name: "default requests", tmpl: DefaultRequestsQuery, v: v,
			want: `sum(increase(ramp_flag_requests_total{flag="checkout-v2",variant="on",environment="production"}[91s]))`},
		{name: "default errors", tmpl: DefaultErrorsQuery, v: v,
			want: `sum(increase(ramp_flag_errors_total{flag="checkout-v2",variant="on",environment="production"}[91s]))`},
		{name: "default buckets", tmpl: DefaultBucketsQuery, v: v,
			want: `sum by (le) (increase(ramp_flag_request_duration_seconds_bucket{flag="checkout-v2",variant="on",environment="production"}[91s]))`},
		{name: "whole seconds stay", tmpl: `x[{{window}}]`, v: vars{window: time.Hour}, want: `x[3600s]`},
		{name: "a nanosecond rounds up", tmpl: `x[{{window}}]`, v: vars{window: time.Hour + 1}, want: `x[3601s]`},
		{name: "spaces in braces", tmpl: `x{a="{{ flag }}"}[{{  window }}]`, v: v, want: `x{a="checkout-v2"}[91s]`},
		{name: "quotes and backslashes escaped", tmpl: `x{flag="{{flag}}"}`, v: vars{flag: `a"b\c`},
			want: `x{flag="a\"b\\c"}`},
		{name: "injection stays inside the string", tmpl: `x{flag="{{flag}}"}`, v: vars{flag: `"} or vector(1) # `},
			want: `x{flag="\"} or vector(1) # "}`},
		{name: "control characters and invalid UTF-8", tmpl: `x{flag="{{flag}}"}`, v: vars{flag: "a\nb\x00\xff"},
			want: `x{flag="a\nb\x00\xff"}`},
		{name: "unicode kept", tmpl: `x{flag="{{flag}}"}`, v: vars{flag: "café"}, want: `x{flag="café"}`},
		{name: "a value is not expanded again", tmpl: `x{flag="{{flag}}"}[{{window}}]`, v: vars{flag: "{{window}}", window: time.Minute},
			want: `x{flag="{{window}}"}[60s]`},
		{name: "escaped quote keeps the string open", tmpl: `x{a="q\"{{variant}}"}`, v: v, want: `x{a="q\"on"}`},
		{name: "regex matcher", tmpl: `x{variant=~"{{variant}}|other"}`, v: v, want: `x{variant=~"on|other"}`},
		{name: "comment without placeholders", tmpl: "x # total\n", v: v, want: "x # total\n"},
		{name: "double braces that are no placeholder", tmpl: `x{a=~"b{{2,3}}"}`, v: v, want: `x{a=~"b{{2,3}}"}`},

		{name: "unquoted value", tmpl: `x{flag={{flag}}}`, v: v, err: `{{flag}} must stand inside double quotes, as in flag="{{flag}}"`},
		{name: "single-quoted value", tmpl: `x{environment='{{env}}'}`, v: v, err: `{{env}} must stand inside double quotes, as in environment="{{env}}"`},
		{name: "backquoted value", tmpl: "x{variant=`{{variant}}`}", v: v, err: `{{variant}} must stand inside double quotes`},
		{name: "value in a comment", tmpl: "x # {{flag}}\n", v: v, err: `{{flag}} must stand inside double quotes`},
		{name: "window in a string", tmpl: `x{a="{{window}}"}`, v: v, err: `{{window}} must stand outside strings and comments`},
		{name: "unknown placeholder", tmpl: `x{flag="{{flags}}"}`, v: v, err: `unknown placeholder {{flags}}: use {{flag}}, {{variant}}, {{env}} or {{window}}`},
		{name: "unclosed string", tmpl: `x{flag="{{flag}}}`, v: v, err: `a string opened with " is not closed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand(tt.tmpl, tt.v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("expand(%q) = %q, %v; want an error containing %q", tt.tmpl, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("expand(%q)\n got %q, %v\nwant %q", tt.tmpl, got, err, tt.want)
			}
		})
	}
}

func TestCheckQueries(t *testing.T) {
	if err := CheckQueries(DefaultQueries()); err != nil {
		t.Errorf("CheckQueries(defaults) = %v", err)
	}
	if err := CheckQueries(rollout.Queries{}); err != nil {
		t.Errorf("CheckQueries(empty) = %v", err)
	}
	err := CheckQueries(rollout.Queries{Requests: `x{flag={{flag}}}`, Errors: `ok`, Buckets: `y[{{windw}}]`})
	if err == nil {
		t.Fatal("CheckQueries(bad) = nil")
	}
	for _, want := range []string{"requests query: {{flag}} must stand inside double quotes", "buckets query: unknown placeholder {{windw}}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckQueries(bad) = %q; want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "errors query") {
		t.Errorf("CheckQueries(bad) = %q blames the valid errors query", err)
	}
}

// TestDefaultBucketsMatchSDK keeps the default buckets, which the judge
// falls back on for an arm without data, equal to the SDK's.
func TestDefaultBucketsMatchSDK(t *testing.T) {
	if got, want := DefaultBuckets(), ramp.LatencyBounds(); !slices.Equal(got, want) {
		t.Errorf("DefaultBuckets() = %v; the SDK measures with %v", got, want)
	}
}
