package openfeature_test

import (
	"context"
	"errors"
	"go/build"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/evaltest"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
	rampof "github.com/ramp-flags/ramp/sdk/openfeature"
)

const env = "production"

const waitLimit = 10 * time.Second

func flags() []*ramp.Flag {
	gated := sdktest.BoolFlag("gated", env, 0)
	gated.Environments[env].Rules = []ramp.Rule{{ID: "pros", Clauses: []ramp.Clause{{Attribute: "plan", Op: ramp.OpEquals, Values: []string{"pro"}}}, Serve: ramp.Serve{Variant: "on"}}}
	broken := sdktest.StaticFlag("broken", env, ramp.TypeBoolean, "true")
	broken.Environments[env].Fallthrough.Variant = "missing"
	return []*ramp.Flag{
		sdktest.BoolFlag("everyone", env, 100),
		sdktest.BoolFlag("half", env, 50),
		gated,
		broken,
		sdktest.StaticFlag("banner", env, ramp.TypeString, `"blue"`),
		sdktest.StaticFlag("ratio", env, ramp.TypeNumber, "0.25"),
		sdktest.StaticFlag("limit", env, ramp.TypeNumber, "10"),
		sdktest.StaticFlag("theme", env, ramp.TypeObject, `{"color":"red"}`),
	}
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newSDK starts an SDK client against srv; it must become ready unless
// the server is down.
func newSDK(t *testing.T, srv *sdktest.Server, clk sdk.Clock, mod ...func(*sdk.Config)) (*sdk.Client, error) {
	t.Helper()
	cfg := sdk.Config{URL: srv.URL, Token: sdktest.Token, Clock: clk, Logger: logger(t)}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := sdk.New(context.Background(), cfg)
	if c == nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, err
}

// newAPI returns an isolated OpenFeature API with the provider set, and a
// client of it.
func newAPI(t *testing.T, p *rampof.Provider) (*of.EvaluationAPI, *of.Client, error) {
	t.Helper()
	api := isolated.NewAPI()
	err := api.SetProviderAndWait(context.Background(), p)
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	return api, api.NewClient(), err
}

// events collects the provider events of one type.
func events(api *of.EvaluationAPI, typ of.EventType) <-chan of.EventDetails {
	ch := make(chan of.EventDetails, 100)
	fn := func(d of.EventDetails) { ch <- d }
	api.AddHandler(typ, &fn)
	return ch
}

func next(t *testing.T, ch <-chan of.EventDetails, what string) of.EventDetails {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(waitLimit):
		t.Fatalf("no %s event", what)
	}
	return of.EventDetails{}
}

