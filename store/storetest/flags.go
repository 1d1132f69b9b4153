package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

func testFlagCRUD(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()

	flags, err := s.ListFlags(ctx)
	if err != nil || len(flags) != 0 {
		t.Fatalf("ListFlags on an empty store = %v, %v; want none", flags, err)
	}

	start := time.Now()
	var created *ramp.Flag
	e := oneAudit(t, s, wantAudit{Actor: "alice", Action: ramp.ActionFlagCreate, Kind: "flag", Key: "checkout", After: true}, func() {
		created = mustCreateFlag(t, s, newFlag("checkout"))
	})
	if created.Version != 1 {
		t.Errorf("created version = %d, want 1", created.Version)
	}
	if created.Salt == "" {
		t.Error("created flag has no salt")
	}
	if created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Errorf("created at %v, updated at %v; want equal and set", created.CreatedAt, created.UpdatedAt)
	}
	if d := created.CreatedAt.Sub(start); d < -time.Minute || d > time.Minute {
		t.Errorf("created at %v, not about now (%v)", created.CreatedAt, start)
	}
	// Normalized: a state, off, in every environment.
	for _, env := range []string{ramp.EnvProduction, ramp.EnvStaging} {
		fe := created.Environments[env]
		if fe == nil {
			t.Fatalf("created flag has no state in %s: %+v", env, created.Environments)
		}
		if fe.On || fe.OffVariant != "off" || fe.Fallthrough.Variant != "off" {
			t.Errorf("state in %s = %+v, want off, serving off", env, fe)
		}
	}
	if after := auditFlag(t, e.After); after.Key != "checkout" || after.Version != 1 || after.Salt != created.Salt {
		t.Errorf("audit after = %+v, want the created flag", after)
	}

	got := mustGetFlag(t, s, "checkout")
	sameFlag(t, got, created)

	mustCreateFlag(t, s, newFlag("alpha"))
	mustCreateFlag(t, s, newFlag("zeta"))
	flags, err = s.ListFlags(ctx)
	if err != nil {
		t.Fatalf("ListFlags: %v", err)
	}
	var keys []string
	for _, f := range flags {
		keys = append(keys, f.Key)
	}
	if !slices.Equal(keys, []string{"alpha", "checkout", "zeta"}) {
		t.Errorf("ListFlags keys = %v, want sorted alpha, checkout, zeta", keys)
	}
	sameFlag(t, flags[1], created)

	time.Sleep(time.Millisecond)
	var updated *ramp.Flag
	e = oneAudit(t, s, wantAudit{Actor: "bob", Action: ramp.ActionFlagUpdate, Kind: "flag", Key: "checkout", Before: true, After: true}, func() {
		updated, err = s.UpdateFlag(ctx, change("bob"), "checkout", func(f *ramp.Flag) error {
			f.Description = "new checkout"
			f.Tags = append(f.Tags, "payments")
			f.Environments[ramp.EnvStaging].On = true
			f.Environments[ramp.EnvStaging].Fallthrough = ramp.Serve{Split: []ramp.Allocation{
				{Variant: "on", Percent: 12.5}, {Variant: "off", Percent: 87.5},
			}}
			return nil
		})
		if err != nil {
			t.Fatalf("UpdateFlag: %v", err)
		}
	})
	if updated.Version != 2 || updated.Description != "new checkout" || updated.Salt != created.Salt {
		t.Errorf("updated = version %d, description %q, salt %q; want 2, new checkout, %q",
			updated.Version, updated.Description, updated.Salt, created.Salt)
	}
	if !updated.CreatedAt.Equal(created.CreatedAt) || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Errorf("updated: created %v updated %v; want created %v and a later update", updated.CreatedAt, updated.UpdatedAt, created.CreatedAt)
	}
	if p := updated.Percentage(ramp.EnvStaging); p != 12.5 {
		t.Errorf("staging percentage = %v, want 12.5", p)
	}
	if b, a := auditFlag(t, e.Before), auditFlag(t, e.After); b.Version != 1 || b.Description == "new checkout" || a.Version != 2 || a.Description != "new checkout" {
		t.Errorf("audit before version %d %q, after version %d %q", b.Version, b.Description, a.Version, a.Description)
	}
	sameFlag(t, mustGetFlag(t, s, "checkout"), updated)

	e = oneAudit(t, s, wantAudit{Actor: "carol", Action: ramp.ActionFlagDelete, Kind: "flag", Key: "checkout", Before: true}, func() {
		if err := s.DeleteFlag(ctx, change("carol"), "checkout"); err != nil {
			t.Fatalf("DeleteFlag: %v", err)
		}
	})
	if b := auditFlag(t, e.Before); b.Version != 2 {
		t.Errorf("delete audit before has version %d, want 2", b.Version)
	}
	_, err = s.GetFlag(ctx, "checkout")
	wantCode(t, err, ramp.ENOTFOUND)
	flags, _ = s.ListFlags(ctx)
	if len(flags) != 2 {
		t.Errorf("after delete, %d flags, want 2", len(flags))
	}

	noAudit(t, s, "failed calls", func() {
		_, err = s.CreateFlag(ctx, change("alice"), newFlag("alpha"))
		wantCode(t, err, ramp.ECONFLICT)
		_, err = s.UpdateFlag(ctx, change("alice"), "checkout", func(*ramp.Flag) error { return nil })
		wantCode(t, err, ramp.ENOTFOUND)
		wantCode(t, s.DeleteFlag(ctx, change("alice"), "checkout"), ramp.ENOTFOUND)
		_, err = s.GetFlag(ctx, "missing")
		wantCode(t, err, ramp.ENOTFOUND)
	})

	// A deleted key can be created again, from version 1.
	again := mustCreateFlag(t, s, newFlag("checkout"))
	if again.Version != 1 {
		t.Errorf("recreated flag version = %d, want 1", again.Version)
	}
}

