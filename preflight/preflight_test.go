package preflight_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/preflight"
	"github.com/ramp-flags/ramp/rollout"
)

// fakeAPI answers as a healthy server with an sdk plan would; tests
// break one answer at a time. The real server is in e2e/preflight_test.go.
type fakeAPI struct {
	info    client.ServerInfo
	flag    *ramp.Flag
	flagErr error
	active  []*client.RolloutView
	live    float64
	stored  *ramp.Baseline
}

func newFake() *fakeAPI {
	f := &fakeAPI{live: 5000}
	f.info.Version = "v1.0.0"
	f.info.Store.Driver = "sqlite"
	f.info.Disk = &struct {
		Path       string `json:"path"`
		FreeBytes  uint64 `json:"freeBytes"`
		TotalBytes uint64 `json:"totalBytes"`
	}{"/var/lib/ramp", 10 << 30, 100 << 30}
	f.info.Memory.SysBytes, f.info.Memory.AvailableBytes, f.info.Memory.TotalBytes = 20<<20, 4<<30, 8<<30
	f.info.Sources = []string{"sdk"}
	f.info.Webhooks = 1
	f.info.AlertReceiver.Path = "/api/v1/alerts/alertmanager"
	f.info.AlertReceiver.Severities = []string{"critical"}
	f.flag = &ramp.Flag{Key: "checkout", Type: ramp.TypeBoolean, DefaultVariant: "off", Version: 1,
		Variants: []ramp.Variant{{Key: "off", Value: json.RawMessage("false")}, {Key: "on", Value: json.RawMessage("true")}}}
	return f
}

func (f *fakeAPI) Ready(ctx context.Context) (*client.Readiness, error) {
	r := &client.Readiness{Status: "ready"}
	r.Migrations.Current, r.Migrations.Latest = 5, 5
	return r, nil
}
func (f *fakeAPI) ServerInfo(ctx context.Context) (*client.ServerInfo, error) { return &f.info, nil }
func (f *fakeAPI) GetFlag(ctx context.Context, key string) (*ramp.Flag, error) {
	if f.flagErr != nil {
		return nil, f.flagErr
	}
	return f.flag.Clone(), nil
}
func (f *fakeAPI) ListEnvironments(ctx context.Context) ([]ramp.Environment, error) {
	return []ramp.Environment{{Key: "production"}, {Key: "staging"}}, nil
}
func (f *fakeAPI) ListSegments(ctx context.Context) ([]*ramp.Segment, error) { return nil, nil }
func (f *fakeAPI) ListRollouts(ctx context.Context, _ client.RolloutFilter) ([]*client.RolloutView, error) {
	return f.active, nil
}
func (f *fakeAPI) RolloutTemplates(ctx context.Context) (map[string]rollout.Plan, error) {
	return rollout.Templates(), nil
}
func (f *fakeAPI) RollbackDryRun(ctx context.Context, flag, env string) (*client.KillSwitchPlan, error) {
	return &client.KillSwitchPlan{DryRun: true, Flag: flag, Environment: env, After: client.EnvServing{OffVariant: "off"}, Actions: []string{ramp.ActionFlagRollback}}, nil
}
func (f *fakeAPI) Baseline(ctx context.Context, flag string, o client.BaselineOptions) (*client.BaselineView, error) {
	v := &client.BaselineView{Flag: flag, Environment: "production", Stored: f.stored,
		Live: &client.LiveFigures{Source: "sdk", Window: "1h", Baseline: ramp.Figures{Variant: "off", Requests: f.live}, Canary: ramp.Figures{Variant: "on"}}}
	return v, nil
}

func run(f *fakeAPI, cfg preflight.Config) preflight.Report {
	if cfg.Flag == "" {
		cfg.Flag = "checkout"
	}
	return preflight.Run(context.Background(), f, cfg)
}

func find(t *testing.T, rep preflight.Report, id string) preflight.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return preflight.Check{}
}