// TestProviderEvaluates evaluates every type through the OpenFeature
// client and checks the mapping of values, variants, reasons and errors.
func TestProviderEvaluates(t *testing.T) {
	srv := sdktest.NewServer(t, env, flags(), nil)
	c, _ := newSDK(t, srv, sdktest.NewClock())
	_, ofc, err := newAPI(t, rampof.NewProvider(c))
	if err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	if ofc.State() != of.ReadyState {
		t.Errorf("state %v, want READY", ofc.State())
	}
	ctx := context.Background()
	user := of.NewEvaluationContext("user-1", map[string]any{"plan": "free"})
	pro := of.NewEvaluationContext("user-2", map[string]any{"plan": "pro"})

	b, err := ofc.BooleanValueDetails(ctx, "everyone", false, user)
	if err != nil || !b.Value || b.Variant != "on" || b.Reason != of.StaticReason {
		t.Errorf("everyone: %+v, %v", b, err)
	}
	if b, err := ofc.BooleanValueDetails(ctx, "half", false, user); err != nil || b.Reason != of.SplitReason {
		t.Errorf("half: %+v, %v", b, err)
	}
	if b, err := ofc.BooleanValueDetails(ctx, "gated", false, pro); err != nil || !b.Value || b.Reason != of.TargetingMatchReason || b.FlagMetadata["ruleId"] != "pros" {
		t.Errorf("gated for a pro: %+v, %v", b, err)
	}
	if b, err := ofc.BooleanValueDetails(ctx, "gated", true, user); err != nil || b.Value || b.Reason != of.DefaultReason {
		t.Errorf("gated for a free user: %+v, %v", b, err)
	}
	if s, err := ofc.StringValueDetails(ctx, "banner", "none", user); err != nil || s.Value != "blue" || s.Variant != "v" {
		t.Errorf("banner: %+v, %v", s, err)
	}
	if f, err := ofc.FloatValue(ctx, "ratio", 1, user); err != nil || f != 0.25 {
		t.Errorf("ratio: %v, %v", f, err)
	}
	if i, err := ofc.IntValue(ctx, "limit", 1, user); err != nil || i != 10 {
		t.Errorf("limit: %v, %v", i, err)
	}
	if o, err := ofc.ObjectValue(ctx, "theme", nil, user); err != nil || o.(map[string]any)["color"] != "red" {
		t.Errorf("theme: %v, %v", o, err)
	}

	fails := []struct {
		name string
		eval func() (any, of.InterfaceEvaluationDetails, error)
		def  any
		code of.ErrorCode
	}{
		{"unknown flag", func() (any, of.InterfaceEvaluationDetails, error) {
			d, err := ofc.BooleanValueDetails(ctx, "nope", true, user)
			return d.Value, of.InterfaceEvaluationDetails{EvaluationDetails: d.EvaluationDetails}, err
		}, true, of.FlagNotFoundCode},
		{"type mismatch", func() (any, of.InterfaceEvaluationDetails, error) {
			d, err := ofc.StringValueDetails(ctx, "everyone", "def", user)
			return d.Value, of.InterfaceEvaluationDetails{EvaluationDetails: d.EvaluationDetails}, err
		}, "def", of.TypeMismatchCode},
		{"integer from a fraction", func() (any, of.InterfaceEvaluationDetails, error) {
			d, err := ofc.IntValueDetails(ctx, "ratio", 3, user)
			return d.Value, of.InterfaceEvaluationDetails{EvaluationDetails: d.EvaluationDetails}, err
		}, int64(3), of.TypeMismatchCode},
		{"object from a number", func() (any, of.InterfaceEvaluationDetails, error) {
			d, err := ofc.ObjectValueDetails(ctx, "limit", "def", user)
			return d.Value, d, err
		}, "def", of.TypeMismatchCode},
		{"split without a targeting key", func() (any, of.InterfaceEvaluationDetails, error) {
			d, err := ofc.BooleanValueDetails(ctx, "half", true, of.NewTargetlessEvaluationContext(nil))
			return d.Value, of.InterfaceEvaluationDetails{EvaluationDetails: d.EvaluationDetails}, err
		}, true, of.TargetingKeyMissingCode},
		{"flag that does not compile", func() (any, of.InterfaceEvaluationDetails, error) {
			d, err := ofc.BooleanValueDetails(ctx, "broken", true, user)
			return d.Value, of.InterfaceEvaluationDetails{EvaluationDetails: d.EvaluationDetails}, err
		}, true, of.ParseErrorCode},
	}
	for _, f := range fails {
		v, d, err := f.eval()
		if err == nil || v != f.def || d.ErrorCode != f.code || d.Reason != of.ErrorReason || d.ErrorMessage == "" {
			t.Errorf("%s: value %v, details %+v, err %v; want the default, %s", f.name, v, d, err, f.code)
		}
	}
}

// TestProviderFixtures runs the shared evaluation fixtures through the
// OpenFeature client.
func TestProviderFixtures(t *testing.T) {
	ctx := context.Background()
	for _, file := range evaltest.Load(t) {
		srv := sdktest.NewServer(t, file.Environment, file.Flags, file.Segments)
		c, _ := newSDK(t, srv, sdktest.NewClock())
		_, ofc, err := newAPI(t, rampof.NewProvider(c))
		if err != nil {
			t.Fatal(err)
		}
		types := map[string]ramp.FlagType{}
		for _, f := range file.Flags {
			types[f.Key] = f.Type
		}
		for _, tc := range file.Cases {
			t.Run(file.Name+"/"+tc.Name, func(t *testing.T) {
				key, attrs := tc.Split()
				ec := of.NewEvaluationContext(key, attrs)
				var value any
				var d of.EvaluationDetails
				switch types[tc.Flag] {
				case ramp.TypeBoolean:
					r, _ := ofc.BooleanValueDetails(ctx, tc.Flag, false, ec)
					value, d = r.Value, r.EvaluationDetails
				case ramp.TypeString:
					r, _ := ofc.StringValueDetails(ctx, tc.Flag, "", ec)
					value, d = r.Value, r.EvaluationDetails
				case ramp.TypeNumber:
					r, _ := ofc.FloatValueDetails(ctx, tc.Flag, 0, ec)
					value, d = r.Value, r.EvaluationDetails
				default:
					r, _ := ofc.ObjectValueDetails(ctx, tc.Flag, nil, ec)
					value, d = r.Value, r.EvaluationDetails
				}
				if d.ErrorCode != "" {
					value = nil // the default, which fixtures do not name
				}
				tc.Want.Check(t, d.Variant, value, string(d.Reason), string(d.ErrorCode))
			})
		}
	}
}

