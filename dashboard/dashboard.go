// Package dashboard builds the Grafana dashboard of one flag's rollout in
// one environment, with Grafana's foundation SDK: the rollout percentage
// over time, the error rate, the p50, p90 and p99 latencies and the
// throughput of the canary against the baseline, and the stage changes as
// annotations. The queries are those of package promrules (built from the
// guard's query templates of package promsource), over Grafana's
// $__rate_interval, so that the dashboard shows what the alerts and the
// rollout controller measure. The data source is a dashboard variable
// ($datasource, any Prometheus).
//
// The rollout percentage comes from ramp's own /metrics
// (ramp_flag_rollout_percent, hub.RolloutPercentMetric), so Prometheus must
// scrape the ramp server as well as the applications (docs/dashboards.md).
package dashboard

//lint:file-ignore SA1019 the classic dashboard schema (v1) is the one every Grafana imports and provisions; schema v2 (dashboardv2) needs Grafana 12 feature toggles, and Grafana 13 migrates v1 on load.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	gdash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promrules"
)

// Range is the range of every rate and quantile of the dashboard: Grafana's
// $__rate_interval, at least four scrape intervals and one step of the
// graph, so that no sample falls between two points.
const Range = "$__rate_interval"

// DatasourceVariable is the name of the dashboard's data source variable.
const DatasourceVariable = "datasource"

// Panel titles, in the order of the dashboard.
const (
	PanelRollout    = "Rollout percentage"
	PanelErrorRate  = "Error rate: canary vs baseline"
	PanelLatency    = "Latency p50 / p90 / p99: canary vs baseline"
	PanelThroughput = "Throughput: canary vs baseline"
)

// AnnotationStages is the name of the annotation that marks stage changes.
const AnnotationStages = "Stage changes"

// Quantiles are the latency quantiles the latency panel draws.
var Quantiles = []float64{0.5, 0.9, 0.99}

// Options tune the dashboard. Zero fields take the defaults.
type Options struct {
	// UID is the dashboard's uid in Grafana; default "ramp-FLAG-ENV",
	// shortened to Grafana's 40 characters.
	UID string
	// From is the start of the default time range, such as "now-24h"
	// (the default) or "now-7d".
	From string
}

// Build returns the dashboard of t, built and validated by the foundation
// SDK's builders. It fails on a target that does not pass t.Check or on a
// guard query template it cannot expand.
func Build(t promrules.Target, o Options) (gdash.Dashboard, error) {
	if err := t.Check(); err != nil {
		return gdash.Dashboard{}, err
	}
	if o.UID == "" {
		o.UID = uid(t)
	}
	if o.From == "" {
		o.From = "now-24h"
	}
	b := &builder{t: t, ds: common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + DatasourceVariable + "}")}}

	percent := percentSelector(t.Flag, t.Environment, t.Canary)
	rolloutPanel := b.panel(PanelRollout,
		fmt.Sprintf("Share of users the fallthrough serves %q, in percent (ramp's %s). Annotations mark each change.", t.Canary, hub.RolloutPercentMetric),
		"percent").Min(0).Max(100).
		WithTarget(b.query("A", percent, "canary ("+t.Canary+")"))

	errPanel := b.panel(PanelErrorRate,
		fmt.Sprintf("Share of requests that failed, per variant, over $__rate_interval. %s", b.limitText(judge.ErrorRate)),
		"percentunit").Min(0)
	b.arms(errPanel, "", t.ErrorRatio)
	b.critical(errPanel, judge.ErrorRate)

	latPanel := b.panel(PanelLatency,
		fmt.Sprintf("Latency quantiles of each variant's requests, over $__rate_interval, from the SDK histogram buckets. %s", b.limitText(judge.Latency)),
		"s").Min(0)
	for _, q := range Quantiles {
		b.arms(latPanel, quantileLabel(q)+" ", func(variant, rng string) (string, error) {
			return t.LatencyQuantile(variant, q, rng)
		})
	}
	b.critical(latPanel, judge.Latency)

	tputPanel := b.panel(PanelThroughput, "Requests per second each variant served, averaged over $__rate_interval.", "reqps").Min(0)
	b.arms(tputPanel, "", t.RequestRate)
	if b.err != nil {
		return gdash.Dashboard{}, b.err
	}

	stages := gdash.NewAnnotationQueryBuilder().
		Name(AnnotationStages).
		Datasource(b.ds).
		Enable(true).
		IconColor("purple").
		Expr(StageChangesExpr(t)).
		Target(prometheus.NewDataqueryBuilder().Expr(StageChangesExpr(t)).RefId("Anno").Datasource(b.ds)).
		TitleFormat("Rollout of " + t.Flag + ": {{variant}} percentage changed").
		TagKeys("flag,environment")

	db := gdash.NewDashboardBuilder(fmt.Sprintf("ramp: %s in %s", t.Flag, t.Environment)).
		Uid(o.UID).
		Description(fmt.Sprintf("Rollout of flag %s in %s: canary %q against baseline %q, guards of %s. Written by ramp dashboard.", t.Flag, t.Environment, t.Canary, t.Baseline, t.Origin)).
		Tags([]string{"ramp", "rollout", t.Flag}).
		Editable().
		Refresh("30s").
		Time(o.From, "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(gdash.DashboardCursorSyncCrosshair).
		WithVariable(gdash.NewDatasourceVariableBuilder(DatasourceVariable).Label("Prometheus").Type("prometheus")).
		Annotation(stages).
		WithPanel(rolloutPanel).
		WithPanel(errPanel).
		WithPanel(latPanel).
		WithPanel(tputPanel)
	d, err := db.Build()
	if err != nil {
		return gdash.Dashboard{}, fmt.Errorf("build dashboard: %w", err)
	}
	return d, nil
}