func testFlagCreateKeepsInput(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	in := newFlag("salted")
	in.Salt = "fixed-salt"
	in.Version = 42
	in.Environments = map[string]*ramp.FlagEnv{
		ramp.EnvProduction: {On: true, Fallthrough: ramp.Serve{Variant: "on"}},
	}
	before := jsonString(t, in)
	got := mustCreateFlag(t, s, in)
	if jsonString(t, in) != before {
		t.Errorf("CreateFlag changed its argument:\n got %s\nwant %s", jsonString(t, in), before)
	}
	if got.Salt != "fixed-salt" {
		t.Errorf("salt = %q, want the given one kept", got.Salt)
	}
	if got.Version != 1 {
		t.Errorf("version = %d, want 1 whatever the input said", got.Version)
	}
	if fe := got.Environments[ramp.EnvProduction]; !fe.On || fe.Fallthrough.Variant != "on" || fe.OffVariant != "off" {
		t.Errorf("production = %+v, want on, serving on, off variant filled in", fe)
	}
	if got.Environments[ramp.EnvStaging] == nil {
		t.Error("staging state not filled in")
	}
}

func testFlagUpdateRules(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	created := mustCreateFlag(t, s, newFlag("rules"))

	// fn sees the stored flag, and a copy of it.
	var seen *ramp.Flag
	_, err := s.UpdateFlag(ctx, change("bob"), "rules", func(f *ramp.Flag) error {
		seen = f
		if f.Version != 1 || f.Salt != created.Salt || f.Environments[ramp.EnvProduction] == nil {
			t.Errorf("fn got %+v, want the stored flag", f)
		}
		f.Salt = "" // blanked: kept
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFlag: %v", err)
	}
	if got := mustGetFlag(t, s, "rules"); got.Salt != created.Salt || got.Version != 2 {
		t.Errorf("after blanking the salt: salt %q version %d, want %q 2", got.Salt, got.Version, created.Salt)
	}
	seen.Description = "changed after the update returned"
	if got := mustGetFlag(t, s, "rules"); got.Description == seen.Description {
		t.Error("a change to fn's flag after the update reached the store")
	}

	// fn may not set the version or the timestamps.
	got, err := s.UpdateFlag(ctx, change("bob"), "rules", func(f *ramp.Flag) error {
		f.Version = 99
		f.CreatedAt = time.Unix(0, 0)
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFlag: %v", err)
	}
	if got.Version != 3 || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("version %d created %v, want 3 and %v", got.Version, got.CreatedAt, created.CreatedAt)
	}

	noAudit(t, s, "rejected updates", func() {
		_, err := s.UpdateFlag(ctx, change("bob"), "rules", func(f *ramp.Flag) error {
			f.Key = "renamed"
			return nil
		})
		e := wantCode(t, err, ramp.EINVALID)
		if len(e.Fields) == 0 || e.Fields[0].Field != "key" {
			t.Errorf("renaming: fields = %+v, want one on key", e.Fields)
		}

		sentinel := errors.New("not today")
		_, err = s.UpdateFlag(ctx, change("bob"), "rules", func(f *ramp.Flag) error {
			f.Description = "half done"
			return sentinel
		})
		if err != sentinel {
			t.Errorf("fn's error came back as %v (%T), want it unchanged", err, err)
		}
		appErr := ramp.Errorf(ramp.EINVALID, "percentage is required")
		_, err = s.UpdateFlag(ctx, change("bob"), "rules", func(f *ramp.Flag) error { return appErr })
		if err != error(appErr) {
			t.Errorf("fn's *ramp.Error came back as %v, want it unchanged", err)
		}
	})
	if got := mustGetFlag(t, s, "rules"); got.Version != 3 || got.Description == "half done" {
		t.Errorf("after rejected updates: version %d description %q, want 3 unchanged", got.Version, got.Description)
	}

	// A rule's state round-trips.
	_, err = s.UpdateFlag(ctx, change("bob"), "rules", func(f *ramp.Flag) error {
		f.Environments[ramp.EnvProduction] = &ramp.FlagEnv{
			On: true,
			Rules: []ramp.Rule{{
				ID:      "beta",
				Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@example.com"}}},
				Serve:   ramp.Serve{Variant: "on"},
			}},
			Fallthrough: ramp.Serve{Split: []ramp.Allocation{{Variant: "on", Percent: 0.001}, {Variant: "off", Percent: 99.999}}, BucketBy: "accountId"},
		}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFlag with rules: %v", err)
	}
	fe := mustGetFlag(t, s, "rules").Environments[ramp.EnvProduction]
	if len(fe.Rules) != 1 || fe.Rules[0].ID != "beta" || fe.Fallthrough.BucketBy != "accountId" || fe.OffVariant != "off" ||
		fe.Fallthrough.Split[0].Percent != 0.001 {
		t.Errorf("production after update = %+v", fe)
	}
}

func testFlagVersions(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("v"))
	bump := func(c ramp.Change) (*ramp.Flag, error) {
		return s.UpdateFlag(ctx, c, "v", func(f *ramp.Flag) error {
			f.Tags = append(f.Tags, fmt.Sprint("t", len(f.Tags)))
			return nil
		})
	}
	for want := int64(2); want <= 4; want++ {
		c := change("bob")
		c.IfVersion = want - 1
		f, err := bump(c)
		if err != nil {
			t.Fatalf("update with IfVersion %d: %v", c.IfVersion, err)
		}
		if f.Version != want {
			t.Fatalf("version = %d, want %d", f.Version, want)
		}
	}
	noAudit(t, s, "stale writes", func() {
		for _, stale := range []int64{1, 3, 5} {
			_, err := bump(ramp.Change{Actor: "bob", IfVersion: stale})
			e := wantCode(t, err, ramp.ECONFLICT)
			if e.Version != 4 {
				t.Errorf("stale IfVersion %d: conflict version = %d, want 4", stale, e.Version)
			}
			if !strings.Contains(e.Message, "version is 4") {
				t.Errorf("stale IfVersion %d: message %q does not give the version", stale, e.Message)
			}
		}
		e := wantCode(t, s.DeleteFlag(ctx, ramp.Change{Actor: "bob", IfVersion: 3}, "v"), ramp.ECONFLICT)
		if e.Version != 4 {
			t.Errorf("stale delete: conflict version = %d, want 4", e.Version)
		}
	})
	if got := mustGetFlag(t, s, "v"); got.Version != 4 || len(got.Tags) != 3 {
		t.Errorf("after stale writes: version %d tags %v, want 4 and 3 tags", got.Version, got.Tags)
	}
	// Without IfVersion the write is unconditional.
	if f, err := bump(change("bob")); err != nil || f.Version != 5 {
		t.Fatalf("unconditional update = %v, %v; want version 5", f, err)
	}
	if err := s.DeleteFlag(ctx, ramp.Change{Actor: "bob", IfVersion: 5}, "v"); err != nil {
		t.Fatalf("delete with the current version: %v", err)
	}
}

// testFlagConcurrentUpdates runs read-modify-write updates from many
// goroutines at once; the store must serialize them so none is lost.
func testFlagConcurrentUpdates(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("counter"))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateFlag(ctx, change(fmt.Sprint("worker-", i)), "counter", func(f *ramp.Flag) error {
				count, _ := strconv.Atoi(f.Description)
				f.Description = strconv.Itoa(count + 1)
				f.Tags = append(f.Tags, fmt.Sprint("g", i))
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("UpdateFlag: %v", err)
		}
	}
	f := mustGetFlag(t, s, "counter")
	if f.Description != strconv.Itoa(n) || len(f.Tags) != n || f.Version != n+1 {
		t.Errorf("after %d concurrent increments: counter %s, %d tags, version %d; want %d, %d, %d",
			n, f.Description, len(f.Tags), f.Version, n, n, n+1)
	}
	tags := slices.Clone(f.Tags)
	slices.Sort(tags)
	if len(slices.Compact(tags)) != n {
		t.Errorf("tags %v are not %d distinct ones", f.Tags, n)
	}
	if got := listAudit(t, s, ramp.AuditFilter{Kind: "flag", Key: "counter", Limit: 1000}); len(got) != n+1 {
		t.Errorf("%d audit entries for counter, want %d", len(got), n+1)
	}
}

