package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

func newRolloutCmd(a *app) *cobra.Command {
	cmd := newGroupCmd("rollout", "Run guarded rollouts: staged, judged, rolled back on their own",
		`A guarded rollout raises a flag's percentage stage by stage (5% for 72h, then
25%, 50% and 100%, for example). Every interval the judge compares the canary
(users served the new variant) with the baseline (everyone else) on the plan's
guards: a critical breach rolls back to 0% at once, a significant regression
steps back one stage, too little data holds, and a stage that passed its
minimum duration is promoted. docs/rollouts.md is the guide.

A flag has at most one active rollout per environment; the commands that act
on a rollout find it from FLAG and --env, or take --id.`,
		`  ramp rollout start checkout-v2 --template standard
  ramp rollout status checkout-v2 --watch
  ramp rollout pause checkout-v2 --reason "deploy freeze"
  ramp rollout list --all`)
	cmd.AddCommand(
		newRolloutStartCmd(a),
		newRolloutStatusCmd(a),
		newRolloutListCmd(a),
		newRolloutMoveCmd(a, "pause"),
		newRolloutMoveCmd(a, "resume"),
		newRolloutMoveCmd(a, "promote"),
		newRolloutMoveCmd(a, "abort"),
		newRolloutTemplatesCmd(a),
	)
	return cmd
}

