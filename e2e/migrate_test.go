package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/internal/pgtest"
)

// TestMigrateSQLiteToPostgres fills a SQLite server with flags, a segment,
// tokens, a finished rollout and their audit trail, copies it with
// "ramp migrate" into a new PostgreSQL database, and starts a replica on
// that: it must serve the same flags, at the same versions and with the
// same salts, so that 2,000 users get the same variants; the copied SDK
// token must work; and the audit log must be the same. A second migrate
// into the now full database must be refused.
func TestMigrateSQLiteToPostgres(t *testing.T) {
	dir := t.TempDir()
	src := startServer(t, dir, "admin")
	admin := src.client()
	ctx := t.Context()

	if _, err := admin.CreateSegment(ctx, &ramp.Segment{Key: "beta", Name: "Beta testers", Included: []string{"user-3", "user-5"}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"checkout", "search", "banner"} {
		src.mustRamp("flag", "create", key, "--type", "boolean")
	}
	src.mustRamp("set", "checkout", "37.5%")
	src.mustRamp("set", "search", "12%", "--env", "staging")
	src.mustRamp("set", "banner", "60%")
	// The segment in a rule of banner: beta testers always get it.
	f, err := admin.GetFlag(ctx, "banner")
	if err != nil {
		t.Fatal(err)
	}
	f.Environments["production"].Rules = []ramp.Rule{{ID: "beta", Clauses: []ramp.Clause{{Op: ramp.OpInSegment, Values: []string{"beta"}}}, Serve: ramp.Serve{Variant: "on"}}}
	if _, err := admin.UpdateFlag(ctx, f); err != nil {
		t.Fatal(err)
	}
	// A rollout moved by hand to its end, with its transitions audited.
	src.mustRamp("flag", "create", "rollout-flag", "--type", "boolean")
	src.mustRamp("rollout", "start", "rollout-flag", "--template", "demo")
	src.mustRamp("rollout", "promote", "rollout-flag")
	src.mustRamp("rollout", "abort", "rollout-flag")
	sdkTok := src.sdkToken("production")
	revoked, err := admin.CreateToken(ctx, client.TokenRequest{Name: "old", Kind: ramp.TokenSDK, Environment: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeToken(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}

	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	evalAll := func(s *server, flag, env string) []string {
		t.Helper()
		out := s.ramp(strings.NewReader(strings.Join(keys, "\n")+"\n"), "eval", flag, "--env", env, "--keys", "-")
		if out.code != 0 {
			t.Fatalf("ramp eval %s: %s", flag, out.stderr)
		}
		return strings.Split(strings.TrimSpace(out.stdout), "\n")
	}
	type served struct{ flag, env string }
	cases := []served{{"checkout", "production"}, {"search", "staging"}, {"banner", "production"}}
	before := map[served][]string{}
	for _, c := range cases {
		before[c] = evalAll(src, c.flag, c.env)
	}
	flagsBefore, err := admin.ListFlags(ctx, client.FlagFilter{})
	if err != nil {
		t.Fatal(err)
	}
	auditBefore, err := admin.ListAudit(ctx, client.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	rolloutsBefore, err := admin.ListRollouts(ctx, client.RolloutFilter{})
	if err != nil {
		t.Fatal(err)
	}
	src.stop()

	pg := pgtest.New(t).CreateDB(t)
	from := "sqlite:" + filepath.Join(dir, "ramp.db")
	out := src.ramp(nil, "migrate", "--from", from, "--to", pg, "-o", "json")
	if out.code != 0 {
		t.Fatalf("ramp migrate: exit %d: %s", out.code, out.stderr)
	}
	var res struct {
		Copied map[string]int `json:"copied"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &res); err != nil {
		t.Fatalf("ramp migrate -o json: %v: %s", err, out.stdout)
	}
	want := map[string]int{"environments": 2, "segments": 1, "flags": 4, "tokens": 2, "rollouts": 1, "audit": len(auditBefore)}
	for k, n := range want {
		if res.Copied[k] != n {
			t.Errorf("copied %d %s, want %d (report %s)", res.Copied[k], k, n, out.stdout)
		}
	}

	// A second copy into the full database is refused and changes nothing.
	again := src.ramp(nil, "migrate", "--from", from, "--to", pg)
	if again.code != 1 || !strings.Contains(again.stderr, "not empty") || !strings.Contains(again.stderr, "--replace") {
		t.Errorf("a second migrate: exit %d: %s; want 1 and a message about a target that is not empty", again.code, again.stderr)
	}
	if usage := src.ramp(nil, "migrate", "--from", from); usage.code != 2 {
		t.Errorf("migrate without --to: exit %d, want 2", usage.code)
	}

	// A replica on the copy serves the same flags.
	dst := startReplica(t, pg, "admin")
	flagsAfter, err := dst.client().ListFlags(ctx, client.FlagFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(flagsAfter) != len(flagsBefore) {
		t.Fatalf("%d flags after the copy, %d before", len(flagsAfter), len(flagsBefore))
	}
	for i, a := range flagsAfter {
		b := flagsBefore[i]
		if a.Key != b.Key || a.Version != b.Version || a.Salt != b.Salt || a.Salt == "" || !a.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("flag %s: version %d, salt %q, updated %v after; %s version %d, salt %q, updated %v before",
				a.Key, a.Version, a.Salt, a.UpdatedAt, b.Key, b.Version, b.Salt, b.UpdatedAt)
		}
	}
	for _, c := range cases {
		after := evalAll(dst, c.flag, c.env)
		if !slices.Equal(after, before[c]) {
			t.Errorf("%s in %s: the copy serves other variants than the original", c.flag, c.env)
		}
	}
	auditAfter, err := dst.client().ListAudit(ctx, client.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(auditAfter) != len(auditBefore) {
		t.Fatalf("%d audit entries after, %d before", len(auditAfter), len(auditBefore))
	}
	for i := range auditAfter {
		a, b := auditAfter[i], auditBefore[i]
		if a.ID != b.ID || a.Action != b.Action || a.Key != b.Key || !a.Time.Equal(b.Time) || string(a.After) != string(b.After) && !jsonEqual(a.After, b.After) {
			t.Errorf("audit entry %d: %+v after the copy, %+v before", i, a, b)
		}
	}
	rolloutsAfter, err := dst.client().ListRollouts(ctx, client.RolloutFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rolloutsAfter) != 1 || rolloutsAfter[0].ID != rolloutsBefore[0].ID || rolloutsAfter[0].Status != ramp.RolloutAborted || rolloutsAfter[0].Version != rolloutsBefore[0].Version {
		t.Errorf("rollouts after the copy: %+v; before: %+v", rolloutsAfter, rolloutsBefore)
	}

	// The SDK token made on SQLite works on Postgres: only its hash was
	// copied. The revoked one stays revoked.
	if code := ofrepEval(dst, sdkTok, "checkout"); code != 200 {
		t.Errorf("the copied SDK token: OFREP %d, want 200", code)
	}
	if code := ofrepEval(dst, revoked.Secret, "checkout"); code != 401 {
		t.Errorf("the revoked token after the copy: OFREP %d, want 401", code)
	}
	// New changes continue the audit log after the copied entries.
	dst.mustRamp("set", "checkout", "40%")
	latest, err := dst.client().ListAudit(ctx, client.AuditFilter{Limit: 1})
	if err != nil || len(latest) != 1 {
		t.Fatalf("audit after a change: %v, %v", latest, err)
	}
	if latest[0].ID <= auditBefore[0].ID {
		t.Errorf("a change after the copy has audit ID %d, not above the copied %d", latest[0].ID, auditBefore[0].ID)
	}
}

// jsonEqual reports whether two JSON documents hold the same value, for
// stores that keep JSON in a normalized form.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}
