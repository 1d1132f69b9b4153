package eval_test

import (
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
)

// BenchmarkPercentage is the hot path of a rollout: a flag at 5 % with one
// targeting key.
func BenchmarkPercentage(b *testing.B) {
	f := compile(b, boolFlag("checkout-v2", "salt-1", 5))
	ctx := &eval.Context{TargetingKey: "user-4821"}
	b.ReportAllocs()
	var r *eval.Result
	for b.Loop() {
		r = f.Evaluate(ctx)
	}
	if r.Reason != eval.ReasonSplit {
		b.Fatal(r)
	}
}

// BenchmarkStatic is a flag that serves one variant to everyone.
func BenchmarkStatic(b *testing.B) {
	f := boolFlag("f", "s", 5)
	f.Environments["production"].On = false
	c := compile(b, f)
	ctx := &eval.Context{TargetingKey: "user-4821"}
	b.ReportAllocs()
	for b.Loop() {
		c.Evaluate(ctx)
	}
}

// BenchmarkTenRules evaluates a flag whose ten rules all miss before the
// percentage fallthrough: the worst case of a realistic targeting setup.
func BenchmarkTenRules(b *testing.B) {
	f := boolFlag("f", "s", 25)
	rules := []ramp.Rule{
		{Clauses: []ramp.Clause{{Attribute: "country", Op: ramp.OpIn, Values: []string{"NZ", "AU", "FJ"}}}},
		{Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@corp.example"}}}},
		{Clauses: []ramp.Clause{{Attribute: "plan", Op: ramp.OpEquals, Values: []string{"enterprise"}}}},
		{Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpStartsWith, Values: []string{"qa+"}}}},
		{Clauses: []ramp.Clause{{Attribute: "seats", Op: ramp.OpGT, Values: []string{"1000"}}}},
		{Clauses: []ramp.Clause{{Attribute: "appVersion", Op: ramp.OpSemverLT, Values: []string{"1.0.0"}}}},
		{Clauses: []ramp.Clause{{Attribute: "userAgent", Op: ramp.OpContains, Values: []string{"bot"}}}},
		{Clauses: []ramp.Clause{{Attribute: "plan", Op: ramp.OpNotIn, Values: []string{"free", "pro", "team"}}}},
		{Clauses: []ramp.Clause{{Attribute: "region", Op: ramp.OpEquals, Values: []string{"eu-west-1"}}, {Attribute: "beta", Op: ramp.OpEquals, Values: []string{"true"}}}},
		{Clauses: []ramp.Clause{{Attribute: ramp.AttrTargetingKey, Op: ramp.OpIn, Values: []string{"alice", "bob", "carol"}}}},
	}
	for i := range rules {
		rules[i].Serve = ramp.Serve{Variant: "on"}
	}
	f.Environments["production"].Rules = rules
	if err := f.Validate(ramp.Scope{Environments: []string{"production"}}); err != nil {
		b.Fatal(err)
	}
	c := compile(b, f)
	ctx := &eval.Context{TargetingKey: "user-4821", Attributes: map[string]any{
		"country": "DE", "email": "dev@shop.example", "plan": "pro", "seats": 12,
		"appVersion": "2.3.1", "userAgent": "Mozilla/5.0", "region": "us-east-1",
	}}
	b.ReportAllocs()
	var r *eval.Result
	for b.Loop() {
		r = c.Evaluate(ctx)
	}
	if r.Reason != eval.ReasonDefault && r.Reason != eval.ReasonSplit {
		b.Fatal(r)
	}
}

// BenchmarkSnapshot1000 evaluates through a snapshot of 1,000 flags, as the
// SDK and the OFREP endpoint do.
func BenchmarkSnapshot1000(b *testing.B) {
	var flags []*ramp.Flag
	for i := 0; i < 1000; i++ {
		flags = append(flags, boolFlag(fmt.Sprintf("flag-%d", i), fmt.Sprint(i), 5))
	}
	snap, err := eval.NewSnapshot("production", flags, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := &eval.Context{TargetingKey: "user-4821"}
	b.ReportAllocs()
	for b.Loop() {
		snap.Evaluate("flag-500", ctx)
	}
}

// BenchmarkCompile10000 compiles a snapshot of 10,000 flags: the work done
// on every change and at start.
func BenchmarkCompile10000(b *testing.B) {
	var flags []*ramp.Flag
	for i := 0; i < 10000; i++ {
		flags = append(flags, boolFlag(fmt.Sprintf("flag-%d", i), fmt.Sprint(i), 5))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eval.NewSnapshot("production", flags, nil); err != nil {
			b.Fatal(err)
		}
	}
}
