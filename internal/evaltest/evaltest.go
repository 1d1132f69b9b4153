// Package evaltest loads the shared evaluation fixtures in testdata/eval so
// that every evaluator of ramp (the eval package, the SDK, the OFREP
// endpoint) is held to the same cases.
package evaltest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/ramp-flags/ramp"
)

// File is one fixture file.
type File struct {
	Name        string          `json:"-"`
	Environment string          `json:"environment"`
	Segments    []*ramp.Segment `json:"segments"`
	Flags       []*ramp.Flag    `json:"flags"`
	Cases       []Case          `json:"cases"`
}

// Case is one evaluation and what it must give.
type Case struct {
	Name    string         `json:"name"`
	Flag    string         `json:"flag"`
	Context map[string]any `json:"context"`
	Want    Want           `json:"want"`
}

// Want holds the expected result; nil fields are not checked.
type Want struct {
	Variant   *string         `json:"variant"`
	Value     json.RawMessage `json:"value"`
	Reason    *string         `json:"reason"`
	ErrorCode *string         `json:"errorCode"`
}

// Dir returns the absolute path of testdata/eval.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "eval")
}

// Load reads every fixture file.
func Load(t testing.TB) []File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(Dir(), "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no evaluation fixtures in %s: %v", Dir(), err)
	}
	var files []File
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f File
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.Name = filepath.Base(p)
		files = append(files, f)
	}
	return files
}

// Split returns the targeting key and the other attributes of a case's
// context.
func (c Case) Split() (key string, attrs map[string]any) {
	attrs = map[string]any{}
	for k, v := range c.Context {
		if k == ramp.AttrTargetingKey {
			key, _ = v.(string)
			continue
		}
		attrs[k] = v
	}
	return key, attrs
}

// Check reports a test error for every field of got that differs from w.
func (w Want) Check(t testing.TB, variant string, value any, reason, errorCode string) {
	t.Helper()
	if w.Variant != nil && *w.Variant != variant {
		t.Errorf("variant = %q, want %q", variant, *w.Variant)
	}
	if w.Reason != nil && *w.Reason != reason {
		t.Errorf("reason = %q, want %q", reason, *w.Reason)
	}
	if w.ErrorCode != nil && *w.ErrorCode != errorCode {
		t.Errorf("errorCode = %q, want %q", errorCode, *w.ErrorCode)
	}
	if w.Value != nil {
		var want any
		if err := json.Unmarshal(w.Value, &want); err != nil {
			t.Fatalf("bad want.value: %v", err)
		}
		// Compare through JSON so that numeric types do not matter.
		gb, _ := json.Marshal(value)
		var g any
		_ = json.Unmarshal(gb, &g)
		if !reflect.DeepEqual(g, want) {
			t.Errorf("value = %s, want %s", gb, w.Value)
		}
	}
}
