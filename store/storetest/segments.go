package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

func testSegmentCRUD(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()

	segs, err := s.ListSegments(ctx)
	if err != nil || len(segs) != 0 {
		t.Fatalf("ListSegments on an empty store = %v, %v; want none", segs, err)
	}
	in := newSegment("beta")
	var created *ramp.Segment
	oneAudit(t, s, wantAudit{Actor: "alice", Action: ramp.ActionSegmentCreate, Kind: "segment", Key: "beta", After: true}, func() {
		created = mustCreateSegment(t, s, in)
	})
	if in.Version != 0 || !in.CreatedAt.IsZero() {
		t.Error("CreateSegment changed its argument")
	}
	if created.Version != 1 || created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Errorf("created = version %d, created %v, updated %v", created.Version, created.CreatedAt, created.UpdatedAt)
	}
	got, err := s.GetSegment(ctx, "beta")
	if err != nil {
		t.Fatalf("GetSegment: %v", err)
	}
	if jsonString(t, got) != jsonString(t, created) {
		t.Errorf("GetSegment = %s\nwant %s", jsonString(t, got), jsonString(t, created))
	}
	mustCreateSegment(t, s, newSegment("alpha"))
	segs, err = s.ListSegments(ctx)
	if err != nil || len(segs) != 2 || segs[0].Key != "alpha" || segs[1].Key != "beta" {
		t.Fatalf("ListSegments = %v, %v; want alpha, beta", segs, err)
	}

	time.Sleep(time.Millisecond)
	var updated *ramp.Segment
	oneAudit(t, s, wantAudit{Actor: "bob", Action: ramp.ActionSegmentUpdate, Kind: "segment", Key: "beta", Before: true, After: true}, func() {
		updated, err = s.UpdateSegment(ctx, ramp.Change{Actor: "bob", IfVersion: 1}, "beta", func(seg *ramp.Segment) error {
			seg.Included = append(seg.Included, "user-3")
			seg.Excluded = []string{"user-1"}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateSegment: %v", err)
		}
	})
	if updated.Version != 2 || len(updated.Included) != 3 || !updated.CreatedAt.Equal(created.CreatedAt) || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Errorf("updated = %+v", updated)
	}

	noAudit(t, s, "rejected segment changes", func() {
		_, err := s.UpdateSegment(ctx, ramp.Change{Actor: "bob", IfVersion: 1}, "beta", func(*ramp.Segment) error { return nil })
		if e := wantCode(t, err, ramp.ECONFLICT); e.Version != 2 {
			t.Errorf("stale segment update: version %d, want 2", e.Version)
		}
		wantCode(t, s.DeleteSegment(ctx, ramp.Change{Actor: "bob", IfVersion: 1}, "beta"), ramp.ECONFLICT)
		_, err = s.UpdateSegment(ctx, change("bob"), "beta", func(seg *ramp.Segment) error {
			seg.Rules = append(seg.Rules, ramp.SegmentRule{Clauses: []ramp.Clause{{Op: ramp.OpInSegment, Values: []string{"alpha"}}}})
			return nil
		})
		wantCode(t, err, ramp.EINVALID)
		_, err = s.UpdateSegment(ctx, change("bob"), "beta", func(seg *ramp.Segment) error {
			seg.Key = "gamma"
			return nil
		})
		wantCode(t, err, ramp.EINVALID)
		sentinel := errors.New("no")
		if _, err = s.UpdateSegment(ctx, change("bob"), "beta", func(*ramp.Segment) error { return sentinel }); err != sentinel {
			t.Errorf("fn's error came back as %v, want it unchanged", err)
		}
		_, err = s.UpdateSegment(ctx, change("bob"), "nope", func(*ramp.Segment) error { return nil })
		wantCode(t, err, ramp.ENOTFOUND)
		_, err = s.CreateSegment(ctx, change("bob"), newSegment("beta"))
		wantCode(t, err, ramp.ECONFLICT)
		bad := newSegment("Bad Segment")
		bad.Rules = []ramp.SegmentRule{{}}
		_, err = s.CreateSegment(ctx, change("bob"), bad)
		if e := wantCode(t, err, ramp.EINVALID); len(e.Fields) < 2 {
			t.Errorf("invalid segment: fields = %+v, want the key and the empty rule", e.Fields)
		}
		_, err = s.GetSegment(ctx, "missing")
		wantCode(t, err, ramp.ENOTFOUND)
		wantCode(t, s.DeleteSegment(ctx, change("bob"), "missing"), ramp.ENOTFOUND)
	})
	if got, _ := s.GetSegment(ctx, "beta"); got.Version != 2 {
		t.Errorf("after rejected changes, version %d, want 2", got.Version)
	}

	oneAudit(t, s, wantAudit{Actor: "carol", Action: ramp.ActionSegmentDelete, Kind: "segment", Key: "beta", Before: true}, func() {
		if err := s.DeleteSegment(ctx, ramp.Change{Actor: "carol", IfVersion: 2}, "beta"); err != nil {
			t.Fatalf("DeleteSegment: %v", err)
		}
	})
	_, err = s.GetSegment(ctx, "beta")
	wantCode(t, err, ramp.ENOTFOUND)
}

