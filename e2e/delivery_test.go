package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/sdk"
)

// sdkToken creates an SDK token for env through the CLI.
func (s *server) sdkToken(env string) string {
	s.t.Helper()
	return strings.TrimSpace(s.mustRamp("token", "create", "--sdk", "--env", env))
}

func newSDK(t *testing.T, url, token string, cfg sdk.Config) *sdk.Client {
	t.Helper()
	cfg.URL, cfg.Token = url, token
	c, err := sdk.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSameAnswerEverywhere evaluates one flag for 100,000 users through
// the Go SDK (in process), the OFREP endpoint (the server) and ramp eval
// (the CLI): every variant must agree.
func TestSameAnswerEverywhere(t *testing.T) {
	s := startServer(t, t.TempDir(), "admin")
	ctx := context.Background()
	api := s.client()
	if _, err := api.CreateFlag(ctx, boolFlag("checkout")); err != nil {
		t.Fatal(err)
	}
	if _, err := api.SetEnvironmentState(ctx, "checkout", "production", &ramp.FlagEnv{
		On: true,
		Rules: []ramp.Rule{{ID: "vips", Clauses: []ramp.Clause{{Attribute: ramp.AttrTargetingKey, Op: ramp.OpStartsWith, Values: []string{"vip-"}}},
			Serve: ramp.Serve{Variant: "on"}}},
		Fallthrough: ramp.Serve{Split: []ramp.Allocation{{Variant: "on", Percent: 12.5}, {Variant: "off", Percent: 87.5}}},
	}); err != nil {
		t.Fatal(err)
	}
	token := s.sdkToken("production")
	c := newSDK(t, s.url, token, sdk.Config{})
	waitFor(t, 10*time.Second, "the SDK to see the split", func() bool {
		return c.Evaluate(ctx, "checkout", sdk.EvalContext{TargetingKey: "vip-1"}).Variant == "on"
	})

	const n = 100000
	keys := make([]string, n)
	for i := range keys {
		if i%10 == 0 {
			keys[i] = fmt.Sprintf("vip-%d", i)
		} else {
			keys[i] = fmt.Sprintf("user-%d", i)
		}
	}
	fromSDK := make([]string, n)
	for i, k := range keys {
		fromSDK[i] = c.Evaluate(ctx, "checkout", sdk.EvalContext{TargetingKey: k}).Variant
	}

	out := s.ramp(strings.NewReader(strings.Join(keys, "\n")+"\n"), "eval", "checkout", "--env", "production", "--keys", "-")
	if out.code != 0 {
		t.Fatalf("ramp eval: %s", out.stderr)
	}
	lines := strings.Split(strings.TrimSpace(out.stdout), "\n")
	if len(lines) != n {
		t.Fatalf("ramp eval printed %d lines", len(lines))
	}
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if f[0] != keys[i] || f[1] != fromSDK[i] {
			t.Fatalf("%s: SDK says %q, ramp eval says %q", keys[i], fromSDK[i], line)
		}
	}

	// OFREP, eight requests at a time over keep-alive connections.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				body, _ := json.Marshal(map[string]any{"context": map[string]any{"targetingKey": keys[i]}})
				req, _ := http.NewRequest("POST", s.url+"/ofrep/v1/evaluate/flags/checkout", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var r struct{ Variant string }
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if err != nil || r.Variant != fromSDK[i] {
					errs <- fmt.Errorf("%s: SDK says %q, OFREP says %q (%v)", keys[i], fromSDK[i], r.Variant, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	on := 0
	for _, v := range fromSDK {
		if v == "on" {
			on++
		}
	}
	// 10 % VIPs plus 12.5 % of the other 90 %.
	if got, want := float64(on)/n, 0.1+0.9*0.125; got < want-0.005 || got > want+0.005 {
		t.Errorf("share on %.4f, want about %.4f", got, want)
	}
}

// TestSDKSurvivesTheServer kills the server under a connected SDK: it keeps
// serving the last values without an error, catches up when the server is
// back without a restart, and a new SDK boots from the cache file while the
// server is down.
func TestSDKSurvivesTheServer(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "admin")
	addr := strings.TrimPrefix(s.url, "http://")
	s.mustRamp("flag", "create", "checkout", "--type", "boolean")
	s.mustRamp("set", "checkout", "100")
	token := s.sdkToken("production")
	cache := filepath.Join(t.TempDir(), "flags.json")
	ctx := context.Background()
	c := newSDK(t, s.url, token, sdk.Config{CacheFile: cache})
	waitFor(t, 10*time.Second, "on", func() bool { return c.Bool(ctx, "checkout", sdk.EvalContext{TargetingKey: "u"}, false) })

	s.kill()
	waitFor(t, 60*time.Second, "the SDK to notice", func() bool { return c.Status() == sdk.StatusStale })
	for i := 0; i < 1000; i++ {
		d := c.BoolDetail(ctx, "checkout", sdk.EvalContext{TargetingKey: fmt.Sprint(i)}, false)
		if !d.Value || d.ErrorCode != "" {
			t.Fatalf("with the server down: %+v, want the last value without an error", d)
		}
	}

	// A second application starts while the server is down.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	boot := newSDK(t, s.url, token, sdk.Config{CacheFile: cache, StartTimeout: time.Second})
	if !boot.Bool(ctx, "checkout", sdk.EvalContext{TargetingKey: "u"}, false) {
		t.Fatal("an SDK started from the cache file does not serve the cached value")
	}

	s2 := startServerAt(t, addr, dir, "admin")
	waitFor(t, 45*time.Second, "the SDK to reconnect", func() bool { return boot.Status() == sdk.StatusLive })
	s2.mustRamp("rollback", "checkout")
	waitFor(t, 10*time.Second, "the kill switch to reach the SDK", func() bool {
		return !boot.Bool(ctx, "checkout", sdk.EvalContext{TargetingKey: "u"}, true)
	})
}

// TestSDKConfigurationErrors: the real server's answers to a wrong token
// and to a missing environment end the SDK's start at once, named in its
// error and in every evaluation, instead of a wait for StartTimeout.
func TestSDKConfigurationErrors(t *testing.T) {
	s := startServer(t, t.TempDir(), "")
	for name, cfg := range map[string]sdk.Config{
		"unknown token":       {Token: "ramp_sdk_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
		"missing environment": {Token: s.token, Environment: "prod"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.URL, cfg.StartTimeout = s.url, time.Minute
			start := time.Now()
			c, err := sdk.New(t.Context(), cfg)
			if c == nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			if d := time.Since(start); d > 20*time.Second || !errors.Is(err, sdk.ErrNotReady) {
				t.Fatalf("New returned after %v with %v; want ErrNotReady at once", d, err)
			}
			want := map[string]string{"unknown token": "unknown or revoked", "missing environment": `environment "prod" does not exist`}[name]
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New: %v; want it to say %q", err, want)
			}
			if d := c.BoolDetail(t.Context(), "any", sdk.EvalContext{}, true); !d.Value || !strings.Contains(d.ErrorMessage, want) {
				t.Errorf("evaluation %+v; want the default and %q", d, want)
			}
		})
	}
}
