package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/rollout"
)

// rolloutAPI serves the three reads of ramp alerts and ramp dashboard: a
// boolean flag checkout-v2, its rollouts (none unless given) and the
// templates.
func rolloutAPI(t *testing.T, rollouts ...*client.RolloutView) string {
	t.Helper()
	f := &ramp.Flag{Key: "checkout-v2", Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants:     []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
		Environments: map[string]*ramp.FlagEnv{"production": {Fallthrough: ramp.Serve{Variant: "off"}}, "staging": {Fallthrough: ramp.Serve{Variant: "off"}}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/flags/{key}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("key") != f.Key {
			problem(w, http.StatusNotFound, "not_found", "flag \""+r.PathValue("key")+"\" does not exist")
			return
		}
		reply(w, http.StatusOK, f)
	})
	mux.HandleFunc("GET /api/v1/rollouts", func(w http.ResponseWriter, r *http.Request) {
		var out []*client.RolloutView
		for _, v := range rollouts {
			if v.Environment == r.URL.Query().Get("environment") && (r.URL.Query().Get("active") != "true" || v.Status.Active()) {
				out = append(out, v)
			}
		}
		reply(w, http.StatusOK, map[string]any{"rollouts": out})
	})
	mux.HandleFunc("GET /api/v1/rollout-templates", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]any{"templates": rollout.Templates()})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAlertsWithoutRollout(t *testing.T) {
	url := rolloutAPI(t)
	stdout, stderr, code := rampCLI(t, url, nil, "alerts", "checkout-v2")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"The flag has no rollout in production yet", "guards of template standard", "groups:", "alert: CheckoutV2ErrorRateCritical", "ramp_flag: checkout-v2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !strings.Contains(stderr, "note: checkout-v2 has no rollout in production yet") {
		t.Errorf("stderr %q does not say the plan is a template's", stderr)
	}

	stdout, _, code = rampCLI(t, url, nil, "alerts", "checkout-v2", "-o", "json", "--template", "fast")
	var f struct {
		Groups []struct {
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal([]byte(stdout), &f); err != nil || code != exitOK || len(f.Groups) != 1 || len(f.Groups[0].Rules) == 0 {
		t.Errorf("-o json: exit %d, %v: %s", code, err, stdout)
	}
}

func TestAlertsFollowTheRollout(t *testing.T) {
	plan := rollout.Plan{Stages: []rollout.Stage{{Percent: 10, Duration: rollout.Duration(3600e9)}, {Percent: 100}}}
	plan.Guards = []rollout.Guard{rollout.Templates()["standard"].Guards[0]}
	plan.Guards[0].Critical = 0.02
	raw, _ := json.Marshal(plan)
	state, _ := json.Marshal(rollout.State{Canary: "on", Baseline: "off"})
	old := &client.RolloutView{Rollout: ramp.Rollout{ID: 2, Flag: "checkout-v2", Environment: "production", Status: ramp.RolloutAborted, Plan: json.RawMessage(`{"stages":[{"percent":100}],"guards":[]}`)}}
	cur := &client.RolloutView{Rollout: ramp.Rollout{ID: 3, Flag: "checkout-v2", Environment: "production", Status: ramp.RolloutRunning, Plan: raw, State: state}}
	url := rolloutAPI(t, cur, old)
	stdout, stderr, code := rampCLI(t, url, nil, "alerts", "checkout-v2")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "rollout 3 (running)") || !strings.Contains(stdout, "> 0.02\n") || strings.Contains(stdout, "no rollout") || stderr != "" {
		t.Errorf("the rules do not follow rollout 3:\n%s\nstderr: %s", stdout, stderr)
	}
}

func TestAlertsToFile(t *testing.T) {
	url := rolloutAPI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yml")
	stdout, stderr, code := rampCLI(t, url, nil, "alerts", "checkout-v2", "-o", path)
	if code != exitOK || stdout != "" || !strings.Contains(stderr, "wrote 3 alerts for checkout-v2 in production to "+path) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "# Prometheus rules") {
		t.Fatalf("file: %v %q", err, b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files; the temporary file was left behind", len(entries))
	}
	// A directory that does not exist: an error, and no file.
	bad := filepath.Join(dir, "missing", "rules.yml")
	_, stderr, code = rampCLI(t, url, nil, "alerts", "checkout-v2", "-o", bad)
	if code != exitFailure || !strings.Contains(stderr, "write "+bad) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestAlertsAndDashboardErrors(t *testing.T) {
	url := rolloutAPI(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"alerts"}, exitUsage, "needs FLAG"},
		{[]string{"alerts", "Bad Key"}, exitUsage, "flag key"},
		{[]string{"alerts", "checkout-v2", "--window", "1500ms"}, exitUsage, "whole seconds"},
		{[]string{"alerts", "checkout-v2", "--critical-for", "-1m"}, exitUsage, "--critical-for"},
		{[]string{"alerts", "nope"}, exitFailure, `flag "nope" does not exist`},
		{[]string{"alerts", "checkout-v2", "--env", "qa"}, exitFailure, `no environment "qa": use one of production, staging`},
		{[]string{"alerts", "checkout-v2", "--template", "slow"}, exitFailure, "use one of demo, fast, standard"},
		{[]string{"dashboard", "checkout-v2", "-o", "yaml"}, exitUsage, "a dashboard is JSON"},
		{[]string{"dashboard", "nope"}, exitFailure, `flag "nope" does not exist`},
	} {
		_, stderr, code := rampCLI(t, url, nil, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

func TestDashboardCommand(t *testing.T) {
	url := rolloutAPI(t)
	stdout, stderr, code := rampCLI(t, url, nil, "dashboard", "checkout-v2", "--env", "staging", "--uid", "co", "--from", "now-7d")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Time   struct{ From string }
		Panels []struct {
			Title string `json:"title"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if d.UID != "co" || d.Title != "ramp: checkout-v2 in staging" || d.Time.From != "now-7d" || len(d.Panels) != 4 {
		t.Errorf("dashboard %+v", d)
	}
	if !strings.Contains(stdout, `environment=\"staging\"`) {
		t.Error("the queries are not for staging")
	}
}