// testFlagConcurrentOptimistic has many goroutines read the flag, then write
// with IfVersion and retry on a conflict, as API clients with ETags do.
func testFlagConcurrentOptimistic(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("etag"))
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for i := range n {
		wg.Go(func() {
			for attempt := 0; ; attempt++ {
				if attempt > 10*n {
					t.Errorf("worker %d: no success after %d attempts", i, attempt)
					return
				}
				f, err := s.GetFlag(ctx, "etag")
				if err != nil {
					t.Errorf("GetFlag: %v", err)
					return
				}
				count, _ := strconv.Atoi(f.Description)
				next := strconv.Itoa(count + 1)
				_, err = s.UpdateFlag(ctx, ramp.Change{Actor: "worker", IfVersion: f.Version}, "etag", func(f *ramp.Flag) error {
					f.Description = next // computed from the read, not from fn's flag
					return nil
				})
				if ramp.ErrorCode(err) == ramp.ECONFLICT {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					t.Errorf("UpdateFlag: %v", err)
				}
				return
			}
		})
	}
	wg.Wait()
	f := mustGetFlag(t, s, "etag")
	if f.Description != strconv.Itoa(n) || f.Version != n+1 {
		t.Errorf("after %d optimistic increments (%d conflicts): counter %s version %d; want %d, %d",
			n, conflicts, f.Description, f.Version, n, n+1)
	}
}

