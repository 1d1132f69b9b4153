package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

func newBaselineCmd(a *app) *cobra.Command {
	var (
		env, source, variant string
		record               bool
		window               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "baseline FLAG [--record] [--window 1h]",
		Short: "Record a flag's baseline before a rollout, or compare it with now",
		Long: `Show the baseline stored for a flag in an environment (p50, p90 and p99
latency, error rate and throughput of its off variant) next to the live
figures of both variants over a window as long, ending now.

--record measures the baseline now, over --window (default 1h) ending now,
and stores it, replacing the previous one (audited as baseline.record). Do
it before a rollout starts, while everyone is served the off variant. The
figures come from the metric source a rollout would use: --source
prometheus when the server has a Prometheus (ramp serve --prometheus-url),
else the counts the SDKs report. The rollout controller judges a guard
against the stored baseline when the live baseline has too little data, as
in a final stage at 100% where nobody is served the off variant any more
(docs/rollouts.md#baselines).`,
		Example: `  ramp baseline checkout-v2 --record
  ramp baseline checkout-v2 --record --window 24h --source prometheus
  ramp baseline checkout-v2
  ramp baseline checkout-v2 --env staging -o json`,
		Args: argsExactly("FLAG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if msg := ramp.CheckKey(key); msg != "" {
				return usageErrorf("flag key %s", trimIs(msg))
			}
			fl := cmd.Flags()
			if fl.Changed("window") && window < time.Second {
				return usageErrorf("--window %v is too short: use at least 1s, such as 1h", window)
			}
			switch source {
			case "", "sdk", "prometheus":
			default:
				return usageErrorf("--source %q: use sdk or prometheus", source)
			}
			o := client.BaselineOptions{Environment: env, Source: source, Variant: variant}
			if fl.Changed("window") {
				o.Window = window
			}
			ctx := cmd.Context()
			if record {
				if _, err := a.client().RecordBaseline(ctx, key, o); err != nil {
					return err
				}
				// Show what was stored next to now, over the same window.
				o.Source, o.Window = "", 0
			}
			v, err := a.client().Baseline(ctx, key, o)
			if err != nil {
				return err
			}
			return a.render(v, func(w io.Writer) { printBaseline(w, v, record) })
		},
	}
	f := cmd.Flags()
	f.StringVarP(&env, "env", "e", ramp.EnvProduction, "environment")
	f.BoolVar(&record, "record", false, "measure the baseline now and store it")
	f.DurationVar(&window, "window", 0, "window of the figures, ending now (default 1h to record; the stored baseline's to show)")
	f.StringVar(&source, "source", "", "metric source: sdk or prometheus (default prometheus when the server has one, else sdk)")
	f.StringVar(&variant, "variant", "", "canary variant, for flags with more than two variants")
	return cmd
}

// printBaseline writes the stored baseline and the live figures side by
// side.
func printBaseline(w io.Writer, v *client.BaselineView, recorded bool) {
	fmt.Fprintf(w, "Flag:         %s in %s\n", v.Flag, v.Environment)
	b := v.Stored
	if b == nil {
		fmt.Fprintf(w, "Stored:       none; record one with: ramp baseline %s --env %s --record\n", v.Flag, v.Environment)
	} else {
		verb := "recorded"
		if recorded {
			verb = "recorded now"
		}
		fmt.Fprintf(w, "Stored:       %s %s by %s, over %s from %s\n", verb, formatTime(b.RecordedAt), orDash(b.RecordedBy),
			b.To.Sub(b.From).Round(time.Second), b.Source)
	}
	if v.Live != nil {
		fmt.Fprintf(w, "Live:         the last %s from %s\n", v.Live.Window, v.Live.Source)
	} else {
		fmt.Fprintf(w, "Live:         unavailable: %s\n", v.LiveError)
	}
	fmt.Fprintln(w)
	type col struct {
		head string
		f    *ramp.Figures
	}
	var cols []col
	if b != nil {
		cols = append(cols, col{"STORED (" + b.Variant + ")", &b.Figures})
	}
	if v.Live != nil {
		cols = append(cols, col{"NOW " + v.Live.Baseline.Variant + " (baseline)", &v.Live.Baseline},
			col{"NOW " + v.Live.Canary.Variant + " (canary)", &v.Live.Canary})
	}
	if len(cols) == 0 {
		return
	}
	tw := newTable(w)
	head := []string{"FIGURE"}
	for _, c := range cols {
		head = append(head, c.head)
	}
	row(tw, head...)
	lines := []struct {
		name string
		get  func(f *ramp.Figures) string
	}{
		{"requests", func(f *ramp.Figures) string { return formatCount(f.Requests) }},
		{"throughput", func(f *ramp.Figures) string { return strconv.FormatFloat(f.Throughput, 'f', 2, 64) + "/s" }},
		{"error rate", func(f *ramp.Figures) string { return rateOrDash(f) }},
		{"p50", func(f *ramp.Figures) string { return latencyOrDash(f.P50) }},
		{"p90", func(f *ramp.Figures) string { return latencyOrDash(f.P90) }},
		{"p99", func(f *ramp.Figures) string { return latencyOrDash(f.P99) }},
	}
	for _, l := range lines {
		cells := []string{l.name}
		for _, c := range cols {
			cells = append(cells, l.get(c.f))
		}
		row(tw, cells...)
	}
	tw.Flush()
}

func rateOrDash(f *ramp.Figures) string {
	if f.Requests == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*f.ErrorRate, 'f', 2, 64) + "%"
}

func latencyOrDash(s float64) string {
	if s <= 0 {
		return "-"
	}
	return formatSeconds(s)
}
