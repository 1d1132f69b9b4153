package storecore

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ramp-flags/ramp"
)

func TestLoadMigrations(t *testing.T) {
	ok := fstest.MapFS{
		"migrations/0002_b.sql": {Data: []byte("B")},
		"migrations/0001_a.sql": {Data: []byte("A")},
		"migrations/notes.txt":  {Data: []byte("not a migration")},
	}
	ms, err := LoadMigrations(ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0] != (Migration{1, "0001_a.sql", "A"}) || ms[1] != (Migration{2, "0002_b.sql", "B"}) {
		t.Errorf("LoadMigrations = %+v, want 0001_a.sql then 0002_b.sql", ms)
	}

	for name, tc := range map[string]struct {
		fs   fstest.MapFS
		want string
	}{
		"gap": {fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte("A")},
			"migrations/0003_c.sql": {Data: []byte("C")},
		}, "migration 0003_c.sql: version 3, want 2"},
		"repeated": {fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte("A")},
			"migrations/0001_b.sql": {Data: []byte("B")},
		}, "version 1, want 2"},
		"bad name": {fstest.MapFS{
			"migrations/first.sql": {Data: []byte("A")},
		}, "migration first.sql: name is not NNNN_what.sql"},
		"zero": {fstest.MapFS{
			"migrations/0000_a.sql": {Data: []byte("A")},
		}, "name is not NNNN_what.sql"},
	} {
		if _, err := LoadMigrations(tc.fs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadMigrations error = %v, want it to say %q", name, err, tc.want)
		}
	}
}

func TestCheckNotNewer(t *testing.T) {
	if err := CheckNotNewer(3, 3); err != nil {
		t.Errorf("CheckNotNewer(3, 3) = %v, want nil", err)
	}
	if err := CheckNotNewer(4, 3); err == nil || !strings.Contains(err.Error(), "schema version 4, newer than this binary knows (3)") {
		t.Errorf("CheckNotNewer(4, 3) = %v, want the newer-schema error", err)
	}
}

func TestStaleVersion(t *testing.T) {
	if err := StaleVersion("flag", "f", 0, 7); err != nil {
		t.Errorf("no IfVersion: %v, want nil", err)
	}
	if err := StaleVersion("flag", "f", 7, 7); err != nil {
		t.Errorf("current IfVersion: %v, want nil", err)
	}
	var re *ramp.Error
	if err := StaleVersion("flag", "f", 6, 7); !errors.As(err, &re) || re.Code != ramp.ECONFLICT || re.Version != 7 {
		t.Errorf("stale IfVersion: %#v, want ECONFLICT with version 7", err)
	}
}

func testFlag(key string) *ramp.Flag {
	return &ramp.Flag{
		Key:  key,
		Type: ramp.TypeBoolean,
		Variants: []ramp.Variant{
			{Key: "off", Value: json.RawMessage(`false`)},
			{Key: "on", Value: json.RawMessage(`true`)},
		},
		DefaultVariant: "off",
	}
}

var testScope = ramp.Scope{Environments: []string{"production"}}

func noScope() (ramp.Scope, error) { return testScope, nil }

func TestUpdateFlag(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := created.Add(time.Hour)
	cur, err := NewFlag(testFlag("checkout"), testScope, created)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != 1 || cur.Salt == "" || cur.Environments["production"] == nil {
		t.Fatalf("NewFlag = %+v, want version 1, a salt and a production state", cur)
	}
	curJSON, _ := MarshalJSON(cur)

	nf, err := UpdateFlag(ramp.Change{IfVersion: 1}, cur, now, func(f *ramp.Flag) error {
		f.Name, f.Salt = "Checkout", ""
		return nil
	}, noScope)
	if err != nil {
		t.Fatal(err)
	}
	if nf.Version != 2 || nf.Name != "Checkout" || nf.Salt != cur.Salt || !nf.CreatedAt.Equal(created) || !nf.UpdatedAt.Equal(now) {
		t.Errorf("UpdateFlag = %+v, want version 2, the new name, the old salt and times", nf)
	}
	if after, _ := MarshalJSON(cur); after != curJSON {
		t.Errorf("UpdateFlag changed the stored flag:\n got %s\nwant %s", after, curJSON)
	}

	fnErr := errors.New("no")
	if _, err := UpdateFlag(ramp.Change{}, cur, now, func(*ramp.Flag) error { return fnErr }, noScope); !errors.Is(err, fnErr) || !errors.As(err, new(FnError)) {
		t.Errorf("fn's error came back as %v, want it wrapped in FnError", err)
	}
	if _, err := UpdateFlag(ramp.Change{IfVersion: 9}, cur, now, func(*ramp.Flag) error { return nil }, noScope); ramp.ErrorCode(err) != ramp.ECONFLICT {
		t.Errorf("stale update: %v, want ECONFLICT", err)
	}
	if _, err := UpdateFlag(ramp.Change{}, cur, now, func(f *ramp.Flag) error { f.Key = "other"; return nil }, noScope); ramp.ErrorCode(err) != ramp.EINVALID {
		t.Errorf("renaming update: %v, want EINVALID", err)
	}
	if _, err := UpdateFlag(ramp.Change{}, cur, now, func(f *ramp.Flag) error { f.DefaultVariant = "nope"; return nil }, noScope); ramp.ErrorCode(err) != ramp.EINVALID {
		t.Errorf("invalid update: %v, want EINVALID", err)
	}
}

