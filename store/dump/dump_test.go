package dump_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/pgtest"
	"github.com/ramp-flags/ramp/store/dump"
	"github.com/ramp-flags/ramp/store/postgres"
	"github.com/ramp-flags/ramp/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// store is what these tests need of both stores.
type store interface {
	Export(ctx context.Context) (*dump.Data, error)
	Import(ctx context.Context, d *dump.Data, o dump.Options) error
	CreateSegment(ctx context.Context, c ramp.Change, s *ramp.Segment) (*ramp.Segment, error)
	CreateFlag(ctx context.Context, c ramp.Change, f *ramp.Flag) (*ramp.Flag, error)
	UpdateFlag(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Flag) error) (*ramp.Flag, error)
	CreateToken(ctx context.Context, c ramp.Change, t ramp.Token) (ramp.Token, error)
	RevokeToken(ctx context.Context, c ramp.Change, id string) error
	CreateRollout(ctx context.Context, c ramp.Change, r *ramp.Rollout) (*ramp.Rollout, error)
	UpdateRollout(ctx context.Context, c ramp.Change, id int64, fn func(*ramp.Rollout, *ramp.Flag) (string, error)) (*ramp.Rollout, *ramp.Flag, error)
	AddAnalysis(ctx context.Context, a ramp.Analysis) (ramp.Analysis, error)
	CreateEnvironment(ctx context.Context, c ramp.Change, e ramp.Environment) (ramp.Environment, error)
	SaveBaseline(ctx context.Context, c ramp.Change, b ramp.Baseline) (ramp.Baseline, error)
	Close() error
}