// JSON returns the dashboard of t as JSON, ready for Grafana's import
// (Dashboards → New → Import) or file provisioning.
func JSON(t promrules.Target, o Options) ([]byte, error) {
	d, err := Build(t, o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // PromQL's > and & stay readable
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

// StageChangesExpr returns the annotation query that marks the stage
// changes of t: the canary's rollout percentage wherever it changed within
// $__rate_interval. Grafana draws an annotation at each point the query
// returns (a short region where several follow each other).
func StageChangesExpr(t promrules.Target) string {
	sel := percentSelector(t.Flag, t.Environment, t.Canary)
	return sel + " and changes(" + sel + "[" + Range + "]) > 0"
}

// Query is one PromQL expression of a dashboard.
type Query struct {
	// Panel is the panel's title, or "annotation: NAME".
	Panel string
	// Legend is the series' legend format.
	Legend string
	// Expr is the PromQL, with Grafana's variables such as
	// $__rate_interval.
	Expr string
}

// Queries returns every PromQL expression of d, panels first, in order.
func Queries(d gdash.Dashboard) []Query {
	var out []Query
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		title := ""
		if p.Panel.Title != nil {
			title = *p.Panel.Title
		}
		for _, tg := range p.Panel.Targets {
			// Built dashboards hold values; unmarshalled ones, pointers.
			var q *prometheus.Dataquery
			switch v := tg.(type) {
			case prometheus.Dataquery:
				q = &v
			case *prometheus.Dataquery:
				q = v
			}
			if q != nil {
				out = append(out, Query{Panel: title, Legend: deref(q.LegendFormat), Expr: q.Expr})
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != nil {
			out = append(out, Query{Panel: "annotation: " + a.Name, Expr: *a.Expr})
		}
	}
	return out
}

type builder struct {
	t   promrules.Target
	ds  common.DataSourceRef
	err error
}

func (b *builder) panel(title, description, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(b.ds).
		Unit(unit).
		Height(8).
		Span(12).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

func (b *builder) query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		RefId(ref).
		Expr(expr).
		LegendFormat(legend).
		Range().
		Datasource(b.ds)
}

// arms adds a canary and a baseline series of one figure to a panel.
func (b *builder) arms(p *timeseries.PanelBuilder, prefix string, expr func(variant, rng string) (string, error)) {
	for _, arm := range []struct{ name, variant string }{{"canary", b.t.Canary}, {"baseline", b.t.Baseline}} {
		e, err := expr(arm.variant, Range)
		if err != nil {
			b.err = errors.Join(b.err, err)
			return
		}
		p.WithTarget(b.query(refID(prefix+arm.name), e, prefix+arm.name+" ("+arm.variant+")"))
	}
}

// critical draws the plan's critical limit of the metric as a red dashed
// line, when its first guard of the metric has one.
func (b *builder) critical(p *timeseries.PanelBuilder, m judge.Metric) {
	g, ok := b.guard(m)
	if !ok || g.Critical == 0 {
		return
	}
	limit := g.Critical
	p.Thresholds(gdash.NewThresholdsConfigBuilder().
		Mode(gdash.ThresholdsModeAbsolute).
		Steps([]gdash.Threshold{{Value: nil, Color: "green"}, {Value: &limit, Color: "red"}})).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

// limitText describes the guard's critical limit for a panel's description.
func (b *builder) limitText(m judge.Metric) string {
	g, ok := b.guard(m)
	switch {
	case !ok:
		return "The plan has no such guard."
	case g.Critical == 0:
		return fmt.Sprintf("Guard %s has no critical limit.", g.Name)
	case m == judge.ErrorRate:
		return fmt.Sprintf("Red line: the critical limit %s of guard %s.", strconv.FormatFloat(g.Critical*100, 'f', -1, 64)+"%", g.Name)
	default:
		return fmt.Sprintf("Red line: the critical limit %ss of guard %s.", strconv.FormatFloat(g.Critical, 'f', -1, 64), g.Name)
	}
}

func (b *builder) guard(m judge.Metric) (judge.Guard, bool) {
	for _, g := range b.t.Plan.Guards {
		if g.Metric == m {
			return g.Guard, true
		}
	}
	return judge.Guard{}, false
}

// percentSelector selects the rollout percentage of one variant.
func percentSelector(flag, env, variant string) string {
	return hub.RolloutPercentMetric + "{flag=" + strconv.Quote(flag) + ",environment=" + strconv.Quote(env) + ",variant=" + strconv.Quote(variant) + "}"
}

// quantileLabel returns "p99" for 0.99.
func quantileLabel(q float64) string {
	return "p" + strconv.FormatFloat(q*100, 'f', -1, 64)
}

// refID turns a legend prefix into a query refId: "p99 canary" → "p99_canary".
func refID(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), " ", "_") }

// uid returns the default uid: "ramp-FLAG-ENV", at most 40 characters as
// Grafana requires.
func uid(t promrules.Target) string {
	u := "ramp-" + t.Flag + "-" + t.Environment
	if len(u) > 40 {
		u = u[:40]
	}
	return u
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
