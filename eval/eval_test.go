package eval_test

import (
	"encoding/json"
	"fmt"
	"go/build"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
	"github.com/ramp-flags/ramp/internal/evaltest"
)

func TestFixtures(t *testing.T) {
	for _, file := range evaltest.Load(t) {
		for _, f := range file.Flags {
			if err := f.Validate(ramp.Scope{Environments: []string{"production", "staging"}, Segments: segmentKeys(file.Segments)}); err != nil {
				t.Errorf("%s: fixture flag does not validate: %v", file.Name, err)
			}
		}
		snap, err := eval.NewSnapshot(file.Environment, file.Flags, file.Segments)
		if err != nil {
			t.Fatalf("%s: %v", file.Name, err)
		}
		for _, c := range file.Cases {
			t.Run(file.Name+"/"+c.Name, func(t *testing.T) {
				key, attrs := c.Split()
				r := snap.Evaluate(c.Flag, &eval.Context{TargetingKey: key, Attributes: attrs})
				c.Want.Check(t, r.Variant, r.Value, string(r.Reason), string(r.ErrorCode))
			})
		}
	}
}

func segmentKeys(ss []*ramp.Segment) []string {
	var keys []string
	for _, s := range ss {
		keys = append(keys, s.Key)
	}
	return keys
}

func boolFlag(key, salt string, percent float64) *ramp.Flag {
	return &ramp.Flag{
		Key: key, Type: ramp.TypeBoolean, Salt: salt, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
		Environments: map[string]*ramp.FlagEnv{"production": {On: true, OffVariant: "off", Fallthrough: ramp.Serve{
			Split: []ramp.Allocation{{Variant: "on", Percent: percent}, {Variant: "off", Percent: 100 - percent}},
		}}},
	}
}

func compile(t testing.TB, f *ramp.Flag) *eval.Flag {
	t.Helper()
	c, err := eval.Compile(f, "production", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const users = 100000

func exposed(t testing.TB, f *eval.Flag) []bool {
	in := make([]bool, users)
	for i := range in {
		r := f.Evaluate(&eval.Context{TargetingKey: fmt.Sprintf("user-%d", i)})
		if r.ErrorCode != "" {
			t.Fatalf("evaluation failed: %+v", r)
		}
		in[i] = r.Variant == "on"
	}
	return in
}

func share(in []bool) float64 {
	n := 0
	for _, x := range in {
		if x {
			n++
		}
	}
	return 100 * float64(n) / float64(len(in))
}

// TestStickyRollout walks a flag up and down the usual schedule and checks
// the share at each step and that users move only in the expected direction.
func TestStickyRollout(t *testing.T) {
	steps := []float64{0.5, 5, 25, 50, 100, 50, 12.5, 5, 0}
	var prev []bool
	prevPct := 0.0
	for _, pct := range steps {
		in := exposed(t, compile(t, boolFlag("checkout-v2", "salt-1", pct)))
		if got := share(in); math.Abs(got-pct) > 0.3 {
			t.Errorf("at %v%%: share %.3f%%, want within ±0.3 points", pct, got)
		}
		if prev != nil {
			for i := range in {
				if pct >= prevPct && prev[i] && !in[i] {
					t.Fatalf("raising %v%% → %v%% removed user-%d", prevPct, pct, i)
				}
				if pct <= prevPct && !prev[i] && in[i] {
					t.Fatalf("lowering %v%% → %v%% added user-%d", prevPct, pct, i)
				}
			}
		}
		prev, prevPct = in, pct
	}
}

// TestLoweringRemovesNewest checks that lowering the percentage removes the
// users who joined last, so 25 % → 5 % gives back exactly the first 5 %.
func TestLoweringRemovesNewest(t *testing.T) {
	first := exposed(t, compile(t, boolFlag("f", "s", 5)))
	exposed(t, compile(t, boolFlag("f", "s", 25)))
	back := exposed(t, compile(t, boolFlag("f", "s", 5)))
	if !slices.Equal(first, back) {
		t.Fatal("5% → 25% → 5% did not give back the same users")
	}
}

// TestFlagsBucketIndependently checks that two flags with different salts
// at 50 % overlap on about a quarter of users, as independent draws do.
func TestFlagsBucketIndependently(t *testing.T) {
	a := exposed(t, compile(t, boolFlag("a", "salt-a", 50)))
	b := exposed(t, compile(t, boolFlag("b", "salt-b", 50)))
	both := 0
	for i := range a {
		if a[i] && b[i] {
			both++
		}
	}
	got := 100 * float64(both) / users
	if math.Abs(got-25) > 0.6 {
		t.Fatalf("overlap %.2f%%, want about 25%% for independent flags", got)
	}
}

func TestBucketRange(t *testing.T) {
	for _, salt := range []string{"", "x", "a-much-longer-salt-value"} {
		seed := eval.Seed(salt)
		for i := 0; i < 20000; i++ {
			if b := eval.Bucket(seed, fmt.Sprint(i)); b < 0 || b >= ramp.BucketCount {
				t.Fatalf("bucket %d out of range", b)
			}
		}
	}
	// The bucket function is part of the wire contract: SDKs in other
	// languages must reproduce these values.
	for _, tc := range []struct {
		salt, key string
		want      int
	}{
		{"salt-1", "user-1", 88218},
		{"salt-1", "user-2", 99666},
		{"checkout-v2", "alice", 42639},
		{"", "", 25462},
	} {
		if got := eval.Bucket(eval.Seed(tc.salt), tc.key); got != tc.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tc.salt, tc.key, got, tc.want)
		}
	}
}

