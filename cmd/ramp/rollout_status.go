package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

func newRolloutStatusCmd(a *app) *cobra.Command {
	var (
		t       rolloutTarget
		watch   bool
		refresh time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status FLAG",
		Short: "Show a rollout: its stages, the judge's verdicts, its transitions",
		Long: `Show the newest rollout of FLAG in an environment (or the one --id names): its
status, a row per stage with its percentage and minimum duration, a progress
bar for the current stage (time in stage against its minimum, and time left),
the latest verdict of every guard with its figures, the last decision and why,
and every transition with its time, actor and reason. Stages count from 1 here;
the "stage" field of -o json is the index, from 0.

--watch redraws every --refresh (1s) until the rollout ends or Ctrl-C. On a
terminal it redraws in place; otherwise it prints a new block each time the
rollout or its latest analysis changes (with -o json, one JSON object a line;
with -o yaml, one document each). Its exit status lets scripts gate on the
rollout: 0 when it ended promoted, 1 when it was rolled back or aborted, or
when watching stopped before it ended. Without --watch the status is 0 whatever
the rollout's status.`,
		Example: `  ramp rollout status checkout-v2
  ramp rollout status checkout-v2 --env staging --watch
  ramp rollout status --id 7 -o json`,
		Args: func(cmd *cobra.Command, args []string) error { return t.args(cmd, args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			if refresh < 100*time.Millisecond {
				return usageErrorf("--refresh %v: use at least 100ms", refresh)
			}
			flag := ""
			if len(args) == 1 {
				flag = args[0]
			}
			ctx := cmd.Context()
			v, err := a.findRollout(ctx, cmd, t, flag, false)
			if err != nil {
				return err
			}
			if watch {
				return a.watchRollout(ctx, v.ID, refresh)
			}
			return a.render(v, func(w io.Writer) { printRolloutStatus(w, v, time.Now()) })
		},
	}
	t.addFlags(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw until the rollout ends; exit 0 if it was promoted, 1 otherwise")
	cmd.Flags().DurationVar(&refresh, "refresh", time.Second, "with --watch: how often to look")
	return cmd
}

// statusWords names a status for a sentence.
func statusWords(s ramp.RolloutStatus) string {
	if s == ramp.RolloutRolledBack {
		return "rolled back"
	}
	return string(s)
}

// stageOf names a stage for people, counting from 1: "stage 2 of 4".
func stageOf(i int, p rollout.Plan) string {
	return fmt.Sprintf("stage %d of %d", i+1, len(p.Stages))
}

// currentPercent is what the flag serves the canary now, as far as the
// rollout knows: 0 before the first stage and after a rollback or abort,
// otherwise the percentage of the last transition (or of the stage).
func currentPercent(r *ramp.Rollout, p rollout.Plan, st rollout.State) float64 {
	switch r.Status {
	case ramp.RolloutPending, ramp.RolloutRolledBack, ramp.RolloutAborted:
		return 0
	}
	if n := len(st.Transitions); n > 0 {
		return st.Transitions[n-1].Percent
	}
	if r.Stage >= 0 && r.Stage < len(p.Stages) {
		return p.Stages[r.Stage].Percent
	}
	return 0
}

// progressWidth is the number of cells of a progress bar.
const progressWidth = 24

// progressBar draws done of total as a bar: [█████░░░░░].
func progressBar(frac float64) string {
	frac = math.Max(0, math.Min(1, frac))
	n := int(math.Round(frac * progressWidth))
	return "[" + strings.Repeat("█", n) + strings.Repeat("░", progressWidth-n) + "]"
}

// formatDuration prints a duration for people, in days, hours, minutes and
// seconds, with at most the two largest units that matter: 3d, 1d4h, 2h15m,
// 45s.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	if d < time.Second {
		if d == 0 {
			return "0s"
		}
		return d.Round(time.Millisecond).String()
	}
	d = d.Round(time.Second)
	units := []struct {
		n    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	var parts []string
	for _, u := range units {
		if len(parts) == 2 {
			break
		}
		if q := d / u.n; q > 0 {
			parts = append(parts, strconv.FormatInt(int64(q), 10)+u.name)
			d -= q * u.n
		} else if len(parts) > 0 {
			break // 1d0h12m reads as 1d
		}
	}
	return strings.Join(parts, "")
}

// printRolloutStatus writes the table form of a rollout's status as of now.
func printRolloutStatus(w io.Writer, v *client.RolloutView, now time.Time) {
	plan, perr := v.DecodePlan()
	st, serr := v.DecodeState()
	tw := newTable(w)
	status := string(v.Status)
	if len(plan.Stages) > 0 {
		switch v.Status {
		case ramp.RolloutRunning, ramp.RolloutPaused:
			status += fmt.Sprintf(", %s at %s", stageOf(v.Stage, plan), formatPercent(currentPercent(&v.Rollout, plan, st)))
		case ramp.RolloutPending:
			status += ", first stage not live yet"
		case ramp.RolloutPromoted:
			status += fmt.Sprintf(": done, %s", formatPercent(currentPercent(&v.Rollout, plan, st)))
		default:
			status += fmt.Sprintf(" at %s, now 0%%", stageOf(v.Stage, plan))
		}
	}
	fmt.Fprintf(tw, "Rollout:\t%d\n", v.ID)
	fmt.Fprintf(tw, "Flag:\t%s\n", v.Flag)
	fmt.Fprintf(tw, "Environment:\t%s\n", v.Environment)
	fmt.Fprintf(tw, "Status:\t%s\n", status)
	if v.Reason != "" {
		fmt.Fprintf(tw, "Reason:\t%s\n", v.Reason)
	}
	if st.Canary != "" {
		fmt.Fprintf(tw, "Variants:\t%s (canary) against %s (baseline)\n", st.Canary, orDash(st.Baseline))
	}
	if perr == nil {
		fmt.Fprintf(tw, "Analysis:\tevery %s from %s; on warning %s; alpha %s\n", formatDuration(time.Duration(plan.Interval)),
			orDash(plan.Source), orDash(string(plan.OnWarning)), strconv.FormatFloat(plan.Alpha, 'g', -1, 64))
	}
	fmt.Fprintf(tw, "Started:\t%s by %s\n", formatTime(v.CreatedAt), orDash(v.CreatedBy))
	tw.Flush()
	if perr != nil {
		fmt.Fprintf(w, "\nthe plan cannot be read: %v\n", perr)
		return
	}
	if serr != nil {
		fmt.Fprintf(w, "\nthe state cannot be read: %v\n", serr)
	}

	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "STAGE", "PERCENT", "MIN DURATION", "STATE")
	for i, s := range plan.Stages {
		dur := "-"
		if s.Duration > 0 {
			dur = formatDuration(time.Duration(s.Duration))
		}
		row(tw, strconv.Itoa(i+1), formatPercent(s.Percent), dur, stageState(v, plan, st, i, now))
	}
	tw.Flush()

	printVerdicts(w, v)
	printTransitions(w, v, st)
}

