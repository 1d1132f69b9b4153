package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/guide"
	"github.com/ramp-flags/ramp/preflight"
	"github.com/ramp-flags/ramp/promrules"
	"github.com/ramp-flags/ramp/rollout"
)

// guideCheckTimeout bounds each health check of a dependency the guide
// makes beyond the ramp server, such as Prometheus.
const guideCheckTimeout = 5 * time.Second

func newGuideCmd(a *app) *cobra.Command {
	var env, file, template, prom string
	cmd := &cobra.Command{
		Use:   "guide FLAG [--env ENV] [-f PLAN | --template NAME] [--prometheus URL]",
		Short: "Write the deployment guide of a flag, filled in from the real configuration",
		Long: `Write the deployment guide of FLAG in an environment as Markdown to stdout:
the runbook of its rollout with every value filled in from the server —
the architecture (this server, its store, the metric source, webhooks and
the alert receiver), each dependency with its health check and the result
of running it now, the pre-deployment checklist checked for real, the stages
with their durations and thresholds, the exact commands to start the rollout,
to set each stage's percentage and to roll back, the PromQL queries of the
canary and the baseline, the Prometheus alert rules, the decision tree with
the plan's numbers, and what to do about each failure ramp detects.

The plan is, in this order: the file -f names (- reads stdin), the template
--template names, the flag's active or most recent rollout in the
environment, or, for a flag without one, the standard template, which the
guide says it used.

--prometheus (default $RAMP_PROMETHEUS_URL) is the Prometheus the guide
checks and names; each such check waits at most 5s.`,
		Example: `  ramp guide checkout-v2 > checkout-v2-guide.md
  ramp guide checkout-v2 --env staging -f rollout.yaml
  ramp guide checkout-v2 --template fast --prometheus http://prometheus:9090`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if msg := ramp.CheckKey(key); msg != "" {
				return usageErrorf("flag key %s", trimIs(msg))
			}
			if a.output != formatTable {
				return usageErrorf("-o %s: guide writes Markdown only; redirect stdout to keep it in a file", a.output)
			}
			if file != "" && template != "" {
				return usageErrorf("guide takes -f FILE or --template NAME, not both")
			}
			if prom != "" {
				u, err := url.Parse(prom)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usageErrorf("--prometheus %q: give Prometheus's base URL, such as http://prometheus:9090", prom)
				}
			}
			in, err := a.guideInput(cmd.Context(), key, env, file, template, prom)
			if err != nil {
				return err
			}
			for _, c := range cmd.Root().Commands() {
				in.Commands = append(in.Commands, c.Name())
			}
			return guide.Write(a.stdout, in)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	f.StringVarP(&file, "filename", "f", "", "rollout plan in YAML (- for stdin)")
	f.StringVar(&template, "template", "", "use this rollout template's plan (standard, fast, demo)")
	f.StringVar(&prom, "prometheus", a.getenv("RAMP_PROMETHEUS_URL"), "Prometheus base URL to check and name ($RAMP_PROMETHEUS_URL)")
	return cmd
}

// guideInput reads from the server everything the guide says.
func (a *app) guideInput(ctx context.Context, key, env, file, template, prom string) (guide.Input, error) {
	api := a.client()
	in := guide.Input{PlanFile: file, Template: template, Generated: time.Now()}
	fl, err := api.GetFlag(ctx, key)
	if err != nil {
		return in, err
	}
	if fl.Environments[env] == nil {
		return in, fmt.Errorf("flag %s has no environment %q: use one of %s", key, env, strings.Join(sortedKeys(fl.Environments), ", "))
	}
	in.Percent = fl.Percentage(env)

	var t promrules.Target
	switch {
	case file != "" || template != "":
		var plan rollout.Plan
		if file != "" {
			if plan, err = a.readPlanFile(file); err != nil {
				return in, err
			}
			if file == "-" {
				in.PlanFile = "plan.yaml"
			}
		} else {
			ts, err := api.RolloutTemplates(ctx)
			if err != nil {
				return in, err
			}
			p, ok := ts[template]
			if !ok {
				return in, usageErrorf("--template %q is not a template: use one of %s", template, strings.Join(sortedKeys(ts), ", "))
			}
			plan = p
		}
		plan.Normalize()
		if err := plan.Validate(); err != nil {
			return in, fmt.Errorf("%s: %s", orText(file, "template "+template), planError(err))
		}
		canary, err := fl.RolloutVariant(env, plan.Variant)
		if err != nil {
			return in, fmt.Errorf("flag %s in %s: %w", key, env, err)
		}
		t = promrules.Target{Flag: key, Environment: env, Canary: canary, Baseline: fl.OffVariantKey(env), Plan: plan}
	default:
		if t, err = promrules.Resolve(ctx, api, key, env, promrules.DefaultTemplate); err != nil {
			return in, err
		}
		if t.Default {
			in.Template = promrules.DefaultTemplate
		} else {
			vs, err := api.ListRollouts(ctx, client.RolloutFilter{Flag: key, Environment: env, Active: true, Limit: 1})
			if err == nil && len(vs) == 0 {
				vs, err = api.ListRollouts(ctx, client.RolloutFilter{Flag: key, Environment: env, Limit: 1})
			}
			if err != nil {
				return in, err
			}
			if len(vs) == 1 {
				in.RolloutID, in.RolloutStatus = vs[0].ID, string(vs[0].Status)
			}
		}
	}
	in.Target = t

	in.Server = a.serverFacts(ctx)
	switch {
	case prom != "":
		in.Prometheus = checkPrometheus(ctx, prom)
	case in.Server.PrometheusURL != "":
		in.Prometheus = &guide.Prometheus{URL: in.Server.PrometheusURL, Healthy: in.Server.PrometheusOK, Err: in.Server.PrometheusErr}
	}
	if f, err := promrules.Generate(t, promrules.Options{}); err != nil {
		in.RulesErr = err.Error()
	} else if b, err := f.Marshal(); err != nil {
		in.RulesErr = err.Error()
	} else {
		in.Rules = b
	}
	in.Checklist, in.ChecklistBy = a.guideChecklist(ctx, in, prom)
	return in, nil
}