func newRolloutStartCmd(a *app) *cobra.Command {
	var (
		env, file, template, stages, variant, source, onWarning string
		guards                                                  []string
		interval                                                time.Duration
		alpha                                                   float64
		dryRun, watch                                           bool
		refresh                                                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "start FLAG (-f PLAN | --template NAME | --stages LIST) [--guard GUARD]...",
		Short: "Start a guarded rollout of a flag",
		Long: `Start a guarded rollout of FLAG in an environment. Its first stage goes live at
once; the rollout controller in the server does the rest.

The plan comes from exactly one of:
  -f FILE          a plan in YAML (see docs/examples/rollout.yaml; - reads stdin)
  --template NAME  a ready-made plan: standard (5% 3d, 25% 4d, 50% 4d, 100%),
                   fast (1h, 2h, 2h) or demo (20s a stage); ramp rollout templates
                   prints them
  --stages LIST    PERCENT:DURATION items, such as 5:72h,25:4d,50:4d,100; the
                   last stage may leave out its duration. Durations take s, m,
                   h and d. The guards default to error-rate and p99-latency.

The other flags change the plan, whichever it came from. --guard replaces the
plan's guards; repeat it for several. A guard is a preset (error-rate,
p99-latency, p90-latency, throughput), optionally followed by settings, or
settings alone:
  --guard error-rate,critical=2%
  --guard p99-latency,critical=800ms,margin=20%
  --guard name=checkout-errors,metric=error_rate,margin=10%,absMargin=0.1%
Settings are the YAML fields of a guard (name, metric, quantile, margin,
absMargin, critical, minRequests, tau); rates take 0.05 or 5%, a latency
critical takes seconds or a duration.

The plan is checked before anything is sent. --dry-run prints it as YAML (a
file -f takes) and starts nothing. --watch follows the rollout as
"ramp rollout status --watch" does, with the same exit status.`,
		Example: `  ramp rollout start checkout-v2 --template standard
  ramp rollout start checkout-v2 -f docs/examples/rollout.yaml --env staging
  ramp rollout start checkout-v2 --stages 5:72h,25:4d,50:4d,100 --guard error-rate --guard p99-latency,critical=800ms
  ramp rollout start checkout-v2 --template demo --watch`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if msg := ramp.CheckKey(key); msg != "" {
				return usageErrorf("flag key %s", trimIs(msg))
			}
			given := 0
			for _, s := range []string{file, template, stages} {
				if s != "" {
					given++
				}
			}
			if given != 1 {
				return usageErrorf("rollout start needs exactly one of -f FILE, --template NAME or --stages LIST")
			}
			fl := cmd.Flags()
			overrides := fl.Changed("guard") || fl.Changed("variant") || fl.Changed("interval") ||
				fl.Changed("on-warning") || fl.Changed("source") || fl.Changed("alpha")
			ctx := cmd.Context()
			req := client.StartRolloutRequest{Flag: key, Environment: env}
			var plan rollout.Plan
			fromFlags := true
			switch {
			case file != "":
				p, err := a.readPlanFile(file)
				if err != nil {
					return err
				}
				plan, fromFlags = p, false
			case template != "":
				ts, err := a.client().RolloutTemplates(ctx)
				if err != nil {
					return err
				}
				p, ok := ts[template]
				if !ok {
					return usageErrorf("--template %q is not a template: use one of %s", template, strings.Join(sortedKeys(ts), ", "))
				}
				plan = p
				if !overrides && !dryRun {
					req.Template = template
				}
			default:
				st, err := parseStages(stages)
				if err != nil {
					return err
				}
				plan.Stages = st
				if !fl.Changed("guard") {
					ps := guardPresets()
					plan.Guards = []rollout.Guard{ps["error-rate"], ps["p99-latency"]}
				}
			}
			if fl.Changed("guard") {
				plan.Guards = nil
				for _, spec := range guards {
					g, err := parseGuard(spec)
					if err != nil {
						return err
					}
					plan.Guards = append(plan.Guards, g)
				}
			}
			if fl.Changed("variant") {
				plan.Variant = variant
			}
			if fl.Changed("interval") {
				plan.Interval = rollout.Duration(interval)
			}
			if fl.Changed("on-warning") {
				plan.OnWarning = judge.Action(onWarning)
			}
			if fl.Changed("source") {
				plan.Source = source
			}
			if fl.Changed("alpha") {
				plan.Alpha = alpha
			}
			plan.Normalize()
			if err := plan.Validate(); err != nil {
				if fromFlags {
					return usageErrorf("%s", planError(err))
				}
				return fmt.Errorf("%s: %s", file, planError(err))
			}
			if dryRun {
				return a.render(plan, func(w io.Writer) {
					b, err := toYAML(plan)
					if err != nil {
						fmt.Fprintln(w, err)
						return
					}
					w.Write(b)
				})
			}
			if req.Template == "" {
				req.Plan = &plan
			}
			v, err := a.client().StartRollout(ctx, req)
			if err != nil {
				return err
			}
			if watch {
				return a.watchRollout(ctx, v.ID, refresh)
			}
			return a.render(v, func(w io.Writer) {
				fmt.Fprintf(w, "started rollout %d of %s in %s: %s\n", v.ID, v.Flag, v.Environment, describeStages(plan))
				fmt.Fprintf(w, "follow it with: ramp rollout status %s --env %s --watch\n", v.Flag, v.Environment)
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	f.StringVarP(&file, "filename", "f", "", "rollout plan in YAML (- for stdin)")
	f.StringVar(&template, "template", "", "ready-made plan: standard, fast or demo")
	f.StringVar(&stages, "stages", "", "stages as PERCENT:DURATION items, such as 5:72h,25:4d,50:4d,100")
	f.StringArrayVar(&guards, "guard", nil, "guard preset and settings, such as error-rate,critical=2% (repeatable; replaces the plan's guards)")
	f.StringVar(&variant, "variant", "", "variant to roll out (default: on for booleans, else the only variant other than the off variant)")
	f.DurationVar(&interval, "interval", 0, "how often the judge looks (plan default 1m)")
	f.StringVar(&onWarning, "on-warning", "", "what a significant regression does: step_back or rollback")
	f.StringVar(&source, "source", "", "where figures come from: sdk or prometheus")
	f.Float64Var(&alpha, "alpha", 0, "false-alarm rate of an analysis, shared by the guards (plan default 0.01)")
	f.BoolVar(&dryRun, "dry-run", false, "check the plan and print it as YAML; start nothing")
	f.BoolVar(&watch, "watch", false, "follow the rollout until it ends, as rollout status --watch")
	f.DurationVar(&refresh, "refresh", time.Second, "with --watch: how often to look")
	return cmd
}

// readPlanFile reads the plan of -f: a file, or stdin for "-". Errors
// name the file.
func (a *app) readPlanFile(file string) (rollout.Plan, error) {
	var in io.Reader = a.stdin
	name := "stdin"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return rollout.Plan{}, err
		}
		defer f.Close()
		in, name = f, file
	}
	p, err := parsePlanFile(in)
	if err != nil {
		return p, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describeStages lists a plan's stages: "5% for 3d, 25% for 4d, 100%".
func describeStages(p rollout.Plan) string { return stageList(p, " for ", ", ") }

// stageList lists a plan's stages, each as its percent and, if it has one,
// before its duration, joined by sep.
func stageList(p rollout.Plan, before, sep string) string {
	parts := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		parts[i] = formatPercent(s.Percent)
		if s.Duration > 0 {
			parts[i] += before + formatDuration(time.Duration(s.Duration))
		}
	}
	return strings.Join(parts, sep)
}

// rolloutTarget is how a command names one rollout: FLAG and --env, or
// --id.
type rolloutTarget struct {
	env string
	id  int64
}

// addFlags registers --env and --id.
func (t *rolloutTarget) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&t.env, "env", "e", ramp.EnvProduction, "environment")
	cmd.Flags().Int64Var(&t.id, "id", 0, "the rollout's id, instead of finding it from FLAG and --env")
}

