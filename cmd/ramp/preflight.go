package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/preflight"
)

func newPreflightCmd(a *app) *cobra.Command {
	var (
		env, file, template, prom, minFree string
	)
	cmd := &cobra.Command{
		Use:   "preflight FLAG [-f PLAN | --template NAME] [--prometheus URL]",
		Short: "Check everything a guarded rollout of a flag needs, before starting it",
		Long: `Run the pre-deployment checklist of a flag's rollout, every item checked for
real: the server is healthy and its schema current; the flag exists, is
valid and at 0% in the environment with no rollout active; the rollout
plan (-f PLAN or --template NAME, as ramp rollout start takes them; the
standard template when neither is given) is valid and its metric source
configured; the SDKs report the flag's counts (sdk plans); Prometheus (the
server's, or --prometheus URL) answers, has the flag's metrics for both
variants and its alert rules (labelled ramp_flag=FLAG, as ramp alerts
writes them) loaded; a webhook or the Alertmanager receiver is configured;
the kill switch works (checked with a dry run that writes nothing); the
server's disk, memory and version; and whether a baseline is recorded.

Each item is printed with ✔ or ✘, the reason, and the fix of what fails.
Items marked (advice) do not fail the preflight. The exit status is 1 when
any required item fails, so that a deployment script can gate on it.
docs/preflight.md describes every item.`,
		Example: `  ramp preflight checkout-v2
  ramp preflight checkout-v2 --template fast --prometheus http://prometheus:9090
  ramp preflight checkout-v2 -f plan.yaml -o json`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if msg := ramp.CheckKey(key); msg != "" {
				return usageErrorf("flag key %s", trimIs(msg))
			}
			if file != "" && template != "" {
				return usageErrorf("give -f PLAN or --template NAME, not both")
			}
			cfg := preflight.Config{Flag: key, Environment: env, Template: template, PrometheusURL: prom, ClientVersion: version()}
			if minFree != "" {
				n, err := parseBytes(minFree)
				if err != nil {
					return usageErrorf("--min-free-disk %q: %v", minFree, err)
				}
				cfg.MinFreeBytes = n
			}
			if prom != "" && !strings.HasPrefix(prom, "http://") && !strings.HasPrefix(prom, "https://") {
				return usageErrorf("--prometheus %q is not a URL: use one like http://prometheus:9090", prom)
			}
			if file != "" {
				p, err := a.readPlanFile(file)
				if err != nil {
					return usageErrorf("%v", err)
				}
				cfg.Plan, cfg.PlanName = &p, file
			}
			rep := preflight.Run(cmd.Context(), a.client(), cfg)
			if err := a.render(rep, func(w io.Writer) { printPreflight(w, rep) }); err != nil {
				return err
			}
			if failed := rep.Failed(); len(failed) > 0 {
				ids := make([]string, len(failed))
				for i, c := range failed {
					ids[i] = c.ID
				}
				return errors.New("preflight failed: " + strings.Join(ids, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	f.StringVarP(&file, "filename", "f", "", "rollout plan in YAML (- for stdin)")
	f.StringVar(&template, "template", "", "ready-made plan to check: standard (the default), fast or demo")
	f.StringVar(&prom, "prometheus", "", "Prometheus to check instead of the server's (must be reachable)")
	f.StringVar(&minFree, "min-free-disk", "", "free space the server's data directory needs, such as 500MiB (default 1GiB)")
	return cmd
}

// printPreflight writes the checklist.
func printPreflight(w io.Writer, rep preflight.Report) {
	fmt.Fprintf(w, "Preflight of %s in %s\n\n", rep.Flag, rep.Environment)
	passed := 0
	for _, c := range rep.Checks {
		mark := "✔"
		if !c.OK {
			mark = "✘"
		} else {
			passed++
		}
		name := c.Name
		if !c.Required {
			name += " (advice)"
		}
		fmt.Fprintf(w, "%s %s\n", mark, name)
		fmt.Fprintf(w, "    %s\n", c.Reason)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", c.Fix)
		}
	}
	fmt.Fprintln(w)
	failed := rep.Failed()
	if len(failed) == 0 {
		fmt.Fprintf(w, "%d of %d checks pass; every required check passes: ready to start the rollout\n", passed, len(rep.Checks))
		return
	}
	ids := make([]string, len(failed))
	for i, c := range failed {
		ids[i] = c.ID
	}
	fmt.Fprintf(w, "%d of %d checks pass; %d required failed: %s\n", passed, len(rep.Checks), len(failed), strings.Join(ids, ", "))
}

// parseBytes reads a size such as 1GiB, 500MiB, 2GB or 1048576.
func parseBytes(s string) (uint64, error) {
	units := []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n > 1e18/float64(mult) {
		return 0, errors.New("not a size: use a number with KiB, MiB, GiB or TiB, such as 1GiB")
	}
	return uint64(n * float64(mult)), nil
}

// rollbackDryRun prints what the kill switch would do.
func (a *app) rollbackDryRun(cmd *cobra.Command, key, env string) error {
	p, err := a.client().RollbackDryRun(cmd.Context(), key, env)
	if err != nil {
		return err
	}
	return a.render(p, func(w io.Writer) {
		if !p.WouldChange {
			fmt.Fprintf(w, "dry run: %s is already off in %s; the kill switch would change nothing but the audit log", key, env)
		} else {
			fmt.Fprintf(w, "dry run: the kill switch would turn %s off in %s (from %s), and everyone would get %s", key, env, formatPercent(p.Before.Percentage), p.After.OffVariant)
		}
		if p.AbortsRollout != nil {
			fmt.Fprintf(w, "; it would abort rollout %d", *p.AbortsRollout)
		}
		fmt.Fprintln(w, "\nnothing was written")
	})
}
