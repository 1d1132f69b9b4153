package judge_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/judge"
)

// fixtureDir holds the judge's data-driven scenarios.
var fixtureDir = filepath.Join("..", "testdata", "judge")

// fixtureFile is one file of testdata/judge (see its README).
type fixtureFile struct {
	Cases     []fixtureCase `json:"cases"`
	Decisions []decideCase  `json:"decisions"`
}

type fixtureCase struct {
	Name     string        `json:"name"`
	Guard    judge.Guard   `json:"guard"`
	Options  judge.Options `json:"options"`
	Canary   judge.Arm     `json:"canary"`
	Baseline judge.Arm     `json:"baseline"`
	Want     struct {
		Outcome   judge.Outcome `json:"outcome"`
		Summary   []string      `json:"summary"`
		MaxPValue *float64      `json:"maxPValue"`
		MinPValue *float64      `json:"minPValue"`
	} `json:"want"`
}

type decideCase struct {
	Name        string          `json:"name"`
	Stage       int             `json:"stage"`
	InStage     string          `json:"inStage"`
	MinDuration string          `json:"minDuration"`
	OnWarning   judge.Action    `json:"onWarning"`
	Outcomes    []judge.Outcome `json:"outcomes"`
	Want        struct {
		Action judge.Action `json:"action"`
		Reason []string     `json:"reason"`
	} `json:"want"`
}

func loadFixtures(t testing.TB) map[string]fixtureFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	files := map[string]fixtureFile{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var f fixtureFile
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files[filepath.Base(p)] = f
	}
	return files
}

func TestFixtures(t *testing.T) {
	for file, f := range loadFixtures(t) {
		for _, c := range f.Cases {
			t.Run(file+"/"+c.Name, func(t *testing.T) {
				v := judge.Evaluate(c.Guard, c.Canary, c.Baseline, c.Options)
				if v.Outcome != c.Want.Outcome {
					t.Errorf("outcome %s, want %s: %s", v.Outcome, c.Want.Outcome, v.Summary)
				}
				for _, s := range c.Want.Summary {
					if !strings.Contains(v.Summary, s) {
						t.Errorf("summary %q lacks %q", v.Summary, s)
					}
				}
				if c.Want.MaxPValue != nil || c.Want.MinPValue != nil {
					if len(v.Tests) == 0 {
						t.Fatalf("no test ran: %s", v.Summary)
					}
					p := v.Tests[0].PValue
					if c.Want.MaxPValue != nil && p > *c.Want.MaxPValue {
						t.Errorf("p-value %g, want at most %g", p, *c.Want.MaxPValue)
					}
					if c.Want.MinPValue != nil && p < *c.Want.MinPValue {
						t.Errorf("p-value %g, want at least %g", p, *c.Want.MinPValue)
					}
				}
				checkVerdict(t, v)
			})
		}
		for _, c := range f.Decisions {
			t.Run(file+"/"+c.Name, func(t *testing.T) {
				in := judge.DecideInput{Stage: c.Stage, OnWarning: c.OnWarning,
					InStage: mustDuration(t, c.InStage), MinDuration: mustDuration(t, c.MinDuration)}
				for i, o := range c.Outcomes {
					in.Verdicts = append(in.Verdicts, judge.Verdict{Guard: "g" + string(rune('1'+i)), Outcome: o, Summary: "figures of g" + string(rune('1'+i))})
				}
				d := judge.Decide(in)
				if d.Action != c.Want.Action {
					t.Errorf("action %s, want %s: %s", d.Action, c.Want.Action, d.Reason)
				}
				for _, s := range c.Want.Reason {
					if !strings.Contains(d.Reason, s) {
						t.Errorf("reason %q lacks %q", d.Reason, s)
					}
				}
				if len(d.Verdicts) != len(in.Verdicts) {
					t.Errorf("decision keeps %d verdicts, want %d", len(d.Verdicts), len(in.Verdicts))
				}
			})
		}
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
