package sdk

import (
	"encoding/json"
	"hash/maphash"
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
	if s2.flags["a"].eval != s1.flags["a"].eval || s2.flags["c"].eval != s1.flags["c"].eval {
		t.Error("flags untouched by the change were recompiled")
	}
	if s2.flags["b"].eval == s1.flags["b"].eval {
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
	if s3.flags["b"].eval != s2.flags["b"].eval {
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
	if e := s4.flags["b"]; e.eval != nil || e.broken == nil || e.broken.ErrorCode != ErrParse {
		t.Errorf("flag b = %+v, want a PARSE_ERROR entry", e)
	}
	// The earlier snapshots are untouched: readers may still hold them.
	if s3.flags["b"].eval == nil || len(s1.segments) != 2 || s1.seq != 1 {
		t.Error("build modified an earlier snapshot")
	}
}
