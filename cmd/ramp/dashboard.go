package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/dashboard"
	"github.com/ramp-flags/ramp/promrules"
)

func newDashboardCmd(a *app) *cobra.Command {
	var (
		env, out, template string
		o                  dashboard.Options
	)
	cmd := &cobra.Command{
		Use:   "dashboard FLAG",
		Short: "Write a Grafana dashboard of a flag's rollout",
		Long: `Write the Grafana dashboard of FLAG's rollout in an environment, as JSON for
Grafana's import (Dashboards > New > Import) or file provisioning:

  Rollout percentage                  the canary's share of users over time
  Error rate: canary vs baseline      with the plan's critical limit as a red line
  Latency p50 / p90 / p99             of both variants, with the critical limit
  Throughput: canary vs baseline      requests per second
  Stage changes (annotations)         wherever the rollout percentage changed

The queries are the guards' (the SDK's metrics by default, docs/metrics.md) over
Grafana's $__rate_interval, and the data source is a dashboard variable. The
rollout percentage is ramp's own metric ramp_flag_rollout_percent: Prometheus
must scrape the ramp server's /metrics as well as the applications
(docs/dashboards.md).

The plan is the flag's active rollout's in the environment, else its most
recent rollout's; a flag that never had a rollout there gets the guards of
--template (default standard), and the dashboard's description says so.

The JSON goes to stdout; -o FILE writes it to FILE instead (all or nothing).`,
		Example: `  ramp dashboard checkout-v2 > checkout-v2.json
  ramp dashboard checkout-v2 --env staging -o /var/lib/grafana/dashboards/checkout-v2-staging.json
  ramp dashboard checkout-v2 --from now-7d --uid checkout-v2-rollout`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if msg := ramp.CheckKey(args[0]); msg != "" {
				return usageErrorf("flag key %s", trimIs(msg))
			}
			if out == formatYAML || out == formatTable {
				return usageErrorf("-o %s: a dashboard is JSON; use -o json (stdout) or -o FILE", out)
			}
			t, err := a.resolveTarget(cmd.Context(), args[0], env, template)
			if err != nil {
				return err
			}
			b, err := dashboard.JSON(t, o)
			if err != nil {
				return err
			}
			return a.writeArtifact(out, b, fmt.Sprintf("the dashboard of %s in %s", t.Flag, t.Environment))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	f.StringVarP(&out, "output", "o", formatJSON, "FILE to write the dashboard to, or json to print it")
	f.StringVar(&template, "template", promrules.DefaultTemplate, "plan whose guards to use when the flag has no rollout: standard, fast or demo")
	f.StringVar(&o.UID, "uid", "", "the dashboard's uid in Grafana (default ramp-FLAG-ENV)")
	f.StringVar(&o.From, "from", "now-24h", "start of the dashboard's default time range, such as now-7d")
	return cmd
}