// stageState is the STATE cell of stage i: done, pending, or for the
// current stage its progress.
func stageState(v *client.RolloutView, plan rollout.Plan, st rollout.State, i int, now time.Time) string {
	switch {
	case v.Status == ramp.RolloutPending:
		return "pending"
	case i < v.Stage:
		return "done"
	case i > v.Stage:
		return "pending"
	}
	switch v.Status {
	case ramp.RolloutPromoted:
		return "done"
	case ramp.RolloutRolledBack:
		return "rolled back here"
	case ramp.RolloutAborted:
		return "aborted here"
	}
	cur := "current"
	if v.Status == ramp.RolloutPaused {
		cur = "paused"
	}
	min := time.Duration(plan.Stages[i].Duration)
	if min <= 0 || st.StageStarted.IsZero() {
		return cur
	}
	in := max(now.Sub(st.StageStarted), 0).Truncate(time.Second)
	left := "minimum reached, promoted once every guard passes"
	if in < min {
		left = formatDuration(min-in) + " left"
	}
	return fmt.Sprintf("%s %s %3.0f%%  %s in stage, %s", cur, progressBar(float64(in)/float64(min)),
		100*math.Min(1, float64(in)/float64(min)), formatDuration(in), left)
}

// printVerdicts writes the latest verdict of each guard, with its figures
// and its sentence, and the decision drawn from them.
func printVerdicts(w io.Writer, v *client.RolloutView) {
	if v.Latest == nil {
		if v.Status == ramp.RolloutRunning || v.Status == ramp.RolloutPaused {
			fmt.Fprintln(w, "\nNo analysis yet: the judge looks once per interval.")
		}
		return
	}
	an := v.Latest
	fmt.Fprintf(w, "\nLatest analysis: %s, stage %d\n", formatTime(an.Time), an.Stage+1)
	verdicts, err := client.DecodeVerdicts(an.Verdicts)
	if err != nil {
		fmt.Fprintf(w, "the verdicts cannot be read: %v\n", err)
	}
	if len(verdicts) > 0 {
		// The guards' rows are aligned apart from their sentences, which
		// follow each row on a line of their own.
		var buf bytes.Buffer
		tw := newTable(&buf)
		row(tw, "GUARD", "METRIC", "OUTCOME", "CANARY", "BASELINE")
		for _, vd := range verdicts {
			row(tw, vd.Guard, string(vd.Metric), string(vd.Outcome), figures(vd, vd.Canary), figures(vd, vd.Baseline))
		}
		tw.Flush()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		fmt.Fprintln(w, lines[0])
		for i, vd := range verdicts {
			fmt.Fprintln(w, strings.TrimRight(lines[i+1], " "))
			if vd.Summary != "" {
				fmt.Fprintln(w, "    "+vd.Summary)
			}
		}
	}
	fmt.Fprintf(w, "Decision: %s: %s\n", orDash(an.Decision), orDash(an.Reason))
}

