package eval_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
	"github.com/ramp-flags/ramp/internal/evaltest"
)

// FuzzEvaluate feeds arbitrary flag documents and contexts to the
// evaluator. It must never panic, and a flag that passes validation must
// compile and never fail with anything but a missing key.
func FuzzEvaluate(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(evaltest.Dir(), "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var file evaltest.File
		if err := json.Unmarshal(b, &file); err != nil {
			f.Fatal(err)
		}
		segs, _ := json.Marshal(file.Segments)
		for _, fl := range file.Flags {
			fb, _ := json.Marshal(fl)
			for _, c := range file.Cases {
				key, attrs := c.Split()
				ab, _ := json.Marshal(attrs)
				f.Add(fb, segs, key, ab)
			}
		}
	}
	f.Fuzz(func(t *testing.T, flagJSON, segJSON []byte, key string, attrJSON []byte) {
		var fl ramp.Flag
		if json.Unmarshal(flagJSON, &fl) != nil {
			return
		}
		var segs []*ramp.Segment
		_ = json.Unmarshal(segJSON, &segs)
		var attrs map[string]any
		_ = json.Unmarshal(attrJSON, &attrs)
		ctx := &eval.Context{TargetingKey: key, Attributes: attrs}
		segMap := map[string]*ramp.Segment{}
		var segKeys []string
		for _, s := range segs {
			if s != nil {
				segMap[s.Key] = s
				segKeys = append(segKeys, s.Key)
			}
		}
		valid := fl.Validate(ramp.Scope{Environments: []string{"production", "staging"}, Segments: segKeys}) == nil
		for _, s := range segMap {
			if s.Validate() != nil {
				valid = false
			}
		}
		c, err := eval.Compile(&fl, "production", segMap)
		if err != nil {
			if valid {
				t.Fatalf("valid flag did not compile: %v", err)
			}
			return
		}
		r := c.Evaluate(ctx)
		if valid && r.Reason == eval.ReasonError && r.ErrorCode != eval.ErrTargetingKeyMissing {
			t.Fatalf("valid flag failed: %+v", r)
		}
		if r.Reason != eval.ReasonError && fl.Variant(r.Variant) == nil {
			t.Fatalf("served unknown variant %q", r.Variant)
		}
	})
}

// FuzzBucket checks that every key lands in range.
func FuzzBucket(f *testing.F) {
	f.Add("salt", "user-1")
	f.Fuzz(func(t *testing.T, salt, key string) {
		if b := eval.Bucket(eval.Seed(salt), key); b < 0 || b >= ramp.BucketCount {
			t.Fatalf("bucket %d out of range", b)
		}
	})
}
