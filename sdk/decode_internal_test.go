package sdk

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// decodeSeeds are the documents and events the server writes, and the
// near misses a stream or a cache file may hold.
func decodeSeeds(t testing.TB) [][]byte {
	t.Helper()
	full := testFlag("checkout", 5, "beta")
	full.Name, full.Description, full.Owner, full.Tags = "Checkout", "the new checkout", "payments", []string{"q4"}
	full.Version = 12
	full.CreatedAt = time.Date(2026, 11, 20, 10, 11, 12, 123456000, time.UTC)
	full.UpdatedAt = full.CreatedAt.Add(time.Hour)
	full.Environments["production"].Rules = append(full.Environments["production"].Rules, ramp.Rule{
		ID: "staff", Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@example.com"}}},
		Serve: ramp.Serve{Split: []ramp.Allocation{{Variant: "on", Percent: 50}, {Variant: "off", Percent: 50}}, BucketBy: "companyId"},
	})
	seg := &ramp.Segment{Key: "beta", Included: []string{"alice"}, Rules: []ramp.SegmentRule{{Clauses: []ramp.Clause{{Attribute: "plan", Op: ramp.OpIn, Values: []string{"pro"}}}}}}
	var seeds [][]byte
	for _, v := range []any{
		document{Environment: "production", Seq: 7, Flags: []*ramp.Flag{full, testFlag("plain", 100, "")}, Segments: []*ramp.Segment{seg}},
		document{Environment: "staging", Flags: []*ramp.Flag{}, Segments: []*ramp.Segment{}},
		change{Seq: 8, Flags: []*ramp.Flag{full}},
		change{Seq: 9, DeletedFlags: []string{"plain"}, Segments: []*ramp.Segment{seg}, DeletedSegments: []string{"old"}},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b, b[:len(b)/2])
	}
	return append(seeds,
		[]byte(`{"seq":1,"seq":2}`),
		[]byte(`{"SEQ":3,"Flags":[{"KEY":"a"}]}`),
		[]byte(`{"seq":1,"flags":[{"key":"a\xff","variants":[{"key":"on","value":  [1, {"x" : null}] }]}]}`),
		[]byte(`{"seq":1e3}`),
		[]byte(`{"seq":1,"flags":null,"deletedFlags":[null],"segments":[null]}`),
		[]byte(`{"environment":"production","seq":1,"flags":[{"key":"a","createdAt":"2026-11-20T10:11:12+01:00","variants":[{"key":"v","value":null}]}]}`),
		[]byte(`{"seq":1,"flags":[{"key":"a","environments":{"production":null}}],"unknown":{"nested":[1,2]}}`),
		[]byte(`[]`), []byte(`null`), []byte(``),
	)
}

// TestDecodeServerDocuments: what the server writes reads back whole.
func TestDecodeServerDocuments(t *testing.T) {
	for _, b := range decodeSeeds(t)[:8:8] {
		if !json.Valid(b) {
			continue // a truncated copy
		}
		checkDecode(t, b)
		var d document
		if err := decode(b, &d); err != nil {
			t.Errorf("decode(%s): %v", b, err)
		}
	}
}

// FuzzDecode holds the stream's decoder to encoding/json, which the
// protocol is written in: for any input, both accept it with the same
// value or both refuse it, as a document and as a change.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	for _, pair := range [][2]any{{new(document), new(document)}, {new(change), new(change)}} {
		err, want := decode(data, pair[0]), json.Unmarshal(data, pair[1])
		switch {
		case (err == nil) != (want == nil):
			t.Fatalf("%q as %T: decode says %v, encoding/json %v", data, pair[0], err, want)
		case err == nil && !reflect.DeepEqual(pair[0], pair[1]):
			t.Fatalf("%q as %T:\ndecode:        %+v\nencoding/json: %+v", data, pair[0], pair[0], pair[1])
		}
	}
}
