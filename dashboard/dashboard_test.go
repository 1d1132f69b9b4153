package dashboard_test

//lint:file-ignore SA1019 the classic dashboard schema (v1) is the one every Grafana imports and provisions; schema v2 (dashboardv2) needs Grafana 12 feature toggles, and Grafana 13 migrates v1 on load.

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	gdash "github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/ramp-flags/ramp/dashboard"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promrules"
	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/rollout"
)

func target() promrules.Target {
	p := rollout.Templates()["standard"]
	p.Normalize()
	return promrules.Target{Flag: "checkout-v2", Environment: "production", Canary: "on", Baseline: "off", Plan: p, Origin: "template standard", Default: true}
}

// TestDashboardRoundTrip reads the JSON back into the foundation SDK's
// types and finds every panel, query and annotation in it.
func TestDashboardRoundTrip(t *testing.T) {
	b, err := dashboard.JSON(target(), dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plugins.RegisterDefaultPlugins()
	var d gdash.Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the JSON does not read back into dashboard.Dashboard: %v", err)
	}
	if d.Uid == nil || *d.Uid != "ramp-checkout-v2-production" || d.Title == nil || !strings.Contains(*d.Title, "checkout-v2") {
		t.Errorf("uid %v, title %v", d.Uid, d.Title)
	}
	var titles []string
	for _, p := range d.Panels {
		if p.Panel == nil || p.Panel.Title == nil {
			t.Fatalf("a panel without a title: %+v", p)
		}
		titles = append(titles, *p.Panel.Title)
		if p.Panel.Type != "timeseries" {
			t.Errorf("panel %q is a %q", *p.Panel.Title, p.Panel.Type)
		}
		if p.Panel.Datasource == nil || p.Panel.Datasource.Uid == nil || *p.Panel.Datasource.Uid != "${datasource}" {
			t.Errorf("panel %q does not use the data source variable", *p.Panel.Title)
		}
	}
	want := []string{dashboard.PanelRollout, dashboard.PanelErrorRate, dashboard.PanelLatency, dashboard.PanelThroughput}
	if !slices.Equal(titles, want) {
		t.Errorf("panels %q, want %q", titles, want)
	}
	if n := len(d.Templating.List); n != 1 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Name != "datasource" {
		t.Errorf("variables %+v, want one datasource variable", d.Templating.List)
	}

	orig, err := dashboard.Build(target(), dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, wantQ := dashboard.Queries(d), dashboard.Queries(orig)
	if !slices.Equal(got, wantQ) {
		t.Errorf("queries read back:\n%v\nwant\n%v", got, wantQ)
	}
	perPanel := map[string]int{}
	for _, q := range got {
		perPanel[q.Panel]++
	}
	for panel, n := range map[string]int{
		dashboard.PanelRollout: 1, dashboard.PanelErrorRate: 2, dashboard.PanelLatency: 6, dashboard.PanelThroughput: 2,
		"annotation: " + dashboard.AnnotationStages: 1,
	} {
		if perPanel[panel] != n {
			t.Errorf("%s has %d queries, want %d", panel, perPanel[panel], n)
		}
	}
	for _, q := range got {
		if strings.Contains(q.Expr, `variant="on"`) == strings.Contains(q.Expr, `variant="off"`) {
			t.Errorf("%s %q: not one variant: %s", q.Panel, q.Legend, q.Expr)
		}
	}
}

// TestDashboardNamesOnlyKnownMetrics checks that every metric the queries
// read is one the SDK exports or ramp's rollout percentage.
func TestDashboardNamesOnlyKnownMetrics(t *testing.T) {
	d, err := dashboard.Build(target(), dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	known := []string{promsource.RequestsMetric, promsource.ErrorsMetric, promsource.DurationMetric + "_bucket", hub.RolloutPercentMetric}
	name := regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
	seen := map[string]bool{}
	for _, q := range dashboard.Queries(d) {
		for _, m := range name.FindAllStringSubmatch(q.Expr, -1) {
			seen[m[1]] = true
			if !slices.Contains(known, m[1]) {
				t.Errorf("%s reads %s, which neither the SDK nor ramp exports: %s", q.Panel, m[1], q.Expr)
			}
		}
	}
	for _, k := range known {
		if !seen[k] {
			t.Errorf("no query reads %s", k)
		}
	}
}

// TestDashboardCriticalLines checks that the plan's critical limits are
// drawn, and only where the plan has them.
func TestDashboardCriticalLines(t *testing.T) {
	tg := target()
	tg.Plan.Guards = append(tg.Plan.Guards[:1], rollout.Guard{Guard: judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99, Critical: 0.8}})
	b, err := dashboard.JSON(tg, dashboard.Options{UID: "custom", From: "now-7d"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"uid": "custom"`, `"from": "now-7d"`, `"value": 0.05`, `"value": 0.8`, `"mode": "dashed"`, "critical limit 5% of guard error-rate", "critical limit 0.8s"} {
		if !strings.Contains(s, want) {
			t.Errorf("the JSON lacks %s", want)
		}
	}
	tg.Plan.Guards = tg.Plan.Guards[1:]
	b, err = dashboard.JSON(tg, dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"value": 0.05`) || !strings.Contains(string(b), "The plan has no such guard.") {
		t.Error("a critical line without an error-rate guard")
	}
}

func TestDashboardRejects(t *testing.T) {
	tg := target()
	tg.Baseline = "on"
	if _, err := dashboard.Build(tg, dashboard.Options{}); err == nil || !strings.Contains(err.Error(), "same variant") {
		t.Errorf("err %v", err)
	}
	tg = target()
	tg.Plan.Guards[0].Queries.Errors = "sum(x{flag={{flag}}})"
	if _, err := dashboard.Build(tg, dashboard.Options{}); err == nil || !strings.Contains(err.Error(), "double quotes") {
		t.Errorf("err %v", err)
	}
}
