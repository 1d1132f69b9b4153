package main

import (
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

// FuzzParsePercent checks that any percentage text is either rejected or
// turned into a percentage the API accepts.
func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"5", "5%", "12.5%", "0.001", "100", "-1", "101", "abc", "1e2", "NaN", "Inf", "5%%", " 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePercent(s)
		if err != nil {
			return
		}
		if _, ok := ramp.PercentToBuckets(p); !ok {
			t.Fatalf("parsePercent(%q) = %v, which the API rejects", s, p)
		}
	})
}

// FuzzApplyFile feeds arbitrary YAML to the apply parser: it must return
// an error or items, never panic.
func FuzzApplyFile(f *testing.F) {
	f.Add("flags:\n- key: a\n  type: boolean\n  defaultVariant: off\n  variants:\n  - {key: on, value: true}\n  - {key: off, value: false}\n")
	f.Add("segments:\n- key: s\n  included: [a, b]\n")
	f.Add("flags: [{key: x, type: object, variants: [{key: v, value: {a: [1, {b: null}]}}]}]")
	f.Add("--- \n...\n")
	f.Fuzz(func(t *testing.T, doc string) {
		_, _, _, _ = parseApplyFile(strings.NewReader(doc))
	})
}

// FuzzParseAttr checks that --attr parsing never panics and keeps the key.
func FuzzParseAttr(f *testing.F) {
	f.Add("plan=pro")
	f.Add("age=42")
	f.Add("beta=true")
	f.Add("=x")
	f.Fuzz(func(t *testing.T, s string) {
		k, _, err := parseAttr(s)
		if err == nil && (k == "" || !strings.Contains(s, k)) {
			t.Fatalf("parseAttr(%q) key %q", s, k)
		}
	})
}
