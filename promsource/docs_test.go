package promsource

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/rollout"
)

// TestDocsPlan checks that the plan in docs/metrics.md decodes, is valid
// and has templates the source can expand, so the example cannot rot.
func TestDocsPlan(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/metrics.md has no yaml block")
	}
	var p rollout.Plan
	dec := yaml.NewDecoder(strings.NewReader(block))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode the plan: %v", err)
	}
	p.Normalize()
	if err := p.Validate(); err != nil {
		t.Fatalf("the plan is invalid: %v", err)
	}
	if p.Source != rollout.SourcePrometheus || len(p.Guards) != 3 {
		t.Fatalf("plan = %+v; want the prometheus source and three guards", p)
	}
	for _, g := range p.Guards {
		if err := CheckQueries(g.Queries); err != nil {
			t.Errorf("guard %s: %v", g.Name, err)
		}
	}
	if got := p.Guards[1].Queries.Buckets; !strings.Contains(got, `route="/checkout"}[{{window}}]))`) || strings.Contains(got, "\n") {
		t.Errorf("buckets template = %q; want one line", got)
	}
}
