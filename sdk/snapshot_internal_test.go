package sdk

import (
	"encoding/json"
	"hash/maphash"
	"reflect"
	"slices"
	"testing"

	"github.com/ramp-flags/ramp"
)

func testFlag(key string, percent float64, segment string) *ramp.Flag {
	f := &ramp.Flag{
		Key: key, Type: ramp.TypeBoolean, Salt: key, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
		Environments: map[string]*ramp.FlagEnv{"production": {On: true, OffVariant: "off", Fallthrough: ramp.Serve{
			Split: []ramp.Allocation{{Variant: "on", Percent: percent}, {Variant: "off", Percent: 100 - percent}},
		}}},
	}
	if segment != "" {
		f.Environments["production"].Rules = []ramp.Rule{{ID: "seg", Clauses: []ramp.Clause{{Op: ramp.OpInSegment, Values: []string{segment}}}, Serve: ramp.Serve{Variant: "on"}}}
	}
	return f
}

// TestBuildRecompilesOnlyChanges checks that an event recompiles the flags
// it changes and those using a changed segment, reuses the others, and
// reports exactly those keys.
func TestBuildRecompilesOnlyChanges(t *testing.T) {
	comp := compiler{seed: maphash.MakeSeed(), keySeed: 7}
	beta := &ramp.Segment{Key: "beta", Included: []string{"alice"}}
	other := &ramp.Segment{Key: "other", Included: []string{"x"}}
	s1, keys, err := comp.build(nil, update{full: true, env: "production", seq: 1,
		flags:    []*ramp.Flag{testFlag("a", 5, ""), testFlag("b", 5, "beta"), testFlag("c", 5, "other")},
		segments: []*ramp.Segment{beta, other}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(keys, want) {
		t.Fatalf("first snapshot keys = %v, want %v", keys, want)
	}

	// A segment change recompiles the flag that uses it, nothing else.
	s2, keys, err := comp.build(s1, update{env: "production", seq: 2,
		segments: []*ramp.Segment{{Key: "beta", Included: []string{"alice", "bob"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b"}; !slices.Equal(keys, want) {
		t.Errorf("segment change keys = %v, want %v", keys, want)
	}
	if s2.flag("a").eval != s1.flag("a").eval || s2.flag("c").eval != s1.flag("c").eval {
		t.Error("flags untouched by the change were recompiled")
	}
	if s2.flag("b").eval == s1.flag("b").eval {
		t.Error("the flag using the changed segment was not recompiled")
	}

	// A full snapshot with one flag changed and one removed.
	s3, keys, err := comp.build(s2, update{full: true, env: "production", seq: 3,
		flags:    []*ramp.Flag{testFlag("a", 25, ""), testFlag("b", 5, "beta")},
		segments: []*ramp.Segment{{Key: "beta", Included: []string{"alice", "bob"}}, other}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "c"}; !slices.Equal(keys, want) {
		t.Errorf("snapshot keys = %v, want %v", keys, want)
	}
	if s3.flag("b").eval != s2.flag("b").eval {
		t.Error("an unchanged flag was recompiled by a snapshot")
	}

	// Deleting a segment a flag uses breaks that flag only.
	s4, keys, err := comp.build(s3, update{env: "production", seq: 4, deletedSegments: []string{"beta"}})
	if err == nil {
		t.Error("no compile error for a flag whose segment is gone")
	}
	if want := []string{"b"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
	if e := s4.flag("b"); e.eval != nil || e.broken == nil || e.broken.ErrorCode != ErrParse {
		t.Errorf("flag b = %+v, want a PARSE_ERROR entry", e)
	}
	// The earlier snapshots are untouched: readers may still hold them.
	if s3.flag("b").eval == nil || len(s1.segments) != 2 || s1.seq != 1 {
		t.Error("build modified an earlier snapshot")
	}
}

// TestSumsCoverEveryField fails when a type that flagSum or segmentSum
// walks gains or loses a field: the fingerprints must then be reviewed, or
// a change to the new field would not recompile the flag.
func TestSumsCoverEveryField(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields int
	}{
		{ramp.Flag{}, 13}, {ramp.Variant{}, 3}, {ramp.FlagEnv{}, 4}, {ramp.Rule{}, 4},
		{ramp.Clause{}, 3}, {ramp.Serve{}, 3}, {ramp.Allocation{}, 2},
		{ramp.Segment{}, 9}, {ramp.SegmentRule{}, 1},
	} {
		typ := reflect.TypeOf(c.v)
		if typ.NumField() != c.fields {
			t.Errorf("ramp.%s has %d fields, not %d: hash the new ones in flagSum or segmentSum if evaluation reads them, then update this count", typ.Name(), typ.NumField(), c.fields)
		}
	}
}

// TestFlagSumSeesEvaluatedParts checks that the fingerprint changes with
// what evaluation reads and ignores what it does not.
func TestFlagSumSeesEvaluatedParts(t *testing.T) {
	comp := compiler{seed: maphash.MakeSeed()}
	base := comp.flagSum(testFlag("a", 5, "beta"), "production")
	for name, edit := range map[string]func(*ramp.Flag){
		"percent":      func(f *ramp.Flag) { f.Environments["production"].Fallthrough.Split[0].Percent = 6 },
		"on":           func(f *ramp.Flag) { f.Environments["production"].On = false },
		"salt":         func(f *ramp.Flag) { f.Salt = "x" },
		"variant":      func(f *ramp.Flag) { f.Variants[0].Value = json.RawMessage("false") },
		"clause value": func(f *ramp.Flag) { f.Environments["production"].Rules[0].Clauses[0].Values[0] = "gamma" },
		"bucketBy":     func(f *ramp.Flag) { f.Environments["production"].Fallthrough.BucketBy = "account" },
		"no env":       func(f *ramp.Flag) { delete(f.Environments, "production") },
	} {
		f := testFlag("a", 5, "beta")
		edit(f)
		if comp.flagSum(f, "production") == base {
			t.Errorf("%s: the fingerprint did not change", name)
		}
	}
	f := testFlag("a", 5, "beta")
	f.Description, f.Version = "other", 9
	f.Environments["staging"] = &ramp.FlagEnv{}
	if comp.flagSum(f, "production") != base {
		t.Error("the fingerprint changed with parts evaluation in production does not read")
	}
}