func TestHealthy(t *testing.T) {
	rep := run(newFake(), preflight.Config{ClientVersion: "v1.0.0"})
	if !rep.OK || len(rep.Failed()) != 0 {
		t.Fatalf("failed: %+v", rep.Failed())
	}
	var ids []string
	for _, c := range rep.Checks {
		ids = append(ids, c.ID)
		if c.Reason == "" {
			t.Errorf("%s has no reason", c.ID)
		}
	}
	want := []string{preflight.IDServerReady, preflight.IDServerVersion, preflight.IDServerDisk, preflight.IDServerMemory,
		preflight.IDFlagExists, preflight.IDFlagValid, preflight.IDFlagAtZero, preflight.IDPlanValid, preflight.IDSDKMetrics,
		preflight.IDPrometheusReach, preflight.IDPrometheusMetrics, preflight.IDPrometheusRules, preflight.IDNotifications,
		preflight.IDKillSwitch, preflight.IDBaseline}
	if !slices.Equal(ids, want) {
		t.Errorf("checks %v, want %v", ids, want)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"flag":"checkout"`, `"environment":"production"`, `"ok":true`, `"checks":[`, `"id":"server.ready"`, `"required":true`, `"reason":`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s: %s", field, b)
		}
	}
}

// TestEachFailure breaks one thing at a time and checks which item fails,
// whether the preflight fails with it, and that a fix is given.
func TestEachFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		breakIt  func(f *fakeAPI, cfg *preflight.Config)
		id       string
		required bool
		reason   string
	}{
		{"low disk", func(f *fakeAPI, _ *preflight.Config) { f.info.Disk.FreeBytes = 100 << 20 }, preflight.IDServerDisk, true, "100.0 MiB free"},
		{"disk unknown", func(f *fakeAPI, _ *preflight.Config) { f.info.Disk = nil }, preflight.IDServerDisk, true, "cannot measure"},
		{"low memory", func(f *fakeAPI, _ *preflight.Config) { f.info.Memory.AvailableBytes = 10 << 20 }, preflight.IDServerMemory, false, "only 10.0 MiB"},
		{"version mismatch", func(f *fakeAPI, c *preflight.Config) { c.ClientVersion = "v0.9.0" }, preflight.IDServerVersion, false, "this client is v0.9.0"},
		{"no flag", func(f *fakeAPI, _ *preflight.Config) {
			f.flagErr = ramp.Errorf(ramp.ENOTFOUND, "flag \"checkout\" does not exist")
		}, preflight.IDFlagExists, true, "does not exist"},
		{"not at zero", func(f *fakeAPI, _ *preflight.Config) {
			if err := f.flag.SetPercentage("production", 12.5, ""); err != nil {
				panic(err)
			}
		}, preflight.IDFlagAtZero, true, "12.5%"},
		{"active rollout", func(f *fakeAPI, _ *preflight.Config) {
			f.active = []*client.RolloutView{{Rollout: ramp.Rollout{ID: 7, Status: ramp.RolloutPaused}}}
		}, preflight.IDFlagAtZero, true, "rollout 7"},
		{"bad plan", func(f *fakeAPI, c *preflight.Config) {
			c.Plan = &rollout.Plan{Stages: []rollout.Stage{{Percent: 5}, {Percent: 100}}, Guards: []rollout.Guard{{Guard: judge.Guard{Name: "e", Metric: judge.ErrorRate}}}}
		}, preflight.IDPlanValid, true, "stages[0].duration"},
		{"source missing", func(f *fakeAPI, c *preflight.Config) {
			p := rollout.Templates()["fast"]
			p.Source = rollout.SourcePrometheus
			c.Plan = &p
		}, preflight.IDPlanValid, true, "does not have"},
		{"no SDK counts", func(f *fakeAPI, _ *preflight.Config) { f.live = 0 }, preflight.IDSDKMetrics, true, "no SDK reported"},
		{"no notification", func(f *fakeAPI, _ *preflight.Config) { f.info.Webhooks = 0 }, preflight.IDNotifications, true, "no webhook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			cfg := preflight.Config{}
			tc.breakIt(f, &cfg)
			rep := run(f, cfg)
			c := find(t, rep, tc.id)
			if c.OK || c.Required != tc.required || !strings.Contains(c.Reason, tc.reason) || c.Fix == "" {
				t.Errorf("check %+v; want failed, required %v, reason with %q, a fix", c, tc.required, tc.reason)
			}
			if rep.OK == tc.required {
				t.Errorf("report ok %v with a failed check required=%v", rep.OK, tc.required)
			}
		})
	}
}

// TestPrometheusAnswers checks the Prometheus items against recorded
// answers of the HTTP API: metrics of one variant only, and a rule that
// fails to evaluate.
func TestPrometheusAnswers(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/status/buildinfo":
			w.Write([]byte(`{"status":"success","data":{"version":"2.42.0"}}`))
		case "/api/v1/query":
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"variant":"off"},"value":[1,"3"]}]}}`))
		case "/api/v1/rules":
			w.Write([]byte(`{"status":"success","data":{"groups":[{"name":"g","rules":[{"type":"alerting","name":"CheckoutErrors","labels":{"ramp_flag":"checkout"},"health":"err","lastError":"bad query"}]}]}}`))
		case "/api/v1/alertmanagers":
			w.Write([]byte(`{"status":"success","data":{"activeAlertmanagers":[]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer prom.Close()
	f := newFake()
	f.info.Webhooks = 0
	rep := run(f, preflight.Config{PrometheusURL: prom.URL, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if c := find(t, rep, preflight.IDPrometheusReach); !c.OK || !strings.Contains(c.Reason, "2.42.0") {
		t.Errorf("reach %+v", c)
	}
	if c := find(t, rep, preflight.IDPrometheusMetrics); c.OK || !strings.Contains(c.Reason, "missing on") {
		t.Errorf("metrics %+v", c)
	}
	if c := find(t, rep, preflight.IDPrometheusRules); c.OK || !strings.Contains(c.Reason, "bad query") {
		t.Errorf("rules %+v", c)
	}
	if c := find(t, rep, preflight.IDNotifications); c.OK || !strings.Contains(c.Reason, "no Alertmanager") {
		t.Errorf("notifications %+v", c)
	}
	if rep.OK {
		t.Error("report ok with failing Prometheus items")
	}
}

func TestServerUnreachable(t *testing.T) {
	api := client.New("http://127.0.0.1:1", "token")
	rep := preflight.Run(context.Background(), api, preflight.Config{Flag: "checkout"})
	if rep.OK || find(t, rep, preflight.IDServerReady).OK {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range rep.Checks {
		if c.Required && c.OK {
			t.Errorf("%s passed without a server: %+v", c.ID, c)
		}
	}
}