// TestProviderEvents checks CONFIGURATION_CHANGED on a change, STALE when
// the server goes away (values still served) and READY when it is back.
func TestProviderEvents(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, flags(), nil)
	c, _ := newSDK(t, srv, clk)
	api, ofc, err := newAPI(t, rampof.NewProvider(c))
	if err != nil {
		t.Fatal(err)
	}
	changed := events(api, of.ProviderConfigChange)
	stale := events(api, of.ProviderStale)
	ready := events(api, of.ProviderReady)
	next(t, ready, "initial READY") // handlers added to a ready provider run at once
	ctx := context.Background()
	user := of.NewEvaluationContext("user-1", nil)

	srv.SetFlags(sdktest.StaticFlag("banner", env, ramp.TypeString, `"green"`))
	if d := next(t, changed, "CONFIGURATION_CHANGED"); !slices.Equal(d.FlagChanges, []string{"banner"}) || d.ProviderName != "ramp" {
		t.Errorf("change event %+v", d)
	}
	if got := ofc.String(ctx, "banner", "none", user); got != "green" {
		t.Errorf("banner = %q after the change", got)
	}

	srv.Kill()
	if d := next(t, stale, "STALE"); !strings.Contains(d.Message, "not reachable") {
		t.Errorf("stale event %+v", d)
	}
	if ofc.State() != of.StaleState {
		t.Errorf("state %v, want STALE", ofc.State())
	}
	if got, err := ofc.StringValue(ctx, "banner", "none", user); err != nil || got != "green" {
		t.Errorf("while stale: banner = %q, %v", got, err)
	}

	clk.WaitTimer(t, func(d time.Duration) bool { return d < sdk.IdleTimeout })
	srv.Restart()
	clk.Next(t)
	next(t, ready, "READY after the server came back")
	if ofc.State() != of.ReadyState {
		t.Errorf("state %v, want READY", ofc.State())
	}
}

// TestProviderNotReady starts with no server and no cache: SetProviderAndWait
// fails, evaluations serve defaults with PROVIDER_NOT_READY, and the
// provider becomes READY when the server comes.
func TestProviderNotReady(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, flags(), nil)
	srv.Kill()
	var c *sdk.Client
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err = newSDK(t, srv, clk)
	}()
	clk.WaitTimer(t, func(d time.Duration) bool { return d == sdk.DefaultStartTimeout })
	clk.Advance(sdk.DefaultStartTimeout)
	<-done
	if !errors.Is(err, sdk.ErrNotReady) {
		t.Fatalf("New: %v, want ErrNotReady", err)
	}

	api, ofc, err := newAPI(t, rampof.NewProvider(c))
	var ie *of.ProviderInitError
	if !errors.As(err, &ie) || ie.ErrorCode != of.ProviderNotReadyCode {
		t.Errorf("SetProviderAndWait: %v, want a PROVIDER_NOT_READY init error", err)
	}
	if ofc.State() != of.ErrorState {
		t.Errorf("state %v, want ERROR", ofc.State())
	}
	ctx := context.Background()
	d, err := ofc.BooleanValueDetails(ctx, "everyone", false, of.NewEvaluationContext("u", nil))
	if err == nil || d.Value || d.ErrorCode != of.ProviderNotReadyCode {
		t.Errorf("not ready: %+v, %v", d, err)
	}
	ready := events(api, of.ProviderReady)

	clk.WaitTimer(t, func(d time.Duration) bool { return d < sdk.IdleTimeout })
	srv.Restart()
	clk.Next(t)
	next(t, ready, "READY once the server came")
	if ofc.State() != of.ReadyState {
		t.Errorf("state %v, want READY", ofc.State())
	}
	if !ofc.Boolean(ctx, "everyone", false, of.NewEvaluationContext("u", nil)) {
		t.Error("flag not served once ready")
	}
}

