package ramp_test

import (
	"encoding/json"
	"testing"

	"github.com/ramp-flags/ramp"
)

// FuzzValidate decodes arbitrary JSON as a flag and validates it: never a
// panic, and every problem is reported with a field path.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"key":"a","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}],"environments":{"production":{"on":true,"fallthrough":{"split":[{"variant":"on","percent":5},{"variant":"off","percent":95}]}}}}`))
	f.Add([]byte(`{"key":"B!","type":"number","variants":[{"key":"x","value":"1e400"}],"environments":{"production":{"rules":[{"clauses":[{"op":"matches","attribute":"a","values":["("]}],"serve":{}}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl ramp.Flag
		if json.Unmarshal(b, &fl) != nil {
			return
		}
		fl.Normalize([]string{"production", "staging"})
		err := fl.Validate(ramp.Scope{Environments: []string{"production", "staging"}, Segments: []string{"beta"}})
		if err == nil {
			return
		}
		e, ok := err.(*ramp.Error)
		if !ok || e.Code != ramp.EINVALID || len(e.Fields) == 0 {
			t.Fatalf("Validate returned %#v, want an EINVALID *Error with fields", err)
		}
		for _, fe := range e.Fields {
			if fe.Field == "" || fe.Message == "" {
				t.Fatalf("field error without a path or message: %+v", fe)
			}
		}
	})
}
