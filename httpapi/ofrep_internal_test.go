package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
	"github.com/ramp-flags/ramp/hub"
)

// TestAppendJSONString checks the hand-written string encoder against
// encoding/json, invalid UTF-8 and control characters included.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quo"te`, `back\slash`, "\n\r\t\x00\x1f\x7f", "é€😀", "\xff\xfeab\xc3", "a\u2028b", "<&>",
		"user-1@example.com",
	} {
		got := appendJSONString(nil, s)
		var decoded string
		if err := json.Unmarshal(got, &decoded); err != nil {
			t.Errorf("%q encodes as %s, which is not JSON: %v", s, got, err)
			continue
		}
		want, _ := json.Marshal(s)
		var wantDecoded string
		_ = json.Unmarshal(want, &wantDecoded)
		if decoded != wantDecoded {
			t.Errorf("%q round-trips as %q, encoding/json gives %q", s, decoded, wantDecoded)
		}
	}
}

// TestOFREPEntryDoesNotAllocate checks that answering from a cached result
// allocates nothing: encoding happens once per result.
func TestOFREPEntryDoesNotAllocate(t *testing.T) {
	var f ramp.Flag
	if err := json.Unmarshal([]byte(`{"key":"layout","type":"object","defaultVariant":"a","variants":[{"key":"a","value":{"columns":2}}],
		"environments":{"production":{"on":true,"fallthrough":{"variant":"a"}}}}`), &f); err != nil {
		t.Fatal(err)
	}
	snap, err := eval.NewSnapshot("production", []*ramp.Flag{&f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &hub.State{Environment: "production", Seq: 42, Eval: snap}
	o := &ofrep{evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x"}, []string{"flag", "variant", "reason"})}
	ctx := &eval.Context{TargetingKey: "u1"}
	b := make([]byte, 0, 256)
	var e *ofrepEntry
	allocs := testing.AllocsPerRun(100, func() {
		e = o.entry(st, snap.Flag("layout").Evaluate(ctx))
		e.counter.Inc()
		b = o.appendEntry(b[:0], e, st.Seq)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per answer, want 0", allocs)
	}
	if want := `{"key":"layout","value":{"columns":2},"reason":"STATIC","variant":"a","metadata":{"seq":42}}`; string(b) != want {
		t.Errorf("answer %s\nwant   %s", b, want)
	}
}

func TestRefetchEvent(t *testing.T) {
	got := string(refetchEvent(hub.Event{Seq: 1234, Type: hub.EventChange}))
	want := "id: 1234\nevent: message\ndata: {\"type\":\"refetchEvaluation\",\"etag\":\"\\\"1234\\\"\"}\n\n"
	if got != want {
		t.Errorf("event %q\nwant  %q", got, want)
	}
}
