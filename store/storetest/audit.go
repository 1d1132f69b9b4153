package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

func listAudit(t *testing.T, s Store, f ramp.AuditFilter) []ramp.AuditEntry {
	t.Helper()
	entries, err := s.ListAudit(t.Context(), f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return entries
}

func lastAuditID(t *testing.T, s Store) int64 {
	t.Helper()
	if e := listAudit(t, s, ramp.AuditFilter{Limit: 1}); len(e) > 0 {
		return e[0].ID
	}
	return 0
}

// auditAfter returns the entries with an ID above id, newest first.
func auditAfter(t *testing.T, s Store, id int64) []ramp.AuditEntry {
	t.Helper()
	var out []ramp.AuditEntry
	for _, e := range listAudit(t, s, ramp.AuditFilter{Limit: 1000}) {
		if e.ID > id {
			out = append(out, e)
		}
	}
	return out
}

// wantAudit is what one audit entry must hold. Before and After say whether
// the entry has a state before and after the change.
type wantAudit struct {
	Actor, Action, Kind, Key, Environment string
	Before, After                         bool
}

// oneAudit runs do and checks that it wrote exactly one audit entry, as
// want says; it returns the entry.
func oneAudit(t *testing.T, s Store, want wantAudit, do func()) ramp.AuditEntry {
	t.Helper()
	last := lastAuditID(t, s)
	do()
	got := auditAfter(t, s, last)
	if len(got) != 1 {
		t.Fatalf("%s %s wrote %d audit entries, want 1: %+v", want.Action, want.Key, len(got), got)
	}
	checkAudit(t, got[0], want)
	return got[0]
}

// noAudit runs do and checks that it wrote no audit entry.
func noAudit(t *testing.T, s Store, what string, do func()) {
	t.Helper()
	last := lastAuditID(t, s)
	do()
	if got := auditAfter(t, s, last); len(got) != 0 {
		t.Fatalf("%s wrote %d audit entries, want none: %+v", what, len(got), got)
	}
}

func checkAudit(t *testing.T, e ramp.AuditEntry, want wantAudit) {
	t.Helper()
	got := wantAudit{
		Actor: e.Actor, Action: e.Action, Kind: e.Kind, Key: e.Key, Environment: e.Environment,
		Before: hasJSON(e.Before), After: hasJSON(e.After),
	}
	if got != want {
		t.Errorf("audit entry %d = %+v, want %+v", e.ID, got, want)
	}
	if e.ID <= 0 {
		t.Errorf("audit entry has ID %d", e.ID)
	}
	if d := time.Since(e.Time); e.Time.IsZero() || d < -time.Minute || d > time.Minute {
		t.Errorf("audit entry %d has time %v, not about now", e.ID, e.Time)
	}
	for _, raw := range []json.RawMessage{e.Before, e.After} {
		if hasJSON(raw) && !json.Valid(raw) {
			t.Errorf("audit entry %d holds invalid JSON %s", e.ID, raw)
		}
	}
}

func hasJSON(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// auditFlag decodes the flag state of an audit entry.
func auditFlag(t *testing.T, raw json.RawMessage) *ramp.Flag {
	t.Helper()
	var f ramp.Flag
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("audit state %s: %v", raw, err)
	}
	return &f
}

func testAuditOrderAndFilters(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	// alice makes a and b, bob changes a twice and makes a segment a.
	for _, k := range []string{"a", "b"} {
		if _, err := s.CreateFlag(ctx, change("alice"), newFlag(k)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		_, err := s.UpdateFlag(ctx, change("bob"), "a", func(f *ramp.Flag) error {
			f.Description = fmt.Sprint("change ", i)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateSegment(ctx, change("bob"), newSegment("a")); err != nil {
		t.Fatal(err)
	}

	all := listAudit(t, s, ramp.AuditFilter{})
	if len(all) != 5 {
		t.Fatalf("%d audit entries, want 5: %+v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID || all[i].Time.After(all[i-1].Time) {
			t.Errorf("entries %d and %d are not newest first: %d %v, %d %v",
				i-1, i, all[i-1].ID, all[i-1].Time, all[i].ID, all[i].Time)
		}
	}
	actions := func(es []ramp.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Kind+":"+e.Key+":"+e.Action+":"+e.Actor)
		}
		return out
	}
	want := []string{
		"segment:a:segment.create:bob",
		"flag:a:flag.update:bob",
		"flag:a:flag.update:bob",
		"flag:b:flag.create:alice",
		"flag:a:flag.create:alice",
	}
	if got := actions(all); !slices.Equal(got, want) {
		t.Errorf("entries = %q\nwant %q", got, want)
	}
	// The updates record the state before and after.
	upd := all[1]
	if b, a := auditFlag(t, upd.Before), auditFlag(t, upd.After); b.Version != 2 || a.Version != 3 || a.Description != "change 1" {
		t.Errorf("last update: before version %d, after version %d %q; want 2, 3 \"change 1\"", b.Version, a.Version, a.Description)
	}

	for _, tc := range []struct {
		name   string
		filter ramp.AuditFilter
		want   []string
	}{
		{"kind", ramp.AuditFilter{Kind: "segment"}, want[:1]},
		{"kind and key", ramp.AuditFilter{Kind: "flag", Key: "a"}, []string{want[1], want[2], want[4]}},
		{"key", ramp.AuditFilter{Key: "a"}, []string{want[0], want[1], want[2], want[4]}},
		{"actor", ramp.AuditFilter{Actor: "alice"}, want[3:]},
		{"actor and kind", ramp.AuditFilter{Actor: "bob", Kind: "flag"}, want[1:3]},
		{"limit", ramp.AuditFilter{Limit: 2}, want[:2]},
		{"before", ramp.AuditFilter{Before: all[1].ID}, want[2:]},
		{"before and limit", ramp.AuditFilter{Before: all[1].ID, Limit: 2}, want[2:4]},
		{"before the first", ramp.AuditFilter{Before: all[4].ID}, nil},
		{"nothing matches", ramp.AuditFilter{Actor: "carol"}, nil},
		{"limit over the maximum", ramp.AuditFilter{Limit: 1_000_000}, want},
	} {
		if got := actions(listAudit(t, s, tc.filter)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: entries = %q\nwant %q", tc.name, got, tc.want)
		}
	}

	// Paging with Before walks every entry once.
	var paged []ramp.AuditEntry
	f := ramp.AuditFilter{Limit: 2}
	for {
		page := listAudit(t, s, f)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		f.Before = page[len(page)-1].ID
	}
	if got := actions(paged); !slices.Equal(got, want) {
		t.Errorf("paged entries = %q\nwant %q", got, want)
	}
}

func testAuditTimeFilters(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	for i := range 4 {
		if _, err := s.CreateFlag(ctx, change("alice"), newFlag(fmt.Sprint("f", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct times
	}
	all := listAudit(t, s, ramp.AuditFilter{})
	if len(all) != 4 {
		t.Fatalf("%d entries, want 4", len(all))
	}
	ids := func(es []ramp.AuditEntry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	// all is newest first: all[3] is the oldest.
	mid := all[1].Time
	var since, until []int64
	for _, e := range all {
		if !e.Time.Before(mid) {
			since = append(since, e.ID)
		} else {
			until = append(until, e.ID)
		}
	}
	if got := ids(listAudit(t, s, ramp.AuditFilter{Since: mid})); fmt.Sprint(got) != fmt.Sprint(since) {
		t.Errorf("Since %v (inclusive): %v, want %v", mid, got, since)
	}
	if got := ids(listAudit(t, s, ramp.AuditFilter{Until: mid})); fmt.Sprint(got) != fmt.Sprint(until) {
		t.Errorf("Until %v (exclusive): %v, want %v", mid, got, until)
	}
	if got := ids(listAudit(t, s, ramp.AuditFilter{Since: all[2].Time, Until: all[0].Time})); fmt.Sprint(got) != fmt.Sprint(ids(all[1:3])) {
		t.Errorf("Since %v Until %v: %v, want %v", all[2].Time, all[0].Time, got, ids(all[1:3]))
	}
	if got := listAudit(t, s, ramp.AuditFilter{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("Since an hour ahead: %d entries, want none", len(got))
	}
	if got := listAudit(t, s, ramp.AuditFilter{Until: all[3].Time.Add(-time.Hour)}); len(got) != 0 {
		t.Errorf("Until an hour before the first: %d entries, want none", len(got))
	}
	// A time in another zone selects the same instant.
	loc := time.FixedZone("UTC+5", 5*3600)
	if got := ids(listAudit(t, s, ramp.AuditFilter{Since: mid.In(loc)})); fmt.Sprint(got) != fmt.Sprint(since) {
		t.Errorf("Since %v: %v, want %v", mid.In(loc), got, since)
	}
}

func testAuditChangeOverride(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("checkout"))
	c := ramp.Change{Actor: "oncall", Action: ramp.ActionFlagRollback, Environment: ramp.EnvProduction}
	oneAudit(t, s, wantAudit{
		Actor: "oncall", Action: ramp.ActionFlagRollback, Kind: "flag", Key: "checkout",
		Environment: ramp.EnvProduction, Before: true, After: true,
	}, func() {
		_, err := s.UpdateFlag(ctx, c, "checkout", func(f *ramp.Flag) error {
			f.Environments[ramp.EnvProduction].On = false
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateFlag: %v", err)
		}
	})
	got := listAudit(t, s, ramp.AuditFilter{Kind: "flag", Key: "checkout"})
	if len(got) != 2 || got[1].Action != ramp.ActionFlagCreate || got[0].Action != ramp.ActionFlagRollback {
		t.Errorf("audit of checkout = %+v", got)
	}
}
