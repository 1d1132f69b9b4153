// Package storetest is the contract every ramp store passes: one suite of
// tests, run against each storage driver, so that the SQLite and Postgres
// stores cannot drift apart.
//
// A store's tests call Run with a function that opens the store on a fresh,
// empty database:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite uses nothing but the Store interface, so it runs unchanged
// against any driver.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// Store is the storage interface under test. It has the method set of the
// admin API's store, declared here so that the suite depends on no server
// package.
type Store interface {
	Ping(ctx context.Context) error
	MigrationStatus(ctx context.Context) (current, latest int, err error)

	ListEnvironments(ctx context.Context) ([]ramp.Environment, error)
	CreateEnvironment(ctx context.Context, c ramp.Change, e ramp.Environment) (ramp.Environment, error)
	DeleteEnvironment(ctx context.Context, c ramp.Change, key string) error

	ListFlags(ctx context.Context) ([]*ramp.Flag, error)
	GetFlag(ctx context.Context, key string) (*ramp.Flag, error)
	CreateFlag(ctx context.Context, c ramp.Change, f *ramp.Flag) (*ramp.Flag, error)
	UpdateFlag(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Flag) error) (*ramp.Flag, error)
	DeleteFlag(ctx context.Context, c ramp.Change, key string) error

	ListSegments(ctx context.Context) ([]*ramp.Segment, error)
	GetSegment(ctx context.Context, key string) (*ramp.Segment, error)
	CreateSegment(ctx context.Context, c ramp.Change, s *ramp.Segment) (*ramp.Segment, error)
	UpdateSegment(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Segment) error) (*ramp.Segment, error)
	DeleteSegment(ctx context.Context, c ramp.Change, key string) error

	CreateToken(ctx context.Context, c ramp.Change, t ramp.Token) (ramp.Token, error)
	GetToken(ctx context.Context, id string) (ramp.Token, error)
	ListTokens(ctx context.Context) ([]ramp.Token, error)
	RevokeToken(ctx context.Context, c ramp.Change, id string) error

	ListAudit(ctx context.Context, f ramp.AuditFilter) ([]ramp.AuditEntry, error)
	// Changes returns audit entries with an ID above after, oldest first.
	Changes(ctx context.Context, after int64, limit int) ([]ramp.AuditEntry, error)

	CreateRollout(ctx context.Context, c ramp.Change, r *ramp.Rollout) (*ramp.Rollout, error)
	GetRollout(ctx context.Context, id int64) (*ramp.Rollout, error)
	ListRollouts(ctx context.Context, f ramp.RolloutFilter) ([]*ramp.Rollout, error)
	UpdateRollout(ctx context.Context, c ramp.Change, id int64, fn func(*ramp.Rollout, *ramp.Flag) (string, error)) (*ramp.Rollout, *ramp.Flag, error)
	AddAnalysis(ctx context.Context, a ramp.Analysis) (ramp.Analysis, error)
	ListAnalyses(ctx context.Context, rolloutID int64, limit int) ([]ramp.Analysis, error)

	AddCounts(ctx context.Context, env string, at time.Time, counts []ramp.Counts) error
	SumCounts(ctx context.Context, flag, env, variant string, from, to time.Time) (ramp.Counts, error)
	PruneCounts(ctx context.Context, before time.Time) (int64, error)
}

// Option configures Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, s Store) Store
}

// WithReopen enables the subtest that closes a store and opens it again on
// the same database: reopen must close s and return a new store on s's
// database. Without it that subtest is skipped.
func WithReopen(reopen func(t *testing.T, s Store) Store) Option {
	return func(c *config) { c.reopen = reopen }
}

