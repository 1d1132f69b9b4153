package ramp_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ramp-flags/ramp"
)

// The stream documents are a wire contract with every SDK (docs/stream.md):
// these golden strings pin their encoding byte for byte.

func streamFlag() *ramp.Flag {
	return &ramp.Flag{
		Key:            "banner",
		Type:           ramp.TypeBoolean,
		Variants:       []ramp.Variant{{Key: "on", Value: json.RawMessage(`true`)}, {Key: "off", Value: json.RawMessage(`false`)}},
		DefaultVariant: "off",
		Salt:           "s1",
		Environments: map[string]*ramp.FlagEnv{"production": {
			On:          true,
			Fallthrough: ramp.Serve{Split: []ramp.Allocation{{Variant: "on", Percent: 12.5}, {Variant: "off", Percent: 87.5}}},
		}},
		Version: 3,
	}
}

func streamSegment() *ramp.Segment {
	return &ramp.Segment{Key: "beta", Included: []string{"u1"}, Version: 2}
}

const (
	goldenFlag    = `{"key":"banner","type":"boolean","variants":[{"key":"on","value":true},{"key":"off","value":false}],"defaultVariant":"off","salt":"s1","environments":{"production":{"on":true,"fallthrough":{"split":[{"variant":"on","percent":12.5},{"variant":"off","percent":87.5}]}}},"version":3}`
	goldenSegment = `{"key":"beta","included":["u1"],"version":2}`
)

func TestStreamEncoding(t *testing.T) {
	for _, c := range []struct {
		name   string
		value  any
		golden string
	}{
		{"document", ramp.EnvironmentDocument{Environment: "production", Seq: 42, Flags: []*ramp.Flag{streamFlag()}, Segments: []*ramp.Segment{streamSegment()}},
			`{"environment":"production","seq":42,"flags":[` + goldenFlag + `],"segments":[` + goldenSegment + `]}`},
		{"empty document", ramp.EnvironmentDocument{Environment: "staging", Flags: []*ramp.Flag{}, Segments: []*ramp.Segment{}},
			`{"environment":"staging","seq":0,"flags":[],"segments":[]}`},
		{"change", ramp.EnvironmentChange{Seq: 43, Flags: []*ramp.Flag{streamFlag()}, DeletedFlags: []string{"old"}, Segments: []*ramp.Segment{streamSegment()}, DeletedSegments: []string{"gone"}},
			`{"seq":43,"flags":[` + goldenFlag + `],"deletedFlags":["old"],"segments":[` + goldenSegment + `],"deletedSegments":["gone"]}`},
		{"deletion only", ramp.EnvironmentChange{Seq: 44, DeletedFlags: []string{"old"}},
			`{"seq":44,"deletedFlags":["old"]}`},
		{"empty change", ramp.EnvironmentChange{Seq: 45, Flags: []*ramp.Flag{}},
			`{"seq":45}`},
	} {
		got, err := json.Marshal(c.value)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(got) != c.golden {
			t.Errorf("%s encodes as\n%s\nwant\n%s", c.name, got, c.golden)
		}
		// What the server writes, a client reads back unchanged.
		back := reflect.New(reflect.TypeOf(c.value))
		if err := json.Unmarshal(got, back.Interface()); err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		again, _ := json.Marshal(back.Elem().Interface())
		if string(again) != c.golden {
			t.Errorf("%s after a round trip encodes as\n%s\nwant\n%s", c.name, again, c.golden)
		}
	}
}