func testSegmentInUse(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	mustCreateSegment(t, s, newSegment("testers"))
	mustCreateSegment(t, s, newSegment("testers-2")) // a key that contains the other
	f := newFlag("uses-testers")
	f.Environments = map[string]*ramp.FlagEnv{ramp.EnvStaging: {
		On: true, Rules: []ramp.Rule{segmentRule("testers")}, Fallthrough: ramp.Serve{Variant: "off"},
	}}
	mustCreateFlag(t, s, f)
	g := newFlag("also-testers")
	g.Environments = map[string]*ramp.FlagEnv{ramp.EnvProduction: {
		Rules:       []ramp.Rule{{Clauses: []ramp.Clause{{Op: ramp.OpNotInSegment, Values: []string{"testers"}}}, Serve: ramp.Serve{Variant: "on"}}},
		Fallthrough: ramp.Serve{Variant: "off"},
	}}
	mustCreateFlag(t, s, g)
	// A flag that only mentions the key in a description does not use it.
	h := newFlag("mentions")
	h.Description = `"testers-2"`
	mustCreateFlag(t, s, h)

	noAudit(t, s, "deleting a segment in use", func() {
		err := s.DeleteSegment(ctx, change("carol"), "testers")
		e := wantCode(t, err, ramp.ECONFLICT)
		if !strings.Contains(e.Message, "uses-testers") || !strings.Contains(e.Message, "also-testers") {
			t.Errorf("message %q does not name the flags using the segment", e.Message)
		}
	})
	if _, err := s.GetSegment(ctx, "testers"); err != nil {
		t.Fatalf("segment gone after a refused delete: %v", err)
	}
	// The segment that only shares a prefix is free.
	if err := s.DeleteSegment(ctx, change("carol"), "testers-2"); err != nil {
		t.Fatalf("DeleteSegment(testers-2): %v", err)
	}

	// Free it: one flag drops the rule, the other is deleted.
	_, err := s.UpdateFlag(ctx, change("carol"), "uses-testers", func(f *ramp.Flag) error {
		f.Environments[ramp.EnvStaging].Rules = nil
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFlag: %v", err)
	}
	e := wantCode(t, s.DeleteSegment(ctx, change("carol"), "testers"), ramp.ECONFLICT)
	if strings.Contains(e.Message, "uses-testers") || !strings.Contains(e.Message, "also-testers") {
		t.Errorf("message %q, want only also-testers named", e.Message)
	}
	if err := s.DeleteFlag(ctx, change("carol"), "also-testers"); err != nil {
		t.Fatalf("DeleteFlag: %v", err)
	}
	if err := s.DeleteSegment(ctx, change("carol"), "testers"); err != nil {
		t.Fatalf("DeleteSegment once unused: %v", err)
	}
}