// args checks the arguments of a command that takes FLAG, which --id
// makes optional.
func (t *rolloutTarget) args(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) > 1:
		return usageErrorf("%s takes only FLAG; unexpected %q", cmd.CommandPath(), args[1:])
	case len(args) == 0 && t.id == 0:
		return usageErrorf("%s needs FLAG (or --id)", cmd.CommandPath())
	case t.id < 0:
		return usageErrorf("--id %d: rollout ids are positive numbers", t.id)
	}
	return nil
}

// findRollout returns the rollout the command names: --id, else the newest
// rollout of flag in the environment, which must be active if active is
// set. A flag given with --id must match the rollout, and so must an
// environment given explicitly.
func (a *app) findRollout(ctx context.Context, cmd *cobra.Command, t rolloutTarget, flag string, active bool) (*client.RolloutView, error) {
	api := a.client()
	if t.id != 0 {
		v, err := api.GetRollout(ctx, t.id)
		if err != nil {
			return nil, err
		}
		if flag != "" && v.Flag != flag {
			return nil, fmt.Errorf("rollout %d is a rollout of %s, not %s", v.ID, v.Flag, flag)
		}
		if cmd.Flags().Changed("env") && v.Environment != t.env {
			return nil, fmt.Errorf("rollout %d is in %s, not %s", v.ID, v.Environment, t.env)
		}
		return v, nil
	}
	list, err := api.ListRollouts(ctx, client.RolloutFilter{Flag: flag, Environment: t.env, Active: active, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(list) == 1 {
		return api.GetRollout(ctx, list[0].ID)
	}
	if active {
		last, err := api.ListRollouts(ctx, client.RolloutFilter{Flag: flag, Environment: t.env, Limit: 1})
		if err == nil && len(last) == 1 {
			l := last[0]
			return nil, fmt.Errorf("%s has no active rollout in %s; the last one, %d, was %s on %s",
				flag, t.env, l.ID, statusWords(l.Status), formatTime(l.UpdatedAt))
		}
	}
	return nil, fmt.Errorf("%s has no rollout in %s; start one with: ramp rollout start %s --env %s --template standard", flag, t.env, flag, t.env)
}

// moveHelp is the help of the four moves people make.
var moveHelp = map[string]struct{ short, long, example string }{
	"pause": {"Hold a running rollout at its stage",
		`Pause a running rollout: it stays at its stage, and the controller neither
analyses nor moves it until "ramp rollout resume". Promote, abort and the kill
switch still work.
--reason is kept with the rollout and in the audit log.`,
		`  ramp rollout pause checkout-v2 --reason "deploy freeze until Monday"
  ramp rollout pause --id 7`},
	"resume": {"Continue a paused rollout",
		`Resume a paused rollout: the controller analyses it again and promotes it once
its stage has passed. Time spent paused counts towards the stage's minimum
duration. The server records "resumed by ACTOR" as the reason.`,
		`  ramp rollout resume checkout-v2
  ramp rollout resume checkout-v2 --env staging`},
	"promote": {"Move a rollout to its next stage now",
		`Promote a running or paused rollout to its next stage now, whatever the judge
says; from the last stage, complete it. The audit log records it as your
decision ("promoted by ACTOR"). A paused rollout stays paused at the new stage.`,
		`  ramp rollout promote checkout-v2
  ramp rollout promote checkout-v2 --env staging -o json`},
	"abort": {"Stop a rollout and set the flag back to 0%",
		`Abort an active rollout: it ends with status aborted and the flag serves the
off variant to everyone in the environment again (0%). The rolled-out variant
is kept, so a later rollout or "ramp set" starts from it. --reason is kept with
the rollout and in the audit log.`,
		`  ramp rollout abort checkout-v2 --reason "support tickets about checkout"
  ramp rollout abort --id 7`},
}

// newRolloutMoveCmd returns the command of one move: pause, resume,
// promote or abort.
func newRolloutMoveCmd(a *app, action string) *cobra.Command {
	var (
		t      rolloutTarget
		reason string
	)
	h := moveHelp[action]
	cmd := &cobra.Command{
		Use:     action + " FLAG",
		Short:   h.short,
		Long:    h.long,
		Example: h.example,
		Args:    func(cmd *cobra.Command, args []string) error { return t.args(cmd, args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			flag := ""
			if len(args) == 1 {
				flag = args[0]
			}
			cur, err := a.findRollout(ctx, cmd, t, flag, t.id == 0)
			if err != nil {
				return err
			}
			api := a.client()
			var v *client.RolloutView
			switch action {
			case "pause":
				v, err = api.PauseRollout(ctx, cur.ID, reason)
			case "resume":
				v, err = api.ResumeRollout(ctx, cur.ID, reason)
			case "promote":
				v, err = api.PromoteRollout(ctx, cur.ID, reason)
			case "abort":
				v, err = api.AbortRollout(ctx, cur.ID, reason)
			}
			if err != nil {
				return err
			}
			plan, _ := v.DecodePlan()
			st, _ := v.DecodeState()
			return a.render(v, func(w io.Writer) {
				fmt.Fprintf(w, "%s in %s: rollout %d %s\n", v.Flag, v.Environment, v.ID, describeMove(v, plan, st))
			})
		},
	}
	t.addFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	return cmd
}

// describeMove says where a rollout stands after a move.
func describeMove(v *client.RolloutView, plan rollout.Plan, st rollout.State) string {
	pct := formatPercent(currentPercent(&v.Rollout, plan, st))
	switch v.Status {
	case ramp.RolloutPaused:
		return fmt.Sprintf("paused at %s, %s: %s", stageOf(v.Stage, plan), pct, v.Reason)
	case ramp.RolloutRunning:
		return fmt.Sprintf("running at %s, %s", stageOf(v.Stage, plan), pct)
	case ramp.RolloutPromoted:
		return fmt.Sprintf("completed: promoted, %s", pct)
	case ramp.RolloutAborted, ramp.RolloutRolledBack:
		return fmt.Sprintf("%s, back to %s: %s", statusWords(v.Status), pct, v.Reason)
	}
	return string(v.Status)
}

func newRolloutListCmd(a *app) *cobra.Command {
	var (
		f   client.RolloutFilter
		all bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List rollouts",
		Long: `List rollouts, newest first: the active ones (pending, running or paused), or
with --all the ended ones too. PERCENT is what the flag serves the canary
now; STAGE counts from 1.`,
		Example: `  ramp rollout list
  ramp rollout list --flag checkout-v2 --all
  ramp rollout list --env staging -o json`,
		Aliases: []string{"ls"},
		Args:    argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Limit < 0 || f.Limit > 1000 {
				return usageErrorf("--limit %d: use 1 to 1000", f.Limit)
			}
			f.Active = !all
			list, err := a.client().ListRollouts(cmd.Context(), f)
			if err != nil {
				return err
			}
			return a.render(nonNil(list), func(w io.Writer) {
				row(w, "ID", "FLAG", "ENVIRONMENT", "STATUS", "STAGE", "PERCENT", "STARTED BY", "UPDATED", "REASON")
				for _, v := range list {
					plan, _ := v.DecodePlan()
					st, _ := v.DecodeState()
					row(w, strconv.FormatInt(v.ID, 10), v.Flag, v.Environment, string(v.Status),
						fmt.Sprintf("%d/%d", v.Stage+1, len(plan.Stages)), formatPercent(currentPercent(&v.Rollout, plan, st)),
						orDash(v.CreatedBy), formatTime(v.UpdatedAt), orDash(v.Reason))
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Flag, "flag", "", "only rollouts of this flag")
	fl.StringVarP(&f.Environment, "env", "e", "", "only rollouts in this environment")
	fl.BoolVar(&all, "all", false, "include ended rollouts")
	fl.IntVar(&f.Limit, "limit", 0, "at most this many rollouts (server default 100, at most 1000)")
	return cmd
}

func newRolloutTemplatesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "templates [NAME]",
		Short: "Print the ready-made rollout plans",
		Long: `Print the ready-made plans --template takes, with their defaults filled in, as
YAML (or JSON with -o json). With NAME, print that plan alone: a file that
"ramp rollout start -f" takes, to copy and change.`,
		Example: `  ramp rollout templates
  ramp rollout templates standard > plan.yaml
  ramp rollout start checkout-v2 -f plan.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%s takes at most NAME; unexpected %q", cmd.CommandPath(), args[1:])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := a.client().RolloutTemplates(cmd.Context())
			if err != nil {
				return err
			}
			var v any = ts
			if len(args) == 1 {
				p, ok := ts[args[0]]
				if !ok {
					return usageErrorf("%q is not a template: use one of %s", args[0], strings.Join(sortedKeys(ts), ", "))
				}
				v = p
			}
			if a.output == formatJSON {
				return writeJSON(a.stdout, v)
			}
			return writeYAML(a.stdout, v)
		},
	}
}