func openSQLite(t *testing.T) store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openPostgres(t *testing.T) store {
	t.Helper()
	st, err := postgres.Open(t.Context(), pgtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func boolFlag(key string) *ramp.Flag {
	return &ramp.Flag{
		Key: key, Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
	}
}

// fill makes a little of everything a dump holds, through the store's
// ordinary methods.
func fill(t *testing.T, st store) {
	t.Helper()
	ctx := t.Context()
	c := ramp.Change{Actor: "tester"}
	if _, err := st.CreateEnvironment(ctx, c, ramp.Environment{Key: "eu", Name: "Europe"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSegment(ctx, c, &ramp.Segment{Key: "beta", Included: []string{"u1", "u2"}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"checkout", "search"} {
		if _, err := st.CreateFlag(ctx, c, boolFlag(key)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := st.UpdateFlag(ctx, c, "checkout", func(f *ramp.Flag) error {
			return f.SetPercentage("production", f.Percentage("production")+10, "on")
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range []string{"tok1", "tok2"} {
		h := make([]byte, 32)
		h[0] = byte(i + 1)
		if _, err := st.CreateToken(ctx, c, ramp.Token{ID: id, Name: id, Kind: ramp.TokenSDK, Environment: "eu", Hash: h}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RevokeToken(ctx, c, "tok2"); err != nil {
		t.Fatal(err)
	}
	r, err := st.CreateRollout(ctx, c, &ramp.Rollout{Flag: "search", Environment: "production", Status: ramp.RolloutPending, Plan: json.RawMessage(`{"stages":[{"percent":5}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.UpdateRollout(ctx, c, r.ID, func(r *ramp.Rollout, f *ramp.Flag) (string, error) {
		r.Status, r.State = ramp.RolloutRunning, json.RawMessage(`{"canary":"on"}`)
		return ramp.ActionRolloutStart, f.SetPercentage("production", 5, "on")
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := st.SaveBaseline(ctx, c, ramp.Baseline{Flag: "checkout", Environment: "production", Source: "sdk", Figures: ramp.Figures{
		Variant: "off", From: now.Add(-time.Hour), To: now, Requests: 3600, Errors: 18, ErrorRate: 0.005, Throughput: 1, P50: 0.02, P90: 0.05, P99: 0.2,
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAnalysis(ctx, ramp.Analysis{RolloutID: r.ID, Time: time.Now(), Decision: "hold", Reason: "too few requests", Verdicts: json.RawMessage(`[]`)}); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTrip copies a store's content from SQLite to Postgres and back
// to a new SQLite file: every export must be the same, IDs, versions,
// salts, hashes and times included.
func TestRoundTrip(t *testing.T) {
	ctx := t.Context()
	src := openSQLite(t)
	fill(t, src)
	want, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := want.Count()
	if c.Environments != 3 || c.Segments != 1 || c.Flags != 2 || c.Tokens != 2 || c.Rollouts != 1 || c.Analyses != 1 || c.Baselines != 1 || c.Audit < 10 {
		t.Fatalf("export counts %+v", c)
	}
	pg := openPostgres(t)
	if err := pg.Import(ctx, want, dump.Options{}); err != nil {
		t.Fatalf("import into Postgres: %v", err)
	}
	got, err := pg.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "sqlite → postgres", want, got)

	back := openSQLite(t)
	if err := back.Import(ctx, got, dump.Options{}); err != nil {
		t.Fatalf("import into SQLite: %v", err)
	}
	again, err := back.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "postgres → sqlite", want, again)

	// New rows continue after the imported IDs in both.
	for name, st := range map[string]store{"postgres": pg, "sqlite": back} {
		r, err := st.CreateRollout(ctx, ramp.Change{Actor: "tester"}, &ramp.Rollout{Flag: "checkout", Environment: "eu", Status: ramp.RolloutPending, Plan: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatalf("%s: a rollout after the import: %v", name, err)
		}
		if r.ID <= want.Rollouts[0].ID {
			t.Errorf("%s: new rollout ID %d, not above the imported %d", name, r.ID, want.Rollouts[0].ID)
		}
		d, err := st.Export(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if last, prev := d.Audit[len(d.Audit)-1].ID, want.Audit[len(want.Audit)-1].ID; last <= prev {
			t.Errorf("%s: new audit ID %d, not above the imported %d", name, last, prev)
		}
	}
}

// TestImportRefusesNonEmpty checks that an import into a store with data
// fails with ECONFLICT and writes nothing, and that Replace replaces.
func TestImportRefusesNonEmpty(t *testing.T) {
	ctx := t.Context()
	src := openSQLite(t)
	fill(t, src)
	d, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(*testing.T) store{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			dst := open(t)
			if _, err := dst.CreateFlag(ctx, ramp.Change{Actor: "x"}, boolFlag("other")); err != nil {
				t.Fatal(err)
			}
			before, err := dst.Export(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = dst.Import(ctx, d, dump.Options{})
			if ramp.ErrorCode(err) != ramp.ECONFLICT {
				t.Fatalf("import into a store with a flag: %v, want ECONFLICT", err)
			}
			after, err := dst.Export(ctx)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "after a refused import", before, after)
			if err := dst.Import(ctx, d, dump.Options{Replace: true}); err != nil {
				t.Fatalf("import with Replace: %v", err)
			}
			got, err := dst.Export(ctx)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, "after a replacing import", d, got)
		})
	}
}

// TestImportInconsistent checks that a dump with a dangling reference is
// refused before anything is written.
func TestImportInconsistent(t *testing.T) {
	d := &dump.Data{
		Environments: []ramp.Environment{{Key: "production"}},
		Rollouts:     []*ramp.Rollout{{ID: 1, Flag: "f", Environment: "nowhere", Status: ramp.RolloutAborted, Plan: json.RawMessage(`{}`), Version: 1}},
	}
	st := openSQLite(t)
	if err := st.Import(t.Context(), d, dump.Options{}); ramp.ErrorCode(err) != ramp.EINVALID {
		t.Fatalf("import of a rollout in an unknown environment: %v, want EINVALID", err)
	}
}

func compare(t *testing.T, what string, want, got *dump.Data) {
	t.Helper()
	if w, g := want.Count(), got.Count(); w != g {
		t.Fatalf("%s: counts %+v, want %+v", what, g, w)
	}
	check := func(kind string, w, g any) {
		t.Helper()
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		if !jsonSame(wj, gj) {
			t.Errorf("%s: %s differ:\n got %s\nwant %s", what, kind, gj, wj)
		}
	}
	check("environments", want.Environments, got.Environments)
	check("segments", want.Segments, got.Segments)
	check("flags", want.Flags, got.Flags)
	check("rollouts", want.Rollouts, got.Rollouts)
	check("analyses", want.Analyses, got.Analyses)
	check("baselines", want.Baselines, got.Baselines)
	check("audit", want.Audit, got.Audit)
	// Hashes are not in the JSON form of a token.
	for i := range want.Tokens {
		w, g := want.Tokens[i], got.Tokens[i]
		if !reflect.DeepEqual(w.Hash, g.Hash) || w.ID != g.ID || !w.RevokedAt.Equal(g.RevokedAt) || !w.CreatedAt.Equal(g.CreatedAt) || w.Kind != g.Kind {
			t.Errorf("%s: token %d: %+v, want %+v", what, i, g, w)
		}
	}
	for i := range want.Flags {
		if want.Flags[i].Salt == "" || want.Flags[i].Salt != got.Flags[i].Salt || want.Flags[i].Version != got.Flags[i].Version {
			t.Errorf("%s: flag %s: salt %q version %d, want %q version %d", what, want.Flags[i].Key, got.Flags[i].Salt, got.Flags[i].Version, want.Flags[i].Salt, want.Flags[i].Version)
		}
	}
}

// jsonSame compares JSON documents by value, so that JSON kept in a
// column compares equal whatever its spacing.
func jsonSame(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
