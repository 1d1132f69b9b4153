package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// parsePlanFile reads one rollout plan in YAML, with the field names of
// rollout.Plan (a guard's judge fields inline). Unknown fields, a second
// document and durations without a unit are errors.
func parsePlanFile(r io.Reader) (rollout.Plan, error) {
	var p rollout.Plan
	data, err := io.ReadAll(r)
	if err != nil {
		return p, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return p, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return p, errors.New("the file is empty: a plan lists its stages under \"stages\" and its guards under \"guards\"")
	}
	if err := checkPlanNode(doc.Content[0]); err != nil {
		return p, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return p, cleanPlanError(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return p, errors.New("the file holds more than one YAML document: give one plan")
	}
	return p, nil
}

// checkPlanNode rejects what the YAML decoder would take silently or
// report without a line: a plan that is not a mapping, and durations
// written as bare numbers, which would otherwise be read as nanoseconds.
func checkPlanNode(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a plan is a mapping with stages, guards and settings, not a %s", n.Line, nodeKind(n))
	}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if (k.Value == "duration" || k.Value == "interval") && v.Kind == yaml.ScalarNode &&
					(v.ShortTag() == "!!int" || v.ShortTag() == "!!float") && v.Value != "0" {
					return fmt.Errorf("line %d: %s %s has no unit: write it like 30s, 15m, 72h or 4d", v.Line, k.Value, v.Value)
				}
			}
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(n)
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	}
	return "YAML node"
}

// cleanPlanError drops the Go type names from the YAML decoder's messages.
func cleanPlanError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	for _, t := range []string{"rollout.Plan", "rollout.Stage", "rollout.Guard", "rollout.Queries", "judge.Guard"} {
		msg = strings.ReplaceAll(msg, " in type "+t, "")
	}
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	return errors.New(msg)
}

// parseStages reads --stages: comma-separated PERCENT:DURATION items, such
// as "5:72h,25:4d,50:4d,100". The last stage may leave out its duration:
// reaching it completes the rollout.
func parseStages(s string) ([]rollout.Stage, error) {
	var stages []rollout.Stage
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, usageErrorf("--stages %q: stage %d is empty; use PERCENT:DURATION items such as 5:72h,25:4d,50:4d,100", s, i+1)
		}
		pctText, durText, hasDur := strings.Cut(item, ":")
		pct, err := parsePercent(pctText)
		if err != nil {
			return nil, usageErrorf("--stages: stage %d: %v", i+1, err)
		}
		st := rollout.Stage{Percent: pct}
		if hasDur {
			d, err := rollout.ParseDuration(durText)
			if err != nil {
				return nil, usageErrorf("--stages: stage %d: %v", i+1, err)
			}
			st.Duration = rollout.Duration(d)
		}
		stages = append(stages, st)
	}
	return stages, nil
}

// guardPresets are the guards --guard can name, as the templates define
// them.
func guardPresets() map[string]rollout.Guard {
	return map[string]rollout.Guard{
		"error-rate": {Guard: judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, AbsMargin: 0.001, Critical: 0.05}},
		// A margin of +10 %, as in rollout.Templates; a p99 needs 1,000
		// requests per arm to have 10 in its tail, a p90 the default 100.
		"p99-latency": {Guard: judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1, MinRequests: 1000}},
		"p90-latency": {Guard: judge.Guard{Name: "p90-latency", Metric: judge.Latency, Quantile: 0.90, Margin: 0.1}},
		"throughput":  {Guard: judge.Guard{Name: "throughput", Metric: judge.Throughput}},
	}
}

func presetNames() string {
	var names []string
	for n := range guardPresets() {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// parseGuard reads one --guard: a preset name, optionally followed by
// settings that change it ("error-rate,critical=2%"), or settings alone
// ("name=checkout-errors,metric=error_rate,critical=0.05"). Settings are
// the YAML field names of a guard. Rates and margins take a fraction or a
// percentage; a latency critical takes seconds or a duration.
func parseGuard(spec string) (rollout.Guard, error) {
	var g rollout.Guard
	bad := func(format string, args ...any) error {
		return usageErrorf("--guard %q: %s", spec, fmt.Sprintf(format, args...))
	}
	items := strings.Split(spec, ",")
	first := strings.TrimSpace(items[0])
	if first != "" && !strings.Contains(first, "=") {
		p, ok := guardPresets()[first]
		if !ok {
			return g, bad("%q is not a guard preset: use one of %s, or settings such as name=errors,metric=error_rate,critical=5%%", first, presetNames())
		}
		g = p
		items = items[1:]
	}
	var critical string
	for _, item := range items {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return g, bad("%q is not a setting: use KEY=VALUE, such as critical=5%%", item)
		}
		var err error
		switch k {
		case "name":
			g.Name = v
		case "metric":
			g.Metric = judge.Metric(v)
		case "quantile":
			g.Quantile, err = parseFraction(v)
		case "margin":
			g.Margin, err = parseFraction(v)
		case "absMargin":
			g.AbsMargin, err = parseFraction(v)
		case "critical":
			critical = v // read once the metric is known
		case "minRequests":
			g.MinRequests, err = strconv.ParseFloat(v, 64)
		case "tau":
			g.Tau, err = parseFraction(v)
		default:
			return g, bad("unknown setting %q: use name, metric, quantile, margin, absMargin, critical, minRequests or tau", k)
		}
		if err != nil {
			return g, bad("%s=%s is not a number", k, v)
		}
	}
	if critical != "" {
		var err error
		if g.Metric == judge.Latency {
			g.Critical, err = parseSeconds(critical)
		} else {
			g.Critical, err = parseFraction(critical)
		}
		if err != nil {
			return g, bad("critical=%s: %v", critical, err)
		}
	}
	if g.Name == "" {
		return g, bad("the guard needs a name: start with a preset (%s) or add name=...", presetNames())
	}
	return g, nil
}

// parseFraction reads 0.05 or 5%.
func parseFraction(s string) (float64, error) {
	if t, ok := strings.CutSuffix(s, "%"); ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return x / 100, err
	}
	return strconv.ParseFloat(s, 64)
}

// parseSeconds reads a latency: seconds (0.8) or a duration (800ms).
func parseSeconds(s string) (float64, error) {
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		return x, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("use seconds (0.8) or a duration (800ms)")
	}
	return d.Seconds(), nil
}

// planError formats a plan that failed validation: the message, then one
// line per field.
func planError(err error) string {
	var re *ramp.Error
	if !errors.As(err, &re) {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString(re.Message)
	for _, f := range re.Fields {
		b.WriteString("\n  " + f.Field + ": " + f.Message)
	}
	return b.String()
}