func TestNilContextAndBrokenFlags(t *testing.T) {
	f := boolFlag("f", "s", 10)
	broken := boolFlag("broken", "s", 10)
	broken.Variants[0].Value = json.RawMessage(`"not a bool"`)
	snap, err := eval.NewSnapshot("production", []*ramp.Flag{f, broken}, nil)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("NewSnapshot error = %v, want one naming the broken flag", err)
	}
	if r := snap.Evaluate("f", nil); r.ErrorCode != eval.ErrTargetingKeyMissing {
		t.Errorf("nil context: %+v", r)
	}
	if r := snap.Evaluate("broken", &eval.Context{TargetingKey: "u"}); r.ErrorCode != eval.ErrParse {
		t.Errorf("broken flag: %+v", r)
	}
	if got := snap.Keys(); !slices.Equal(got, []string{"broken", "f"}) {
		t.Errorf("Keys = %v", got)
	}
}

// TestImports keeps the evaluation package light: it is compiled into every
// application that uses the SDK.
func TestImports(t *testing.T) {
	allowed := []string{"github.com/ramp-flags/ramp", "github.com/zeebo/xxh3", "github.com/klauspost/cpuid/v2", "golang.org/x/mod/semver", "golang.org/x/sys/cpu"}
	seen := map[string]bool{}
	var walk func(path, dir string)
	walk = func(path, dir string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := build.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		if !pkg.Goroot {
			ok := false
			for _, a := range allowed {
				if path == a || strings.HasPrefix(path, a+"/") && a != "github.com/ramp-flags/ramp" {
					ok = true
				}
			}
			if path == "github.com/ramp-flags/ramp/eval" {
				ok = true
			}
			if !ok {
				t.Errorf("eval depends on %s; it may import only the standard library, the root package and its hash", path)
			}
		}
		for _, imp := range pkg.Imports {
			walk(imp, pkg.Dir)
		}
	}
	walk("github.com/ramp-flags/ramp/eval", ".")
}

// TestSharedAttributes checks that a flag whose clauses read the same
// attributes many times (more of them than an evaluation remembers) gives
// the answer of its rules taken one at a time, where nothing is shared.
func TestSharedAttributes(t *testing.T) {
	attrs := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	var rules []ramp.Rule
	for i, a := range attrs {
		next := attrs[(i+1)%len(attrs)]
		rules = append(rules, ramp.Rule{
			Clauses: []ramp.Clause{
				{Attribute: a, Op: ramp.OpIn, Values: []string{"x", "y"}},
				{Attribute: next, Op: ramp.OpNotIn, Values: []string{"x"}},
			},
			Serve: ramp.Serve{Variant: "on"},
		})
	}
	full := boolFlag("shared", "s", 0)
	full.Environments["production"].Rules = rules
	whole := compile(t, full)
	single := make([]*eval.Flag, len(rules))
	for i, r := range rules {
		f := boolFlag("shared", "s", 0)
		f.Environments["production"].Rules = []ramp.Rule{r}
		single[i] = compile(t, f)
	}
	values := []any{nil, "x", "y", "z", 1}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 5000; n++ {
		ctx := &eval.Context{TargetingKey: "k", Attributes: map[string]any{}}
		for _, a := range attrs {
			if v := values[rng.IntN(len(values))]; v != nil {
				ctx.Attributes[a] = v
			}
		}
		want := "off"
		for _, f := range single {
			if r := f.Evaluate(ctx); r.Reason == eval.ReasonTargetingMatch {
				want = r.Variant
				break
			}
		}
		if got := whole.Evaluate(ctx); got.Variant != want {
			t.Fatalf("context %v: variant %q, rules one at a time give %q", ctx.Attributes, got.Variant, want)
		}
	}
}
