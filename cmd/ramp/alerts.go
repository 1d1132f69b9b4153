package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/promrules"
)

func newAlertsCmd(a *app) *cobra.Command {
	var (
		env, out, template string
		o                  promrules.Options
	)
	cmd := &cobra.Command{
		Use:   "alerts FLAG",
		Short: "Write Prometheus alerting rules for a flag's rollout",
		Long: `Write the Prometheus rules that watch FLAG's rollout in an environment, from
the guards of its rollout plan: recording rules for the error rate, the latency
quantile and the requests of the canary and the baseline variants, and for each
error-rate and latency guard

  <Flag><Guard>Critical       severity critical: the canary above the guard's
                              critical limit (guards without one get none)
  <Flag><Guard>AboveBaseline  severity warning: the canary worse than the
                              baseline by more than the guard's margin

once the arms served the guard's minRequests in the window. Alerts carry
ramp_flag, ramp_env and severity, the labels ramp's Alertmanager receiver reads:
routed to it, a critical alert rolls the flag back (docs/alerts.md).

The plan is the flag's active rollout's in the environment, else its most
recent rollout's. A flag that never had a rollout there gets the guards of
--template (default standard), and the file says so in its header.

The rules are YAML for Prometheus's rule_files, printed to stdout; -o FILE
writes them to FILE instead (all or nothing); -o json prints them as JSON.
They pass "promtool check rules".`,
		Example: `  ramp alerts checkout-v2 > /etc/prometheus/rules/checkout-v2.yml
  ramp alerts checkout-v2 --env staging -o rules/checkout-v2-staging.yml
  ramp alerts checkout-v2 --window 10m --critical-for 1m && promtool check rules rules/*.yml`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if msg := ramp.CheckKey(args[0]); msg != "" {
				return usageErrorf("flag key %s", trimIs(msg))
			}
			if err := checkRuleOptions(o); err != nil {
				return err
			}
			t, err := a.resolveTarget(cmd.Context(), args[0], env, template)
			if err != nil {
				return err
			}
			f, err := promrules.Generate(t, o)
			if err != nil {
				return err
			}
			var b []byte
			if out == formatJSON {
				b, err = jsonBytes(f)
			} else {
				b, err = f.Marshal()
			}
			if err != nil {
				return err
			}
			return a.writeArtifact(out, b, fmt.Sprintf("%d alerts for %s in %s", len(f.Alerts()), t.Flag, t.Environment))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	f.StringVarP(&out, "output", "o", formatYAML, "FILE to write the rules to, or yaml or json to print them")
	f.StringVar(&template, "template", promrules.DefaultTemplate, "plan whose guards to use when the flag has no rollout: standard, fast or demo")
	f.DurationVar(&o.Window, "window", promrules.DefaultWindow, "range of the rates the rules compute, in whole seconds")
	f.DurationVar(&o.CriticalFor, "critical-for", promrules.DefaultCriticalFor, "how long a critical condition holds before its alert fires")
	f.DurationVar(&o.WarningFor, "warning-for", promrules.DefaultWarningFor, "how long a condition against the baseline holds before its warning fires")
	return cmd
}

// checkRuleOptions rejects durations the rules cannot use, as usage
// errors.
func checkRuleOptions(o promrules.Options) error {
	switch {
	case o.Window < time.Second || o.Window%time.Second != 0:
		return usageErrorf("--window %v: use whole seconds, at least 1s, such as 5m", o.Window)
	case o.CriticalFor < 0:
		return usageErrorf("--critical-for %v: use a duration of 0 or more, such as 2m", o.CriticalFor)
	case o.WarningFor < 0:
		return usageErrorf("--warning-for %v: use a duration of 0 or more, such as 10m", o.WarningFor)
	}
	return nil
}

// resolveTarget reads the flag's rollout in env and tells on stderr when
// the flag has none, so that a default plan is never taken for the real
// one.
func (a *app) resolveTarget(ctx context.Context, flag, env, template string) (promrules.Target, error) {
	t, err := promrules.Resolve(ctx, a.client(), flag, env, template)
	if err != nil {
		return t, err
	}
	if t.Default {
		fmt.Fprintf(a.stderr, "note: %s has no rollout in %s yet: using the guards and thresholds of %s\n", flag, t.Environment, t.Origin)
	}
	return t, nil
}

// jsonBytes encodes v as indented JSON.
func jsonBytes(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeArtifact writes a generated file: to stdout when out is a format
// name (yaml, json, table) or "-", else to the file out, all or nothing
// (a temporary file in the same directory, renamed over it), and then
// says what it wrote on stderr.
func (a *app) writeArtifact(out string, b []byte, what string) error {
	switch out {
	case "", "-", formatYAML, formatJSON, formatTable:
		_, err := a.stdout.Write(b)
		return err
	}
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing left to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(a.stderr, "wrote %s to %s\n", what, out)
	return nil
}