// serverFacts checks the server's health and reads its metrics.
func (a *app) serverFacts(ctx context.Context) guide.Server {
	api := a.client()
	s := guide.Server{URL: api.BaseURL()}
	if err := api.Health(ctx); err != nil {
		s.HealthErr = err.Error()
	} else {
		s.Healthy = true
	}
	if r, err := api.Ready(ctx); err != nil {
		s.ReadyErr = err.Error()
	} else {
		s.Ready, s.Migrations, s.Avail = true, r.Migrations.Current, r.Migrations.Latest
	}
	if info, err := api.ServerInfo(ctx); err != nil {
		s.InfoErr = err.Error()
	} else {
		s.Version, s.GoVersion, s.StoreDriver = info.Version, info.GoVersion, info.Store.Driver
		s.Uptime = time.Duration(info.UptimeSeconds * float64(time.Second))
		s.HeapBytes = float64(info.Memory.HeapBytes)
		if info.Disk != nil {
			s.DiskPath, s.DiskFree = info.Disk.Path, float64(info.Disk.FreeBytes)
		}
		s.Sources, s.WebhookCount = info.Sources, info.Webhooks
		s.AlertPath, s.AlertSeverities = info.AlertReceiver.Path, info.AlertReceiver.Severities
		if info.Prometheus.Configured {
			s.PrometheusURL, s.PrometheusOK, s.PrometheusErr = info.Prometheus.URL, info.Prometheus.Reachable, info.Prometheus.Error
		}
	}
	body, err := api.ServerMetrics(ctx)
	if err != nil {
		s.MetricsErr = err.Error()
		return s
	}
	var goVersion string
	goVersion, s.ResidentBytes, s.Webhooks = parseServerMetrics(body)
	if s.GoVersion == "" {
		s.GoVersion = goVersion
	}
	return s
}

var (
	goInfoLine  = regexp.MustCompile(`^go_info\{version="([^"]+)"\}`)
	notifyLine  = regexp.MustCompile(`^ramp_notifications_(sent|failed)_total\{target="((?:[^"\\]|\\.)*)"\} (\S+)$`)
	residentRSS = regexp.MustCompile(`^process_resident_memory_bytes (\S+)$`)
)

// parseServerMetrics reads from the server's metrics in the text format
// its Go version, resident memory and webhook targets with their counts.
func parseServerMetrics(body []byte) (goVersion string, rss float64, hooks []guide.Webhook) {
	by := map[string]*guide.Webhook{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := goInfoLine.FindStringSubmatch(line); m != nil {
			goVersion = m[1]
		}
		if m := residentRSS.FindStringSubmatch(line); m != nil {
			rss, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := notifyLine.FindStringSubmatch(line); m != nil {
			name, err := strconv.Unquote(`"` + m[2] + `"`)
			if err != nil {
				name = m[2]
			}
			w := by[name]
			if w == nil {
				w = &guide.Webhook{Name: name}
				by[name] = w
				order = append(order, name)
			}
			v, _ := strconv.ParseFloat(m[3], 64)
			if m[1] == "sent" {
				w.Sent = v
			} else {
				w.Failed = v
			}
		}
	}
	slices.Sort(order)
	for _, n := range order {
		hooks = append(hooks, *by[n])
	}
	return goVersion, rss, hooks
}

// checkPrometheus asks Prometheus's health endpoint.
func checkPrometheus(ctx context.Context, base string) *guide.Prometheus {
	p := &guide.Prometheus{URL: strings.TrimRight(base, "/")}
	ctx, cancel := context.WithTimeout(ctx, guideCheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/healthy", nil)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.Err = "unreachable: " + err.Error()
		return p
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.Err = "answered " + resp.Status
		return p
	}
	p.Healthy = true
	return p
}

// guideChecklist runs the pre-deployment checklist of package preflight
// on the guide's plan.
func (a *app) guideChecklist(ctx context.Context, in guide.Input, prom string) ([]guide.Check, string) {
	t := in.Target
	plan := t.Plan
	name := "template " + in.Template
	switch {
	case in.PlanFile != "":
		name = in.PlanFile
	case in.RolloutID != 0:
		name = fmt.Sprintf("rollout %d", in.RolloutID)
	}
	rep := preflight.Run(ctx, a.client(), preflight.Config{Flag: t.Flag, Environment: t.Environment, Plan: &plan, PlanName: name,
		PrometheusURL: prom, ClientVersion: version()})
	cs := make([]guide.Check, len(rep.Checks))
	for i, c := range rep.Checks {
		cs[i] = guide.Check{Name: c.Name, OK: c.OK, Required: c.Required, Detail: c.Reason, Fix: c.Fix}
	}
	return cs, "ramp preflight"
}

// orText returns s, or def when s is empty.
func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
