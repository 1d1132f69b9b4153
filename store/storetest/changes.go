package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ramp-flags/ramp"
)

// testChangeFeed checks the change feed the server's snapshots follow: every
// committed change appears once, in commit order, and paging by the last ID
// seen misses nothing.
func testChangeFeed(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	start, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	if len(start) > 0 {
		last = start[len(start)-1].ID
	}
	c := ramp.Change{Actor: "feed"}
	for i := range 5 {
		if _, err := s.CreateFlag(ctx, c, newFlag(fmt.Sprintf("feed-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateFlag(ctx, ramp.Change{Actor: "feed", Action: ramp.ActionFlagRollback, Environment: "production"}, "feed-2", func(f *ramp.Flag) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFlag(ctx, c, "feed-4"); err != nil {
		t.Fatal(err)
	}

	var got []string
	after := last
	for {
		page, err := s.Changes(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("Changes(limit 2) returned %d entries", len(page))
		}
		for _, e := range page {
			if e.ID <= after {
				t.Fatalf("change %d after %d: not in ID order", e.ID, after)
			}
			after = e.ID
			got = append(got, e.Action+" "+e.Key+" "+e.Environment)
		}
	}
	want := []string{
		"flag.create feed-0 ", "flag.create feed-1 ", "flag.create feed-2 ", "flag.create feed-3 ", "flag.create feed-4 ",
		"flag.rollback feed-2 production", "flag.delete feed-4 ",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("change feed:\n got %q\nwant %q", got, want)
	}
}
