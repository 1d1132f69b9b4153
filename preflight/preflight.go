// Package preflight is the pre-deployment checklist of a guarded rollout
// (ramp preflight FLAG): every item of the runbook's checklist, checked
// for real against the ramp server and its Prometheus, each with the
// reason it passes or fails and, when it fails, the fix.
//
// Run gathers the checks; it never fails as a whole: a server that cannot
// be reached fails the checks that need it, with the reason. The checks
// are in a fixed order with stable IDs, so that the deployment guide can
// embed the checklist and scripts can read the JSON.
package preflight

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/rollout"
)

// Check is one item of the checklist.
type Check struct {
	// ID names the check, stable across versions: server.ready,
	// flag.at-zero, prometheus.rules, ...
	ID string `json:"id"`
	// Name says what is checked, for people.
	Name string `json:"name"`
	// Required checks fail the preflight; the others only advise.
	Required bool `json:"required"`
	// OK is whether the item holds.
	OK bool `json:"ok"`
	// Reason says what was found, whether it holds or not.
	Reason string `json:"reason"`
	// Fix says what to do when it does not hold.
	Fix string `json:"fix,omitempty"`
}

// Check IDs, in the order Run gives them.
const (
	IDServerReady       = "server.ready"
	IDServerVersion     = "server.version"
	IDServerDisk        = "server.disk"
	IDServerMemory      = "server.memory"
	IDFlagExists        = "flag.exists"
	IDFlagValid         = "flag.valid"
	IDFlagAtZero        = "flag.at-zero"
	IDPlanValid         = "plan.valid"
	IDSDKMetrics        = "sdk.metrics"
	IDPrometheusReach   = "prometheus.reachable"
	IDPrometheusMetrics = "prometheus.metrics"
	IDPrometheusRules   = "prometheus.rules"
	IDNotifications     = "notify.configured"
	IDKillSwitch        = "killswitch.dry-run"
	IDBaseline          = "baseline.recorded"
)