func TestUpdateRollout(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f, err := NewFlag(testFlag("checkout"), testScope, now)
	if err != nil {
		t.Fatal(err)
	}
	fdata, _ := MarshalJSON(f)
	cur := &ramp.Rollout{ID: 4, Flag: "checkout", Environment: "production", Status: ramp.RolloutRunning, Plan: json.RawMessage(`{}`), Version: 3}
	scopeCalls := 0
	scope := func() (ramp.Scope, error) { scopeCalls++; return testScope, nil }

	u, err := UpdateRollout(ramp.Change{Actor: "controller", Action: "rollout.advance"}, cur, f, fdata, now,
		func(r *ramp.Rollout, _ *ramp.Flag) (string, error) { r.Stage = 1; return "", nil }, scope)
	if err != nil {
		t.Fatal(err)
	}
	if u.FlagChanged || u.Flag != f || scopeCalls != 0 {
		t.Errorf("an update that leaves the flag alone changed it (FlagChanged %v, scope read %d times)", u.FlagChanged, scopeCalls)
	}
	if u.Rollout.Version != 4 || u.Rollout.Stage != 1 || cur.Stage != 0 || u.Audit.Action != "rollout.advance" || u.Audit.Before == "" || u.Audit.After == "" {
		t.Errorf("UpdateRollout = %+v, audit %+v; want version 4, stage 1 and a full audit row", u.Rollout, u.Audit)
	}

	u, err = UpdateRollout(ramp.Change{}, cur, f, fdata, now, func(_ *ramp.Rollout, nf *ramp.Flag) (string, error) {
		nf.Environments["production"].On = true
		return "rollout.start", nil
	}, scope)
	if err != nil {
		t.Fatal(err)
	}
	if !u.FlagChanged || u.Flag.Version != f.Version+1 || !strings.Contains(u.Audit.After, `"on":true`) {
		t.Errorf("an update that turns the flag on: FlagChanged %v, flag version %d, audit after %s", u.FlagChanged, u.Flag.Version, u.Audit.After)
	}

	if _, err := UpdateRollout(ramp.Change{}, cur, f, fdata, now, func(*ramp.Rollout, *ramp.Flag) (string, error) { return "", nil }, scope); err == nil {
		t.Error("an update with no action succeeded")
	}
	if _, err := UpdateRollout(ramp.Change{Action: "x"}, cur, f, fdata, now, func(r *ramp.Rollout, _ *ramp.Flag) (string, error) {
		r.Environment = "staging"
		return "", nil
	}, scope); ramp.ErrorCode(err) != ramp.EINVALID {
		t.Errorf("moving a rollout: %v, want EINVALID", err)
	}
}

func TestAbortRollout(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := &ramp.Rollout{ID: 1, Flag: "checkout", Environment: "production", Status: ramp.RolloutRunning, Version: 2}
	n, a, err := AbortRollout("alice", "kill switch by alice", r, nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if n.Status != ramp.RolloutAborted || n.Version != 3 || r.Status != ramp.RolloutRunning || a.Action != ramp.ActionRolloutAbort || a.Key != "checkout" {
		t.Errorf("AbortRollout = %+v, %+v", n, a)
	}
}

func TestCountArgs(t *testing.T) {
	if got, want := len(CountColumns()), NumCountArgs-4; got != want {
		t.Errorf("%d count columns, want %d", got, want)
	}
	args := CountArgs(nil, ramp.Counts{Flag: "f", Variant: "on", Requests: 3}, "production", 60)
	if len(args) != NumCountArgs {
		t.Errorf("CountArgs without latency: %d arguments, want %d", len(args), NumCountArgs)
	}
	out, dst := SumTarget("f", "on")
	if len(dst) != len(CountColumns()) || out.Latency == nil || len(out.Latency.Counts) != ramp.NumLatencyBuckets {
		t.Errorf("SumTarget: %d destinations for %d columns", len(dst), len(CountColumns()))
	}
}

func TestParallelDecoder(t *testing.T) {
	d := NewParallelDecoder(func(n int) (int, error) { return n * 2, nil })
	const rows = 3*decodeBatch + 5
	for i := range rows {
		d.Add(i)
	}
	out, err := d.Finish()
	if err != nil || len(out) != rows {
		t.Fatalf("Finish = %d values, %v; want %d", len(out), err, rows)
	}
	for i, v := range out {
		if v != i*2 {
			t.Fatalf("value %d = %d, want %d: the order of the rows was lost", i, v, i*2)
		}
	}

	bad := errors.New("bad row")
	d = NewParallelDecoder(func(n int) (int, error) {
		if n == 200 {
			return 0, bad
		}
		return n, nil
	})
	for i := range 300 {
		d.Add(i)
	}
	if _, err := d.Finish(); !errors.Is(err, bad) {
		t.Errorf("Finish after a bad row = %v, want %v", err, bad)
	}
	if out, err := NewParallelDecoder(func(n int) (int, error) { return n, nil }).Finish(); err != nil || out == nil || len(out) != 0 {
		t.Errorf("Finish of no rows = %#v, %v; want an empty slice", out, err)
	}
}
