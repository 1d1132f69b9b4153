package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/eval"
)

// conformanceFlags are the flags the OFREP conformance test evaluates, in
// production.
var conformanceFlags = []string{
	`{"key":"enabled","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}],
	  "environments":{"production":{"on":true,"fallthrough":{"variant":"on"}}}}`,
	`{"key":"banner","type":"string","defaultVariant":"plain","variants":[{"key":"plain","value":"Hello"},{"key":"fancy","value":"Hi there"}],
	  "environments":{"production":{"on":true,"rules":[{"id":"staff","clauses":[{"attribute":"email","op":"endsWith","values":["@example.com"]}],"serve":{"variant":"fancy"}}],"fallthrough":{"variant":"plain"}}}}`,
	`{"key":"limit","type":"number","defaultVariant":"low","variants":[{"key":"low","value":10},{"key":"high","value":2.5}],
	  "environments":{"production":{"on":true,"rules":[{"id":"vip","clauses":[{"attribute":"plan","op":"in","values":["vip"]}],"serve":{"variant":"high"}}],"fallthrough":{"variant":"low"}}}}`,
	`{"key":"layout","type":"object","defaultVariant":"two","variants":[{"key":"two","value":{"columns":2,"theme":"dark"}},{"key":"three","value":{"columns":3}}],
	  "environments":{"production":{"on":true,"fallthrough":{"variant":"two"}}}}`,
	`{"key":"dark","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}]}`,
	`{"key":"checkout","type":"boolean","defaultVariant":"off","salt":"conformance","variants":[{"key":"on","value":true},{"key":"off","value":false}],
	  "environments":{"production":{"on":true,"fallthrough":{"split":[{"variant":"on","percent":50},{"variant":"off","percent":50}]}}}}`,
}

// startConformance starts a server with the conformance flags and returns
// it with an SDK token of production, once OFREP serves the flags.
func startConformance(t *testing.T) (*server, string) {
	t.Helper()
	s := startServer(t, t.TempDir(), "")
	c := s.client()
	for _, js := range conformanceFlags {
		var f ramp.Flag
		if err := json.Unmarshal([]byte(js), &f); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateFlag(t.Context(), &f); err != nil {
			t.Fatalf("create %s: %v", f.Key, err)
		}
	}
	tok, err := c.CreateToken(t.Context(), client.TokenRequest{Name: "app", Kind: ramp.TokenSDK, Environment: ramp.EnvProduction})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the flags to be served", func() bool {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/ofrep/v1/evaluate/flags/checkout", strings.NewReader(`{"context":{"targetingKey":"u"}}`))
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s, tok.Secret
}

// ofClient returns an OpenFeature client whose provider is the stock OFREP
// provider for the server at url, configured with opts.
func ofClient(t *testing.T, url string, opts ...ofrep.Option) *openfeature.Client {
	t.Helper()
	api := isolated.NewAPI()
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	if err := api.SetProviderAndWait(t.Context(), ofrep.NewProvider(url, opts...)); err != nil {
		t.Fatalf("set provider: %v", err)
	}
	return api.NewClient()
}

// wantDetails checks what the OpenFeature client reports.
func wantDetails(t *testing.T, name string, got openfeature.ResolutionDetail, variant string, reason openfeature.Reason, code openfeature.ErrorCode) {
	t.Helper()
	if got.Variant != variant || got.Reason != reason || got.ErrorCode != code {
		t.Errorf("%s: variant %q reason %q error %q (%s), want variant %q reason %q error %q",
			name, got.Variant, got.Reason, got.ErrorCode, got.ErrorMessage, variant, reason, code)
	}
}