func testFlagValidationChangesNothing(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	good := mustCreateFlag(t, s, newFlag("good"))

	noAudit(t, s, "invalid changes", func() {
		bad := newFlag("bad")
		bad.Environments = map[string]*ramp.FlagEnv{ramp.EnvProduction: {On: true, Fallthrough: ramp.Serve{Split: []ramp.Allocation{
			{Variant: "on", Percent: 5}, {Variant: "off", Percent: 90},
		}}}}
		_, err := s.CreateFlag(ctx, change("alice"), bad)
		e := wantCode(t, err, ramp.EINVALID)
		if !hasField(e, "environments.production.fallthrough.split") {
			t.Errorf("fields = %+v, want one on the split", e.Fields)
		}
		_, err = s.GetFlag(ctx, "bad")
		wantCode(t, err, ramp.ENOTFOUND)

		for name, f := range map[string]*ramp.Flag{
			"bad key":          newFlag("Bad Key"),
			"no variants":      func() *ramp.Flag { f := newFlag("novariants"); f.Variants = nil; return f }(),
			"wrong value type": func() *ramp.Flag { f := newFlag("wrongtype"); f.Type = ramp.TypeNumber; return f }(),
			"unknown environment": func() *ramp.Flag {
				f := newFlag("unknownenv")
				f.Environments = map[string]*ramp.FlagEnv{"mars": {}}
				return f
			}(),
		} {
			_, err := s.CreateFlag(ctx, change("alice"), f)
			if e := wantCode(t, err, ramp.EINVALID); len(e.Fields) == 0 {
				t.Errorf("%s: no field errors", name)
			}
		}

		_, err = s.UpdateFlag(ctx, change("bob"), "good", func(f *ramp.Flag) error {
			f.Description = "should not stick"
			f.DefaultVariant = "maybe"
			return nil
		})
		e = wantCode(t, err, ramp.EINVALID)
		if !hasField(e, "defaultVariant") {
			t.Errorf("fields = %+v, want one on defaultVariant", e.Fields)
		}
		_, err = s.UpdateFlag(ctx, change("bob"), "good", func(f *ramp.Flag) error {
			f.Environments["mars"] = &ramp.FlagEnv{Fallthrough: ramp.Serve{Variant: "on"}}
			return nil
		})
		wantCode(t, err, ramp.EINVALID)
	})
	flags, err := s.ListFlags(ctx)
	if err != nil || len(flags) != 1 {
		t.Fatalf("ListFlags = %d flags, %v; want only good", len(flags), err)
	}
	sameFlag(t, flags[0], good)
}