// Run runs the contract suite. open must return a store on a fresh, empty
// database (migrated, so holding only the environments production and
// staging) and arrange for it to be closed when t ends.
func Run(t *testing.T, open func(t *testing.T) Store, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Store)
	}{
		{"Migrations", testMigrations},
		{"FlagCRUD", testFlagCRUD},
		{"FlagCreateKeepsInput", testFlagCreateKeepsInput},
		{"FlagUpdateRules", testFlagUpdateRules},
		{"FlagVersions", testFlagVersions},
		{"FlagConcurrentUpdates", testFlagConcurrentUpdates},
		{"FlagConcurrentOptimistic", testFlagConcurrentOptimistic},
		{"FlagValidationChangesNothing", testFlagValidationChangesNothing},
		{"FlagUnknownSegment", testFlagUnknownSegment},
		{"SegmentCRUD", testSegmentCRUD},
		{"SegmentInUse", testSegmentInUse},
		{"Environments", testEnvironments},
		{"EnvironmentPropagation", testEnvironmentPropagation},
		{"EnvironmentWithTokens", testEnvironmentWithTokens},
		{"Tokens", testTokens},
		{"TokenValidation", testTokenValidation},
		{"AuditOrderAndFilters", testAuditOrderAndFilters},
		{"AuditTimeFilters", testAuditTimeFilters},
		{"AuditChangeOverride", testAuditChangeOverride},
		{"ChangeFeed", testChangeFeed},
		{"Rollouts", testRollouts},
		{"RolloutKillSwitch", testRolloutKillSwitch},
		{"Analyses", testAnalyses},
		{"CountsAddAndSum", testCountsAddAndSum},
		{"CountsWithoutLatency", testCountsWithoutLatency},
		{"CountsZeroTime", testCountsZeroTime},
		{"CountsValidation", testCountsValidation},
		{"CountsAreNotChanges", testCountsAreNotChanges},
		{"CountsPrune", testCountsPrune},
		{"CountsConcurrent", testCountsConcurrent},
		{"CountsEveryBucket", testCountsEveryBucket},
		{"Leases", testLeases}, {"LeaseExpiry", testLeaseExpiry}, {"LeaseConcurrent", testLeaseConcurrent}, {"LeaseValidation", testLeaseValidation},
		{"Baselines", testBaselines},
		{"BaselineValidation", testBaselineValidation},
		{"BaselineGoesWithFlag", testBaselineGoesWithFlag},
		{"BaselineConcurrent", testBaselineConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
	t.Run("Reopen", func(t *testing.T) {
		if cfg.reopen == nil {
			t.Skip("the store gave no reopen function")
		}
		testReopen(t, open, cfg.reopen)
	})
}

func testMigrations(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	current, latest, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if latest < 1 || current != latest {
		t.Errorf("MigrationStatus = %d, %d; want current = latest >= 1", current, latest)
	}
}

func testReopen(t *testing.T, open func(t *testing.T) Store, reopen func(t *testing.T, s Store) Store) {
	s := open(t)
	ctx := t.Context()
	f := mustCreateFlag(t, s, newFlag("kept"))
	seg := mustCreateSegment(t, s, newSegment("beta"))
	_, id, hash := ramp.NewToken(ramp.TokenAdmin)
	if _, err := s.CreateToken(ctx, change("alice"), ramp.Token{ID: id, Name: "ops", Kind: ramp.TokenAdmin, Hash: hash}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if _, err := s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa"}); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	f, err := s.GetFlag(ctx, f.Key)
	if err != nil {
		t.Fatalf("GetFlag: %v", err)
	}
	audit := listAudit(t, s, ramp.AuditFilter{Limit: 1000})

	s = reopen(t, s)
	current, latest, err := s.MigrationStatus(ctx)
	if err != nil || current != latest {
		t.Errorf("after reopen: MigrationStatus = %d, %d, %v; want equal", current, latest, err)
	}
	got, err := s.GetFlag(ctx, f.Key)
	if err != nil {
		t.Fatalf("after reopen: GetFlag: %v", err)
	}
	sameFlag(t, got, f)
	gotSeg, err := s.GetSegment(ctx, seg.Key)
	if err != nil {
		t.Fatalf("after reopen: GetSegment: %v", err)
	}
	if gotSeg.Version != seg.Version || !gotSeg.CreatedAt.Equal(seg.CreatedAt) {
		t.Errorf("after reopen: segment = %+v, want %+v", gotSeg, seg)
	}
	tok, err := s.GetToken(ctx, id)
	if err != nil {
		t.Fatalf("after reopen: GetToken: %v", err)
	}
	if !ramp.HashEqual(tok.Hash, hash) {
		t.Errorf("after reopen: token hash changed")
	}
	if envs := envKeys(t, s); !slices.Equal(envs, []string{"production", "qa", "staging"}) {
		t.Errorf("after reopen: environments = %v", envs)
	}
	if got := listAudit(t, s, ramp.AuditFilter{Limit: 1000}); len(got) != len(audit) {
		t.Errorf("after reopen: %d audit entries, want %d", len(got), len(audit))
	}
	// The reopened store takes writes.
	if _, err := s.UpdateFlag(ctx, change("bob"), f.Key, func(f *ramp.Flag) error { f.Name = "still here"; return nil }); err != nil {
		t.Fatalf("after reopen: UpdateFlag: %v", err)
	}
}

// change returns a change by actor with no condition.
func change(actor string) ramp.Change { return ramp.Change{Actor: actor} }

// newFlag returns a valid boolean flag with variants off (the default) and on.
func newFlag(key string) *ramp.Flag {
	return &ramp.Flag{
		Key:         key,
		Name:        "Flag " + key,
		Description: "made by the store contract suite",
		Type:        ramp.TypeBoolean,
		Variants: []ramp.Variant{
			{Key: "off", Value: json.RawMessage(`false`)},
			{Key: "on", Value: json.RawMessage(`true`)},
		},
		DefaultVariant: "off",
	}
}

// newSegment returns a valid segment.
func newSegment(key string) *ramp.Segment {
	return &ramp.Segment{
		Key:      key,
		Name:     "Segment " + key,
		Included: []string{"user-1", "user-2"},
		Rules: []ramp.SegmentRule{{Clauses: []ramp.Clause{
			{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@example.com"}},
		}}},
	}
}

// segmentRule returns a rule that serves on to the members of segment.
func segmentRule(segment string) ramp.Rule {
	return ramp.Rule{
		ID:      "in-" + segment,
		Clauses: []ramp.Clause{{Op: ramp.OpInSegment, Values: []string{segment}}},
		Serve:   ramp.Serve{Variant: "on"},
	}
}

func mustCreateFlag(t *testing.T, s Store, f *ramp.Flag) *ramp.Flag {
	t.Helper()
	got, err := s.CreateFlag(t.Context(), change("alice"), f)
	if err != nil {
		t.Fatalf("CreateFlag(%s): %v", f.Key, err)
	}
	return got
}

func mustCreateSegment(t *testing.T, s Store, seg *ramp.Segment) *ramp.Segment {
	t.Helper()
	got, err := s.CreateSegment(t.Context(), change("alice"), seg)
	if err != nil {
		t.Fatalf("CreateSegment(%s): %v", seg.Key, err)
	}
	return got
}

func mustGetFlag(t *testing.T, s Store, key string) *ramp.Flag {
	t.Helper()
	f, err := s.GetFlag(t.Context(), key)
	if err != nil {
		t.Fatalf("GetFlag(%s): %v", key, err)
	}
	return f
}

// wantCode fails the test unless err is a *ramp.Error with the code, and
// returns it.
func wantCode(t *testing.T, err error, code string) *ramp.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want code %s", code)
	}
	var e *ramp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *ramp.Error; want code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%v), want %s", e.Code, err, code)
	}
	if e.Message == "" {
		t.Errorf("error %v has no message", err)
	}
	return e
}

// sameFlag fails the test unless the flags are equal, compared as JSON (so
// that equal times in different locations compare equal) plus version and
// times.
func sameFlag(t *testing.T, got, want *ramp.Flag) {
	t.Helper()
	if got.Version != want.Version || !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("flag %s: version %d, created %v, updated %v; want %d, %v, %v",
			got.Key, got.Version, got.CreatedAt, got.UpdatedAt, want.Version, want.CreatedAt, want.UpdatedAt)
	}
	if g, w := jsonString(t, got), jsonString(t, want); g != w {
		t.Errorf("flag %s:\n got %s\nwant %s", got.Key, g, w)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func envKeys(t *testing.T, s Store) []string {
	t.Helper()
	envs, err := s.ListEnvironments(t.Context())
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	keys := make([]string, len(envs))
	for i, e := range envs {
		keys[i] = e.Key
	}
	return keys
}