// TestOFREPConformance evaluates ramp's flags through the stock OpenFeature
// Go SDK and its OFREP provider against the real "ramp serve", and checks
// what an application sees: values, variants, reasons and error codes.
func TestOFREPConformance(t *testing.T) {
	s, token := startConformance(t)
	ctx := t.Context()
	of := ofClient(t, s.url, ofrep.WithBearerToken(token))
	user := openfeature.NewEvaluationContext("user-1", nil)

	t.Run("boolean", func(t *testing.T) {
		d, err := of.BooleanValueDetails(ctx, "enabled", false, user)
		if err != nil || !d.Value {
			t.Errorf("value %v, err %v", d.Value, err)
		}
		wantDetails(t, "enabled", d.ResolutionDetail, "on", openfeature.StaticReason, "")
		if v, ok := d.FlagMetadata["version"].(float64); !ok || v != 1 {
			t.Errorf("metadata %v: version", d.FlagMetadata)
		}
	})
	t.Run("string and targeting", func(t *testing.T) {
		staff := openfeature.NewEvaluationContext("user-1", map[string]any{"email": "ann@example.com"})
		d, err := of.StringValueDetails(ctx, "banner", "default", staff)
		if err != nil || d.Value != "Hi there" {
			t.Errorf("value %q, err %v", d.Value, err)
		}
		wantDetails(t, "staff", d.ResolutionDetail, "fancy", openfeature.TargetingMatchReason, "")
		if d.FlagMetadata["ruleId"] != "staff" {
			t.Errorf("metadata %v: ruleId", d.FlagMetadata)
		}
		d, err = of.StringValueDetails(ctx, "banner", "default", user)
		if err != nil || d.Value != "Hello" {
			t.Errorf("value %q, err %v", d.Value, err)
		}
		wantDetails(t, "others", d.ResolutionDetail, "plain", openfeature.DefaultReason, "")
	})
	t.Run("int and float", func(t *testing.T) {
		i, err := of.IntValueDetails(ctx, "limit", 0, user)
		if err != nil || i.Value != 10 {
			t.Errorf("int value %d, err %v", i.Value, err)
		}
		wantDetails(t, "int", i.ResolutionDetail, "low", openfeature.DefaultReason, "")
		f, err := of.FloatValueDetails(ctx, "limit", 0, user)
		if err != nil || f.Value != 10 {
			t.Errorf("float value %v, err %v", f.Value, err)
		}
		vip := openfeature.NewEvaluationContext("user-1", map[string]any{"plan": "vip"})
		f, err = of.FloatValueDetails(ctx, "limit", 0, vip)
		if err != nil || f.Value != 2.5 {
			t.Errorf("float value %v, err %v", f.Value, err)
		}
		wantDetails(t, "float", f.ResolutionDetail, "high", openfeature.TargetingMatchReason, "")
		// 2.5 is no integer: the provider reports a type mismatch.
		i, err = of.IntValueDetails(ctx, "limit", 7, vip)
		if err == nil || i.Value != 7 {
			t.Errorf("int of 2.5: value %d, err %v", i.Value, err)
		}
		wantDetails(t, "int of 2.5", i.ResolutionDetail, "", openfeature.ErrorReason, openfeature.TypeMismatchCode)
	})
	t.Run("object", func(t *testing.T) {
		d, err := of.ObjectValueDetails(ctx, "layout", nil, user)
		want := map[string]any{"columns": float64(2), "theme": "dark"}
		if err != nil || fmt.Sprint(d.Value) != fmt.Sprint(want) {
			t.Errorf("value %v, err %v", d.Value, err)
		}
		wantDetails(t, "object", d.ResolutionDetail, "two", openfeature.StaticReason, "")
	})
	t.Run("split", func(t *testing.T) {
		seed := eval.Seed("conformance")
		seen := map[string]int{}
		for i := range 40 {
			key := fmt.Sprintf("user-%d", i)
			d, err := of.BooleanValueDetails(ctx, "checkout", false, openfeature.NewEvaluationContext(key, nil))
			if err != nil {
				t.Fatal(err)
			}
			want := "off"
			if eval.Bucket(seed, key) < ramp.BucketCount/2 {
				want = "on"
			}
			wantDetails(t, key, d.ResolutionDetail, want, openfeature.SplitReason, "")
			if d.Value != (want == "on") {
				t.Errorf("%s: value %v with variant %s", key, d.Value, want)
			}
			seen[want]++
		}
		if seen["on"] == 0 || seen["off"] == 0 {
			t.Errorf("40 users in a 50/50 split: %v", seen)
		}
		d, err := of.BooleanValueDetails(ctx, "checkout", true, openfeature.NewTargetlessEvaluationContext(map[string]any{"country": "NZ"}))
		if err == nil || !d.Value {
			t.Errorf("without a targeting key: value %v, err %v", d.Value, err)
		}
		wantDetails(t, "no key", d.ResolutionDetail, "", openfeature.ErrorReason, openfeature.TargetingKeyMissingCode)
	})
	t.Run("disabled", func(t *testing.T) {
		// The provider hands the application its own default for a
		// disabled flag, with the reason and the variant ramp served.
		d, err := of.BooleanValueDetails(ctx, "dark", true, user)
		if err != nil || !d.Value {
			t.Errorf("value %v, err %v", d.Value, err)
		}
		wantDetails(t, "dark", d.ResolutionDetail, "off", openfeature.DisabledReason, "")
	})
	t.Run("missing flag", func(t *testing.T) {
		d, err := of.StringValueDetails(ctx, "no-such-flag", "fallback", user)
		if err == nil || d.Value != "fallback" {
			t.Errorf("value %q, err %v", d.Value, err)
		}
		wantDetails(t, "missing", d.ResolutionDetail, "", openfeature.ErrorReason, openfeature.FlagNotFoundCode)
	})
	t.Run("type mismatch", func(t *testing.T) {
		d, err := of.BooleanValueDetails(ctx, "banner", true, user)
		if err == nil || !d.Value {
			t.Errorf("value %v, err %v", d.Value, err)
		}
		wantDetails(t, "string as boolean", d.ResolutionDetail, "", openfeature.ErrorReason, openfeature.TypeMismatchCode)
	})
	t.Run("api key", func(t *testing.T) {
		d, err := ofClient(t, s.url, ofrep.WithApiKeyAuth(token)).BooleanValueDetails(ctx, "enabled", false, user)
		if err != nil || !d.Value {
			t.Errorf("value %v, err %v", d.Value, err)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		for name, opts := range map[string][]ofrep.Option{
			"unknown": {ofrep.WithBearerToken("ramp_sdk_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")},
			"garbage": {ofrep.WithApiKeyAuth("not-a-token")},
			"none":    nil,
		} {
			d, err := ofClient(t, s.url, opts...).BooleanValueDetails(ctx, "enabled", false, user)
			if err == nil || d.Value {
				t.Errorf("%s: value %v, err %v", name, d.Value, err)
			}
			wantDetails(t, name, d.ResolutionDetail, "", openfeature.ErrorReason, openfeature.GeneralCode)
		}
	})
	t.Run("kill switch", func(t *testing.T) {
		s.mustRamp("rollback", "enabled", "--env", "production")
		waitFor(t, 10*time.Second, "the kill switch to reach OFREP", func() bool {
			d, _ := of.BooleanValueDetails(ctx, "enabled", true, user)
			return d.Reason == openfeature.DisabledReason
		})
	})
	t.Run("metrics", func(t *testing.T) {
		body := getMetrics(t, s)
		for _, want := range []string{
			`ramp_evaluations_total{flag="banner",reason="TARGETING_MATCH",variant="fancy"} 1`,
			`ramp_evaluations_total{flag="checkout",reason="ERROR",variant=""}`,
			`ramp_ofrep_request_duration_seconds_count{endpoint="evaluate_flag"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// TestOFREPBulkAndEvents drives the client-side half of OFREP against the
// real server: a bulk evaluation, its ETag, and the refresh stream telling
// the client to fetch again after a change.
func TestOFREPBulkAndEvents(t *testing.T) {
	s := startServer(t, t.TempDir(), "")
	ctx := t.Context()
	c := s.client()
	var f ramp.Flag
	if err := json.Unmarshal([]byte(conformanceFlags[0]), &f); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFlag(ctx, &f); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, client.TokenRequest{Name: "web", Kind: ramp.TokenSDK, Environment: ramp.EnvProduction})
	if err != nil {
		t.Fatal(err)
	}
	bulk := func(etag string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/ofrep/v1/evaluate/flags", strings.NewReader(`{"context":{"targetingKey":"u1"}}`))
		req.Header.Set("X-API-Key", tok.Secret)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		if res.StatusCode == 200 {
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
		}
		return res, body
	}
	var etag string
	var body map[string]any
	waitFor(t, 10*time.Second, "the flag to be served", func() bool {
		var res *http.Response
		res, body = bulk("")
		etag = res.Header.Get("ETag")
		return res.StatusCode == 200 && len(body["flags"].([]any)) == 1
	})
	if res, _ := bulk(etag); res.StatusCode != 304 {
		t.Fatalf("If-None-Match of the current ETag: status %d", res.StatusCode)
	}
	streams := body["eventStreams"].([]any)
	uri := streams[0].(map[string]any)["endpoint"].(map[string]any)["requestUri"].(string)

	// Connect as a browser's EventSource does: the URL only, no header.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", s.url+uri, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("events: status %d", res.StatusCode)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		buf := make([]byte, 4096)
		var pending string
		for {
			n, err := res.Body.Read(buf)
			pending += string(buf[:n])
			for {
				i := strings.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				lines <- pending[:i]
				pending = pending[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	nextData := func() string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatal("the stream ended")
				}
				if data, ok := strings.CutPrefix(line, "data: "); ok {
					return data
				}
			case <-timeout:
				t.Fatal("no event within 10s")
			}
		}
	}
	if data := nextData(); !strings.Contains(data, `"type":"refetchEvaluation"`) {
		t.Fatalf("first event %s", data)
	}
	s.mustRamp("rollback", "enabled", "--env", "production")
	if data := nextData(); !strings.Contains(data, `"type":"refetchEvaluation"`) {
		t.Fatalf("event after the kill switch %s", data)
	}
	res2, after := bulk(etag)
	if res2.StatusCode != 200 {
		t.Fatalf("refetch after a change: status %d", res2.StatusCode)
	}
	flag := after["flags"].([]any)[0].(map[string]any)
	if flag["reason"] != "DISABLED" || flag["value"] != false {
		t.Errorf("after the kill switch: %v", flag)
	}
}

// getMetrics returns the server's /metrics text.
func getMetrics(t *testing.T, s *server) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: status %d: %s", res.StatusCode, b)
	}
	return string(b)
}
