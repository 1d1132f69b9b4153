package sdk

import (
	"testing"
	"time"
)

// TestDeltaHoldsBackErrors checks that a report never has more errors
// than requests, even when a request was reported before its error was
// counted, and that the error goes with a later report.
func TestDeltaHoldsBackErrors(t *testing.T) {
	m := newMeter()
	s := m.series("checkout", "on")
	st := &s.stripes[0]

	// A failing request between its two counts: the request is counted,
	// its error not yet.
	st.buckets[0].Add(1)
	d, upTo := s.delta()
	if d == nil || d.Requests != 1 || d.Errors != 0 {
		t.Fatalf("first delta %+v", d)
	}
	s.sent = upTo

	st.errors.Add(1) // the error arrives, no new request
	if d, _ := s.delta(); d != nil {
		t.Fatalf("a delta with no new request: %+v", d)
	}
	s.observe(time.Millisecond, false)
	d, upTo = s.delta()
	if d == nil || d.Requests != 1 || d.Errors != 1 {
		t.Fatalf("delta after the next request %+v, want 1 request and the held error", d)
	}
	s.sent = upTo

	// Many errors held back at once go out as requests allow.
	for range 3 {
		st.buckets[1].Add(1)
	}
	_, upTo = s.delta()
	s.sent = upTo
	st.errors.Add(3)
	s.observe(time.Millisecond, true)
	d, upTo = s.delta()
	if d.Requests != 1 || d.Errors != 1 {
		t.Fatalf("delta %+v, want 1 request and 1 error", d)
	}
	s.sent = upTo
	s.observe(time.Millisecond, false)
	s.observe(time.Millisecond, false)
	s.observe(time.Millisecond, false)
	if d, _ = s.delta(); d.Requests != 3 || d.Errors != 3 {
		t.Fatalf("delta %+v, want the 3 held errors with 3 requests", d)
	}
}
