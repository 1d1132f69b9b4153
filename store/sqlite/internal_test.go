package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

func TestTranslateConstraint(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.w.ExecContext(t.Context(), "INSERT INTO environments (key, created_at) VALUES ('production', 'x')")
	if err == nil {
		t.Fatal("duplicate insert succeeded")
	}
	got := translate("create environment", err)
	if ramp.ErrorCode(got) != ramp.ECONFLICT {
		t.Fatalf("translate(%v) = %v, want a conflict", err, got)
	}
	msg := ramp.ErrorMessage(got)
	for _, leak := range []string{"INSERT", "UNIQUE", "environments", "constraint"} {
		if strings.Contains(msg, leak) {
			t.Errorf("message %q leaks %q", msg, leak)
		}
	}
	if !strings.Contains(got.Error(), "UNIQUE") {
		t.Errorf("the driver error is not kept for the log: %v", got)
	}
}

func TestTranslate(t *testing.T) {
	appErr := ramp.Errorf(ramp.ENOTFOUND, "flag %q does not exist", "x")
	if got := translate("get flag", appErr); got != error(appErr) {
		t.Errorf("translate(*ramp.Error) = %v, want it unchanged", got)
	}
	plain := fmt.Errorf("boom")
	if got := translate("get flag", storecore.FnError{Err: plain}); got != plain {
		t.Errorf("translate(fnError) = %v, want fn's error unchanged", got)
	}
	if got := translate("get flag", plain); ramp.ErrorCode(got) != ramp.EINTERNAL || ramp.ErrorMessage(got) != "internal error" {
		t.Errorf("translate(other) = %v (%s), want internal", got, ramp.ErrorCode(got))
	}
	if got := translate("x", nil); got != nil {
		t.Errorf("translate(nil) = %v", got)
	}
}

// seedFlags stores n flags in one transaction, much faster than n calls to
// CreateFlag, each of which syncs the disk.
func seedFlags(tb testing.TB, s *Store, n int) {
	tb.Helper()
	err := s.write(context.Background(), func(tx *sql.Tx, now time.Time) error {
		stmt, err := tx.Prepare("INSERT INTO flags (key, version, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range n {
			f := benchFlag(fmt.Sprintf("flag-%05d", i))
			f.Version, f.CreatedAt, f.UpdatedAt = 1, now, now
			data, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if _, err := stmt.Exec(f.Key, 1, string(data), formatTime(now), formatTime(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("seed flags: %v", err)
	}
}

// benchFlag is a flag of typical size: a rollout in production, a rule in
// staging.
func benchFlag(key string) *ramp.Flag {
	f := &ramp.Flag{
		Key: key, Name: "Flag " + key, Description: "A flag of typical size for the benchmark.",
		Owner: "team-checkout", Tags: []string{"checkout", "q3"},
		Type: ramp.TypeBoolean,
		Variants: []ramp.Variant{
			{Key: "off", Value: json.RawMessage(`false`)},
			{Key: "on", Value: json.RawMessage(`true`)},
		},
		DefaultVariant: "off",
		Salt:           ramp.NewSalt(),
		Environments: map[string]*ramp.FlagEnv{
			ramp.EnvProduction: {On: true, OffVariant: "off", Fallthrough: ramp.Serve{Split: []ramp.Allocation{
				{Variant: "on", Percent: 5}, {Variant: "off", Percent: 95},
			}}},
			ramp.EnvStaging: {On: true, OffVariant: "off", Rules: []ramp.Rule{{
				ID:      "employees",
				Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@example.com"}}},
				Serve:   ramp.Serve{Variant: "on"},
			}}, Fallthrough: ramp.Serve{Variant: "off"}},
		},
	}
	return f
}

func TestSeededFlagsAreValid(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seedFlags(t, s, 3)
	flags, err := s.ListFlags(t.Context())
	if err != nil || len(flags) != 3 {
		t.Fatalf("ListFlags = %d, %v", len(flags), err)
	}
	for _, f := range flags {
		if err := f.Validate(ramp.Scope{Environments: []string{ramp.EnvProduction, ramp.EnvStaging}}); err != nil {
			t.Errorf("seeded flag %s: %v", f.Key, err)
		}
	}
	// An environment added to many flags bumps every one.
	if _, err := s.CreateEnvironment(t.Context(), ramp.Change{Actor: "alice"}, ramp.Environment{Key: "qa"}); err != nil {
		t.Fatal(err)
	}
	flags, _ = s.ListFlags(t.Context())
	for _, f := range flags {
		if f.Version != 2 || f.Environments["qa"] == nil {
			t.Errorf("flag %s: version %d, qa %v", f.Key, f.Version, f.Environments["qa"])
		}
	}
}

func BenchmarkListFlags10k(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "ramp.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	seedFlags(b, s, n)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		flags, err := s.ListFlags(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(flags) != n {
			b.Fatalf("%d flags, want %d", len(flags), n)
		}
	}
}

// BenchmarkEnvironment10k creates and deletes an environment among 10,000
// flags: each rewrites every flag.
func BenchmarkEnvironment10k(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "ramp.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seedFlags(b, s, 10000)
	ctx := context.Background()
	c := ramp.Change{Actor: "bench"}
	for b.Loop() {
		if _, err := s.CreateEnvironment(ctx, c, ramp.Environment{Key: "qa"}); err != nil {
			b.Fatal(err)
		}
		if err := s.DeleteEnvironment(ctx, c, "qa"); err != nil {
			b.Fatal(err)
		}
	}
}