// Report is the outcome of a preflight.
type Report struct {
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	// OK is true when no required check failed.
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// Failed returns the required checks that failed.
func (r Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Required && !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// API is what the preflight asks of the ramp server; *client.Client
// implements it.
type API interface {
	Ready(ctx context.Context) (*client.Readiness, error)
	ServerInfo(ctx context.Context) (*client.ServerInfo, error)
	GetFlag(ctx context.Context, key string) (*ramp.Flag, error)
	ListEnvironments(ctx context.Context) ([]ramp.Environment, error)
	ListSegments(ctx context.Context) ([]*ramp.Segment, error)
	ListRollouts(ctx context.Context, f client.RolloutFilter) ([]*client.RolloutView, error)
	RolloutTemplates(ctx context.Context) (map[string]rollout.Plan, error)
	RollbackDryRun(ctx context.Context, flag, env string) (*client.KillSwitchPlan, error)
	Baseline(ctx context.Context, flag string, o client.BaselineOptions) (*client.BaselineView, error)
}

var _ API = (*client.Client)(nil)

// Defaults of Config's zero fields.
const (
	// DefaultTemplate is the plan checked when none is given.
	DefaultTemplate = "standard"
	// DefaultMinFreeBytes is the free disk space the server's data
	// directory needs: 1 GiB.
	DefaultMinFreeBytes = 1 << 30
	// DefaultMinAvailableMemory is the machine memory the server should
	// have available: 256 MiB.
	DefaultMinAvailableMemory = 256 << 20
	// DefaultPrometheusTimeout bounds each request to Prometheus.
	DefaultPrometheusTimeout = 10 * time.Second
)

// Config says what to check.
type Config struct {
	// Flag is the flag's key; Environment defaults to production.
	Flag        string
	Environment string
	// Plan is the rollout plan to check; nil takes the template named
	// Template, or DefaultTemplate.
	Plan     *rollout.Plan
	Template string
	// PlanName names the plan in reasons, such as the file it came from.
	PlanName string
	// PrometheusURL is the Prometheus to check; empty takes the server's
	// (GET /api/v1/server). Given, it must be reachable.
	PrometheusURL string
	// HTTPClient sends the requests to Prometheus; nil means a client
	// with DefaultPrometheusTimeout.
	HTTPClient *http.Client
	// MinFreeBytes is the free space the data directory needs; zero
	// means DefaultMinFreeBytes.
	MinFreeBytes uint64
	// ClientVersion is the version of the tool running the checks,
	// compared with the server's.
	ClientVersion string
}

// Run runs the checklist against the server api and returns every check.
// It is safe for concurrent use if api is.
func Run(ctx context.Context, api API, cfg Config) Report {
	if cfg.Environment == "" {
		cfg.Environment = ramp.EnvProduction
	}
	if cfg.MinFreeBytes == 0 {
		cfg.MinFreeBytes = DefaultMinFreeBytes
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultPrometheusTimeout}
	}
	r := &run{ctx: ctx, api: api, cfg: cfg}
	r.server()
	r.checkFlag()
	r.checkPlan()
	r.sdkMetrics()
	r.prometheus()
	r.notifications()
	r.killSwitch()
	r.baseline()
	rep := Report{Flag: cfg.Flag, Environment: cfg.Environment, OK: true, Checks: r.checks}
	for _, c := range rep.Checks {
		if c.Required && !c.OK {
			rep.OK = false
		}
	}
	return rep
}

// run is one preflight: what the earlier checks found, for the later ones.
type run struct {
	ctx    context.Context
	api    API
	cfg    Config
	checks []Check

	info        *client.ServerInfo
	flagObj     *ramp.Flag
	plan        *rollout.Plan
	canary      string
	baselineVar string
	prom        *prometheus // nil when no Prometheus is in play
	promOK      bool
}

func (r *run) add(c Check) { r.checks = append(r.checks, c) }

func pass(id, name string, required bool, reason string) Check {
	return Check{ID: id, Name: name, Required: required, OK: true, Reason: reason}
}

func fail(id, name string, required bool, reason, fix string) Check {
	return Check{ID: id, Name: name, Required: required, Reason: reason, Fix: fix}
}

// errText is an error's first line: the client's connection errors carry
// a hint on a second line that the fix says better.
func errText(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func (r *run) server() {
	const name = "server is healthy and its schema is current"
	rd, err := r.api.Ready(r.ctx)
	switch {
	case err != nil:
		r.add(fail(IDServerReady, name, true, errText(err),
			"start the server (ramp serve) and point --server or $RAMP_SERVER at it; a schema behind is migrated by starting this version of ramp serve, one ahead needs a newer ramp"))
	default:
		r.add(pass(IDServerReady, name, true, fmt.Sprintf("ready; schema at version %d of %d", rd.Migrations.Current, rd.Migrations.Latest)))
	}
	info, err := r.api.ServerInfo(r.ctx)
	if err != nil {
		why := "the server's facts cannot be read: " + errText(err)
		fix := "use an admin token and a server of this version (GET /api/v1/server)"
		r.add(fail(IDServerVersion, "server version", false, why, fix))
		r.add(fail(IDServerDisk, "free disk space for the data directory", true, why, fix))
		r.add(fail(IDServerMemory, "server memory", false, why, fix))
		return
	}
	r.info = info
	up := time.Duration(info.UptimeSeconds * float64(time.Second)).Round(time.Second)
	ver := fmt.Sprintf("server %s (%s, %s store), up %s", info.Version, info.GoVersion, info.Store.Driver, up)
	if cv := r.cfg.ClientVersion; cv != "" && cv != info.Version {
		r.add(fail(IDServerVersion, "server version", false, ver+"; this client is "+cv,
			"use the same ramp version for the server and the command line"))
	} else {
		r.add(pass(IDServerVersion, "server version", false, ver))
	}
	if d := info.Disk; d == nil {
		r.add(fail(IDServerDisk, "free disk space for the data directory", true,
			"the server cannot measure the free space of its data directory on this system",
			"check the free space of the server's data directory by hand (df), then run with a server on Linux"))
	} else if d.FreeBytes < r.cfg.MinFreeBytes {
		r.add(fail(IDServerDisk, "free disk space for the data directory", true,
			fmt.Sprintf("%s free of %s at %s, below the %s needed", bytes(d.FreeBytes), bytes(d.TotalBytes), d.Path, bytes(r.cfg.MinFreeBytes)),
			"free disk space on the server's data directory, or move it (ramp serve --data DIR)"))
	} else {
		r.add(pass(IDServerDisk, "free disk space for the data directory", true,
			fmt.Sprintf("%s free of %s at %s (at least %s needed)", bytes(d.FreeBytes), bytes(d.TotalBytes), d.Path, bytes(r.cfg.MinFreeBytes))))
	}
	m := info.Memory
	mem := fmt.Sprintf("process %s (heap %s, %d goroutines)", bytes(m.SysBytes), bytes(m.HeapBytes), m.Goroutines)
	switch {
	case m.TotalBytes == 0:
		r.add(pass(IDServerMemory, "server memory", false, mem+"; the machine's memory is not known"))
	case m.AvailableBytes < DefaultMinAvailableMemory:
		r.add(fail(IDServerMemory, "server memory", false,
			fmt.Sprintf("%s; only %s of %s available on the machine", mem, bytes(m.AvailableBytes), bytes(m.TotalBytes)),
			"give the server's machine more memory, or stop what else runs there"))
	default:
		r.add(pass(IDServerMemory, "server memory", false, fmt.Sprintf("%s; %s of %s available on the machine", mem, bytes(m.AvailableBytes), bytes(m.TotalBytes))))
	}
}

func (r *run) checkFlag() {
	key, env := r.cfg.Flag, r.cfg.Environment
	f, err := r.api.GetFlag(r.ctx, key)
	if err != nil {
		fix := fmt.Sprintf("create it: ramp flag create %s --type boolean", key)
		if ramp.ErrorCode(err) != ramp.ENOTFOUND && !isNotFound(err) {
			fix = "check the server and the token, then run the preflight again"
		}
		r.add(fail(IDFlagExists, "flag exists", true, errText(err), fix))
		skip := "the flag cannot be read"
		r.add(fail(IDFlagValid, "flag is valid", true, skip, fix))
		r.add(fail(IDFlagAtZero, "flag is at 0% in "+env+" with no rollout active", true, skip, fix))
		return
	}
	r.flagObj = f
	r.add(pass(IDFlagExists, "flag exists", true, fmt.Sprintf("%s, a %s flag with %d variants, version %d", f.Key, f.Type, len(f.Variants), f.Version)))

	// Valid: as the store validates it, against the environments and
	// segments that exist now, and present in the environment.
	var sc ramp.Scope
	envs, err1 := r.api.ListEnvironments(r.ctx)
	segs, err2 := r.api.ListSegments(r.ctx)
	if err := cmp.Or(err1, err2); err != nil {
		r.add(fail(IDFlagValid, "flag is valid", true, "the environments and segments cannot be read: "+errText(err), "check the server and the token"))
	} else {
		for _, e := range envs {
			sc.Environments = append(sc.Environments, e.Key)
		}
		for _, s := range segs {
			sc.Segments = append(sc.Segments, s.Key)
		}
		c := f.Clone()
		c.Normalize(sc.Environments)
		switch err := c.Validate(sc); {
		case err != nil:
			r.add(fail(IDFlagValid, "flag is valid", true, errText(err), fmt.Sprintf("fix the flag: ramp flag get %s -o yaml > flag.yaml, edit, ramp apply -f flag.yaml", key)))
		case !slices.Contains(sc.Environments, env):
			r.add(fail(IDFlagValid, "flag is valid", true, fmt.Sprintf("environment %q does not exist", env), fmt.Sprintf("create it (ramp env create %s) or choose another with --env", env)))
		default:
			r.add(pass(IDFlagValid, "flag is valid", true, fmt.Sprintf("valid in every environment; off variant %q in %s", f.OffVariantKey(env), env)))
		}
	}

	name := "flag is at 0% in " + env + " with no rollout active"
	pct := f.Percentage(env)
	active, err := r.api.ListRollouts(r.ctx, client.RolloutFilter{Flag: key, Environment: env, Active: true, Limit: 1})
	switch {
	case pct != 0:
		r.add(fail(IDFlagAtZero, name, true,
			fmt.Sprintf("%s serves %s to %v%% of users in %s", key, f.RolledOut(env), pct, env),
			fmt.Sprintf("a guarded rollout starts from 0%%: ramp rollback %s --env %s (after checking nobody relies on it)", key, env)))
	case err != nil:
		r.add(fail(IDFlagAtZero, name, true, "the rollouts cannot be read: "+errText(err), "check the server and the token"))
	case len(active) > 0:
		r.add(fail(IDFlagAtZero, name, true,
			fmt.Sprintf("rollout %d of %s in %s is %s", active[0].ID, key, env, active[0].Status),
			fmt.Sprintf("wait for it to end, or abort it: ramp rollout abort %s --env %s", key, env)))
	default:
		r.add(pass(IDFlagAtZero, name, true, fmt.Sprintf("0%% in %s (everyone gets %q), no rollout active", env, f.OffVariantKey(env))))
	}
}

// isNotFound reports whether err is the API's 404.
func isNotFound(err error) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func (r *run) checkPlan() {
	const name = "rollout plan is valid"
	var p rollout.Plan
	label := r.cfg.PlanName
	switch {
	case r.cfg.Plan != nil:
		p = *r.cfg.Plan
		if label == "" {
			label = "the plan"
		}
	default:
		tname := cmp.Or(r.cfg.Template, DefaultTemplate)
		ts, err := r.api.RolloutTemplates(r.ctx)
		if err != nil {
			r.add(fail(IDPlanValid, name, true, "the templates cannot be read: "+errText(err), "check the server and the token"))
			return
		}
		t, ok := ts[tname]
		if !ok {
			names := make([]string, 0, len(ts))
			for n := range ts {
				names = append(names, n)
			}
			slices.Sort(names)
			r.add(fail(IDPlanValid, name, true, fmt.Sprintf("%q is not a template", tname), "use one of "+strings.Join(names, ", ")+", or give a plan with -f"))
			return
		}
		p = t
		label = "template " + tname
		if r.cfg.Template == "" {
			label += " (no plan given: the default)"
		}
	}
	p.Normalize()
	if err := p.Validate(); err != nil {
		r.add(fail(IDPlanValid, name, true, label+": "+planText(err), "correct the plan (docs/rollouts.md#yaml-reference); ramp rollout start FLAG -f PLAN --dry-run checks it"))
		return
	}
	r.plan = &p
	if r.info != nil && !slices.Contains(r.info.Sources, p.Source) {
		r.add(fail(IDPlanValid, name, true, fmt.Sprintf("%s reads figures from %s, which this server does not have (it has %s)", label, p.Source, strings.Join(r.info.Sources, ", ")),
			"start ramp serve with --prometheus-url, or use source: sdk in the plan"))
		return
	}
	if f := r.flagObj; f != nil {
		v, err := f.RolloutVariant(r.cfg.Environment, p.Variant)
		if err != nil {
			r.add(fail(IDPlanValid, name, true, label+": "+planText(err), "name the variant to roll out in the plan (variant: KEY)"))
			return
		}
		r.canary, r.baselineVar = v, f.OffVariantKey(r.cfg.Environment)
	}
	var stages []string
	for _, s := range p.Stages {
		st := fmt.Sprintf("%v%%", s.Percent)
		if s.Duration > 0 {
			st += " for " + s.Duration.String()
		}
		stages = append(stages, st)
	}
	var guards []string
	for _, g := range p.Guards {
		guards = append(guards, g.Name)
	}
	r.add(pass(IDPlanValid, name, true, fmt.Sprintf("%s: %s; guards %s; source %s",
		label, strings.Join(stages, ", "), orNone(strings.Join(guards, ", ")), p.Source)))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// planText flattens a plan error with its field errors into one line.
func planText(err error) string {
	var e *ramp.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f.Field + ": " + f.Message
		}
		return e.Message + ": " + strings.Join(parts, "; ")
	}
	return errText(err)
}

// sdkMetrics checks, for a plan that reads SDK-reported counts, that the
// application reports the flag: its off variant served requests in the
// last hour.
func (r *run) sdkMetrics() {
	const name = "the SDK reports the flag's metrics"
	required := r.plan != nil && r.plan.Source == rollout.SourceSDK
	if r.plan != nil && r.plan.Source != rollout.SourceSDK {
		r.add(pass(IDSDKMetrics, name, false, "the plan reads Prometheus, not SDK-reported counts"))
		return
	}
	if r.flagObj == nil || r.baselineVar == "" {
		r.add(fail(IDSDKMetrics, name, required, "no flag or plan to look for", "fix the flag and the plan first"))
		return
	}
	v, err := r.api.Baseline(r.ctx, r.cfg.Flag, client.BaselineOptions{Environment: r.cfg.Environment, Source: rollout.SourceSDK, Window: time.Hour})
	fix := fmt.Sprintf("have the application evaluate %s with the Go SDK and measure each request with Observe or the middleware (docs/metrics.md), with an SDK token of %s", r.cfg.Flag, r.cfg.Environment)
	switch {
	case err != nil:
		r.add(fail(IDSDKMetrics, name, required, "the counts cannot be read: "+errText(err), "check the server and the token"))
	case v.Live == nil:
		r.add(fail(IDSDKMetrics, name, required, "the counts cannot be read: "+v.LiveError, "check the server"))
	case v.Live.Baseline.Requests == 0:
		r.add(fail(IDSDKMetrics, name, required,
			fmt.Sprintf("no SDK reported requests of %s variant %s in %s in the last hour", r.cfg.Flag, r.baselineVar, r.cfg.Environment), fix))
	default:
		b := v.Live.Baseline
		r.add(pass(IDSDKMetrics, name, required, fmt.Sprintf("variant %s served %s requests in the last hour (%.2f%% errors, p99 %s)",
			r.baselineVar, count(b.Requests), 100*b.ErrorRate, seconds(b.P99))))
	}
}

func (r *run) prometheus() {
	url := r.cfg.PrometheusURL
	given := url != ""
	serverHas := r.info != nil && r.info.Prometheus.Configured
	if !given && serverHas {
		url = r.info.Prometheus.URL
	}
	planNeeds := r.plan != nil && r.plan.Source == rollout.SourcePrometheus
	const nameReach = "Prometheus is reachable"
	const nameMetrics = "Prometheus has the flag's metrics for both variants"
	const nameRules = "alert rules for the flag are loaded in Prometheus"
	if url == "" {
		why := "no Prometheus is configured (ramp serve --prometheus-url) or given (--prometheus)"
		if planNeeds {
			fix := "start ramp serve with --prometheus-url URL, or give --prometheus URL"
			r.add(fail(IDPrometheusReach, nameReach, true, why+", and the plan reads Prometheus", fix))
			r.add(fail(IDPrometheusMetrics, nameMetrics, true, why, fix))
			r.add(fail(IDPrometheusRules, nameRules, true, why, fix))
			return
		}
		why += "; the plan reads SDK-reported counts"
		r.add(pass(IDPrometheusReach, nameReach, false, why))
		r.add(pass(IDPrometheusMetrics, nameMetrics, false, why))
		r.add(pass(IDPrometheusRules, nameRules, false, why))
		return
	}
	r.prom = &prometheus{base: strings.TrimRight(url, "/"), hc: r.cfg.HTTPClient}
	const required = true // a Prometheus in play must work: alerts depend on it
	version, err := r.prom.version(r.ctx)
	switch {
	case err != nil:
		r.add(fail(IDPrometheusReach, nameReach, required, err.Error(),
			"start Prometheus, or correct its address (ramp serve --prometheus-url, or --prometheus here)"))
	case serverHas && !given && !r.info.Prometheus.Reachable:
		r.add(fail(IDPrometheusReach, nameReach, required,
			fmt.Sprintf("Prometheus %s answers here, but not the server: %s", version, r.info.Prometheus.Error),
			"let the ramp server reach Prometheus at the URL of --prometheus-url (network, firewall, DNS)"))
	default:
		r.promOK = true
		where := "configured on the server"
		if given {
			where = "given with --prometheus"
		}
		r.add(pass(IDPrometheusReach, nameReach, required, fmt.Sprintf("Prometheus %s at %s (%s)", version, r.prom.base, where)))
	}
	if !r.promOK {
		r.add(fail(IDPrometheusMetrics, nameMetrics, required, "Prometheus is not reachable", "make Prometheus reachable first"))
		r.add(fail(IDPrometheusRules, nameRules, required, "Prometheus is not reachable", "make Prometheus reachable first"))
		return
	}
	r.promMetrics(nameMetrics, required)
	r.promRules(nameRules, required)
}

func (r *run) promMetrics(name string, required bool) {
	if r.canary == "" || r.baselineVar == "" {
		r.add(fail(IDPrometheusMetrics, name, required, "no flag or plan to name the variants", "fix the flag and the plan first"))
		return
	}
	q := fmt.Sprintf(`count by (variant) (ramp_flag_requests_total{flag=%q,environment=%q})`, r.cfg.Flag, r.cfg.Environment)
	have, err := r.prom.labelValues(r.ctx, q, "variant")
	if err != nil {
		r.add(fail(IDPrometheusMetrics, name, required, err.Error(), "check Prometheus"))
		return
	}
	var missing []string
	for _, v := range []string{r.baselineVar, r.canary} {
		if !slices.Contains(have, v) {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		found := "no series"
		if len(have) > 0 {
			found = "series of " + strings.Join(have, ", ") + " only"
		}
		r.add(fail(IDPrometheusMetrics, name, required,
			fmt.Sprintf("ramp_flag_requests_total{flag=%q,environment=%q} has %s; missing %s", r.cfg.Flag, r.cfg.Environment, found, strings.Join(missing, " and ")),
			"instrument the application with the SDK's metrics (sdk/promexport, docs/metrics.md), evaluate the flag at least once, and add the application to Prometheus's scrape targets"))
		return
	}
	r.add(pass(IDPrometheusMetrics, name, required, fmt.Sprintf("ramp_flag_requests_total has series of %s (baseline) and %s (canary) in %s", r.baselineVar, r.canary, r.cfg.Environment)))
}

func (r *run) promRules(name string, required bool) {
	rules, err := r.prom.alertRules(r.ctx)
	if err != nil {
		r.add(fail(IDPrometheusRules, name, required, err.Error(), "check Prometheus"))
		return
	}
	var mine []string
	unhealthy := ""
	for _, ru := range rules {
		if ru.Labels["ramp_flag"] != r.cfg.Flag {
			continue
		}
		if env, ok := ru.Labels["ramp_env"]; ok && env != r.cfg.Environment {
			continue
		}
		mine = append(mine, ru.Name)
		if ru.Health != "" && ru.Health != "ok" && ru.Health != "unknown" && unhealthy == "" {
			unhealthy = fmt.Sprintf("rule %s is %s: %s", ru.Name, ru.Health, ru.LastError)
		}
	}
	fix := fmt.Sprintf("ramp alerts %s --env %s > ramp-%s.rules.yml; add the file to rule_files in prometheus.yml and reload Prometheus", r.cfg.Flag, r.cfg.Environment, r.cfg.Flag)
	switch {
	case len(mine) == 0:
		r.add(fail(IDPrometheusRules, name, required,
			fmt.Sprintf("Prometheus has %d alerting rules, none labelled ramp_flag=%q", len(rules), r.cfg.Flag), fix))
	case unhealthy != "":
		r.add(fail(IDPrometheusRules, name, required, unhealthy, "correct the rule's query, then reload Prometheus"))
	default:
		slices.Sort(mine)
		mine = slices.Compact(mine)
		r.add(pass(IDPrometheusRules, name, required, fmt.Sprintf("%d alerting rules labelled ramp_flag=%q: %s", len(mine), r.cfg.Flag, strings.Join(mine, ", "))))
	}
}

func (r *run) notifications() {
	const name = "a webhook or the alert receiver is configured"
	const fix = "start ramp serve with --webhook URL or --slack-webhook URL (docs/notifications.md), or route Prometheus's alerts through Alertmanager to POST /api/v1/alerts/alertmanager (docs/alerts.md)"
	if r.info == nil {
		r.add(fail(IDNotifications, name, true, "the server's facts cannot be read", fix))
		return
	}
	var have []string
	if n := r.info.Webhooks; n > 0 {
		have = append(have, fmt.Sprintf("%d webhook(s) notified of every rollout event", n))
	}
	amErr := ""
	if r.prom != nil && r.promOK {
		n, err := r.prom.activeAlertmanagers(r.ctx)
		switch {
		case err != nil:
			amErr = "; its Alertmanagers cannot be read: " + err.Error()
		case n > 0:
			have = append(have, fmt.Sprintf("Prometheus sends alerts to %d Alertmanager(s), for the receiver at %s (severities %s)",
				n, r.info.AlertReceiver.Path, strings.Join(r.info.AlertReceiver.Severities, ", ")))
		}
	}
	if len(have) == 0 {
		why := "the server has no webhook"
		if r.prom != nil && r.promOK {
			why += ", and Prometheus sends its alerts to no Alertmanager"
		}
		why += amErr
		r.add(fail(IDNotifications, name, true, why, fix))
		return
	}
	r.add(pass(IDNotifications, name, true, strings.Join(have, "; ")))
}

func (r *run) killSwitch() {
	key, env := r.cfg.Flag, r.cfg.Environment
	name := "the kill switch works (dry run)"
	p, err := r.api.RollbackDryRun(r.ctx, key, env)
	switch {
	case err != nil:
		r.add(fail(IDKillSwitch, name, true, errText(err), fmt.Sprintf("fix what the error says; the kill switch is POST /api/v1/flags/%s/environments/%s/rollback (ramp rollback %s --env %s)", key, env, key, env)))
	case p.After.On || p.After.Percentage != 0:
		r.add(fail(IDKillSwitch, name, true, fmt.Sprintf("after the kill switch %s would still serve %v%% in %s", key, p.After.Percentage, env), "report this as a bug in ramp"))
	default:
		what := "nothing to change now: the flag is off"
		if p.WouldChange {
			what = fmt.Sprintf("it would turn %s off (from %v%%)", env, p.Before.Percentage)
		}
		if p.AbortsRollout != nil {
			what += fmt.Sprintf(" and abort rollout %d", *p.AbortsRollout)
		}
		r.add(pass(IDKillSwitch, name, true, fmt.Sprintf("ramp rollback %s --env %s checked without writing: %s; everyone would get %q", key, env, what, p.After.OffVariant)))
	}
}

func (r *run) baseline() {
	const name = "a baseline is recorded"
	fix := fmt.Sprintf("record one before starting: ramp baseline %s --env %s --record", r.cfg.Flag, r.cfg.Environment)
	if r.flagObj == nil {
		r.add(fail(IDBaseline, name, false, "the flag cannot be read", fix))
		return
	}
	v, err := r.api.Baseline(r.ctx, r.cfg.Flag, client.BaselineOptions{Environment: r.cfg.Environment})
	switch {
	case err != nil:
		r.add(fail(IDBaseline, name, false, "the baseline cannot be read: "+errText(err), fix))
	case v.Stored == nil:
		r.add(fail(IDBaseline, name, false, "no baseline is recorded: the stage at 100% has no live baseline to compare with", fix))
	default:
		b := v.Stored
		r.add(pass(IDBaseline, name, false, fmt.Sprintf("recorded %s by %s over %s from %s: %s requests, %.2f%% errors, p99 %s",
			b.RecordedAt.UTC().Format("2006-01-02 15:04 MST"), b.RecordedBy, b.To.Sub(b.From).Round(time.Second), b.Source,
			count(b.Requests), 100*b.ErrorRate, seconds(b.P99))))
	}
}

// bytes formats a byte count in binary units.
func bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func count(x float64) string {
	if x == math.Trunc(x) && x < 1e15 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func seconds(s float64) string {
	if s <= 0 {
		return "-"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond).String()
}