func testFlagUnknownSegment(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	noAudit(t, s, "flags naming a missing segment", func() {
		f := newFlag("segmented")
		f.Environments = map[string]*ramp.FlagEnv{ramp.EnvProduction: {
			On: true, Rules: []ramp.Rule{segmentRule("ghosts")}, Fallthrough: ramp.Serve{Variant: "off"},
		}}
		_, err := s.CreateFlag(ctx, change("alice"), f)
		e := wantCode(t, err, ramp.EINVALID)
		if !hasField(e, "environments.production.rules[0].clauses[0].values[0]") {
			t.Errorf("fields = %+v, want one on the segment value", e.Fields)
		}
	})
	mustCreateFlag(t, s, newFlag("plain"))
	_, err := s.UpdateFlag(ctx, change("bob"), "plain", func(f *ramp.Flag) error {
		f.Environments[ramp.EnvStaging].Rules = []ramp.Rule{segmentRule("ghosts")}
		return nil
	})
	wantCode(t, err, ramp.EINVALID)

	// Once the segment exists, the same reference is accepted.
	mustCreateSegment(t, s, newSegment("ghosts"))
	f, err := s.UpdateFlag(ctx, change("bob"), "plain", func(f *ramp.Flag) error {
		f.Environments[ramp.EnvStaging].Rules = []ramp.Rule{segmentRule("ghosts")}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateFlag naming an existing segment: %v", err)
	}
	if refs := f.SegmentRefs(); !slices.Equal(refs, []string{"ghosts"}) {
		t.Errorf("SegmentRefs = %v", refs)
	}
}

func hasField(e *ramp.Error, field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}