// figures describes one arm of a verdict in a few words: requests and
// errors, the guarded latency quantile, or the share of requests.
func figures(v judge.Verdict, f judge.Figures) string {
	if f.Requests == 0 {
		return "no data"
	}
	n := formatCount(f.Requests)
	switch v.Metric {
	case judge.Latency:
		if f.Latency > 0 {
			q := v.Quantile
			if q == 0 {
				q = judge.DefaultQuantile
			}
			return fmt.Sprintf("p%s %s of %s", strconv.FormatFloat(100*q, 'g', 4, 64), formatSeconds(f.Latency), n)
		}
		return n + " requests"
	case judge.Throughput:
		if f.Share > 0 {
			return fmt.Sprintf("%s of %s requests", strconv.FormatFloat(100*f.Share, 'f', 2, 64)+"%", n)
		}
		return n + " requests"
	}
	return fmt.Sprintf("%s/%s failed (%s%%)", formatCount(f.Errors), n, strconv.FormatFloat(100*f.ErrorRate, 'f', 2, 64))
}

// formatCount prints a count with thousands separators; Prometheus's
// increase() may give fractions, which keep one decimal.
func formatCount(x float64) string {
	if x != math.Trunc(x) {
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	s := strconv.FormatFloat(x, 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatSeconds prints a latency in seconds: 312ms, 1.25s.
func formatSeconds(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(s*1000, 'g', 3, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'g', 3, 64) + "s"
}

// printTransitions writes the rollout's transitions, oldest first. The
// kill switch and deletions end a rollout in the store without a
// transition in its state; their end is shown from the rollout's record.
func printTransitions(w io.Writer, v *client.RolloutView, st rollout.State) {
	ts := st.Transitions
	ended := !v.Status.Active() && (len(ts) == 0 || ts[len(ts)-1].Status != v.Status)
	if len(ts) == 0 && !ended {
		return
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	row(tw, "TIME", "ACTION", "STAGE", "PERCENT", "STATUS", "ACTOR", "REASON")
	for _, t := range ts {
		stage := fmt.Sprintf("%d→%d", t.From+1, t.To+1)
		if t.Action == ramp.ActionRolloutStart {
			stage = fmt.Sprintf("→%d", t.To+1)
		}
		row(tw, formatTime(t.Time), t.Action, stage, formatPercent(t.Percent), string(t.Status), orDash(t.Actor), orDash(t.Reason))
	}
	if ended {
		action := ramp.ActionRolloutAbort
		if v.Status == ramp.RolloutRolledBack {
			action = ramp.ActionRolloutRollback
		}
		row(tw, formatTime(v.UpdatedAt), action, fmt.Sprintf("%d", v.Stage+1), "0%", string(v.Status), "-", orDash(v.Reason))
	}
	tw.Flush()
}