// TestProviderStaleFromCache starts from a cache file while the server is
// down: the provider initialises, serves the cached flags and reports
// STALE.
func TestProviderStaleFromCache(t *testing.T) {
	srv := sdktest.NewServer(t, env, flags(), nil)
	cache := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(cache, srv.Document(), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	c, err := newSDK(t, srv, sdktest.NewClock(), func(cfg *sdk.Config) { cfg.CacheFile = cache })
	if err != nil || c.Status() != sdk.StatusStale {
		t.Fatalf("New: %v, status %v", err, c.Status())
	}
	api, ofc, err := newAPI(t, rampof.NewProvider(c))
	if err != nil {
		t.Fatalf("SetProviderAndWait: %v", err)
	}
	next(t, events(api, of.ProviderStale), "STALE")
	if ofc.State() != of.StaleState {
		t.Errorf("state %v, want STALE", ofc.State())
	}
	if got, err := ofc.StringValue(context.Background(), "banner", "none", of.NewEvaluationContext("u", nil)); err != nil || got != "blue" {
		t.Errorf("banner from the cache = %q, %v", got, err)
	}
}

// TestGlobalAPI uses the package-level OpenFeature API, as most
// applications do.
func TestGlobalAPI(t *testing.T) {
	srv := sdktest.NewServer(t, env, flags(), nil)
	c, _ := newSDK(t, srv, sdktest.NewClock())
	if err := of.SetProviderAndWait(rampof.NewProvider(c)); err != nil {
		t.Fatal(err)
	}
	defer of.Shutdown()
	if of.ProviderMetadata().Name != "ramp" {
		t.Errorf("metadata %+v", of.ProviderMetadata())
	}
	ofc := of.NewDefaultClient()
	if !ofc.Boolean(context.Background(), "everyone", false, of.NewEvaluationContext("u", nil)) {
		t.Error("everyone = false")
	}
}

// TestShutdownLeavesClientOpen shuts the API down: the provider stops,
// the SDK client, which the application owns, keeps serving.
func TestShutdownLeavesClientOpen(t *testing.T) {
	srv := sdktest.NewServer(t, env, flags(), nil)
	c, _ := newSDK(t, srv, sdktest.NewClock())
	api, _, err := newAPI(t, rampof.NewProvider(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	seq := srv.SetFlags(sdktest.BoolFlag("everyone", env, 0))
	deadline := time.After(waitLimit)
	got := make(chan struct{}, 1)
	defer c.OnChange(func(sdk.ChangeEvent) { got <- struct{}{} })()
	for c.Seq() != seq {
		select {
		case <-got:
		case <-deadline:
			t.Fatal("the client stopped after the provider shut down")
		}
	}
	if c.Status() != sdk.StatusLive {
		t.Errorf("client status %v after the provider shut down", c.Status())
	}
}

// TestImports keeps the provider light: the standard library, ramp's SDK
// and what it imports (its JSON decoder included), and the OpenFeature SDK.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/ramp-flags/ramp", "github.com/ramp-flags/ramp/eval", "github.com/ramp-flags/ramp/sdk",
		"github.com/ramp-flags/ramp/sdk/openfeature", "github.com/zeebo/xxh3", "github.com/klauspost/cpuid/v2",
		"golang.org/x/sys/cpu", "github.com/open-feature/go-sdk/openfeature",
	}
	seen := map[string]bool{}
	var walk func(path, dir string)
	walk = func(path, dir string) {
		if seen[path] || path == "C" {
			return
		}
		seen[path] = true
		pkg, err := build.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		under := func(root string) bool { return path == root || strings.HasPrefix(path, root+"/") }
		if !pkg.Goroot && !slices.Contains(allowed, path) && !under("github.com/open-feature/go-sdk/openfeature/internal") && !under("github.com/go-json-experiment/json") {
			t.Errorf("the provider depends on %s", path)
		}
		for _, imp := range pkg.Imports {
			walk(imp, pkg.Dir)
		}
	}
	walk("github.com/ramp-flags/ramp/sdk/openfeature", ".")
}
