package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/pgtest"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/server"
	"github.com/ramp-flags/ramp/store/postgres"
	"github.com/ramp-flags/ramp/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParseDB(t *testing.T) {
	for _, c := range []struct {
		db, kind, target, err string
	}{
		{"", server.DBSQLite, filepath.Join("data", "ramp.db"), ""},
		{"sqlite:/var/lib/ramp/ramp.db", server.DBSQLite, "/var/lib/ramp/ramp.db", ""},
		{"sqlite:///var/lib/ramp/ramp.db", server.DBSQLite, "/var/lib/ramp/ramp.db", ""},
		{"sqlite:rel/ramp.db", server.DBSQLite, "rel/ramp.db", ""},
		{"postgres://u:p@h/db", server.DBPostgres, "postgres://u:p@h/db", ""},
		{"postgresql://h/db?sslmode=disable", server.DBPostgres, "postgresql://h/db?sslmode=disable", ""},
		{"sqlite:", "", "", "names no file"},
		{"ramp.db", "", "", "use sqlite:PATH or postgres://"},
		{"mysql://u:secret@h/db", "", "", "use sqlite:PATH"},
	} {
		kind, target, err := server.ParseDB(c.db, "data")
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseDB(%q): error %v, want one saying %q", c.db, err, c.err)
		case c.err == "" && (err != nil || kind != c.kind || target != c.target):
			t.Errorf("ParseDB(%q) = %q, %q, %v; want %q, %q", c.db, kind, target, err, c.kind, c.target)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseDB(%q): the error shows the password: %v", c.db, err)
		}
	}
	for dsn, want := range map[string]string{
		"postgres://ramp:s3cret@db/ramp":               "postgres://ramp:xxxxx@db/ramp",
		"postgres://db/ramp?password=s3cret&sslmode=x": "postgres://db/ramp?password=xxxxx&sslmode=x",
		"postgres://ramp@db/ramp":                      "postgres://ramp@db/ramp",
	} {
		if got := server.Redact(dsn); got != want {
			t.Errorf("Redact(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// TestOneLeader starts three servers on one Postgres database: exactly one
// leads and says so in its ramp_leader gauge, and when it stops, releasing
// its lease, another takes over within the lease time.
func TestOneLeader(t *testing.T) {
	dsn := pgtest.Start(t)
	const ttl = 600 * time.Millisecond
	var servers []*server.Server
	var stops []func()
	for range 3 {
		s, stop := start(t, server.Config{DataDir: t.TempDir(), DB: dsn, AdminToken: "admin", LeaseTTL: ttl})
		servers = append(servers, s)
		stops = append(stops, stop)
	}
	leader := func(alive []bool) int {
		t.Helper()
		var got []int
		deadline := time.Now().Add(3 * ttl)
		for time.Now().Before(deadline) {
			got = got[:0]
			for i, s := range servers {
				if alive[i] && s.IsLeader() {
					got = append(got, i)
				}
			}
			if len(got) == 1 {
				return got[0]
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("leaders %v, want exactly one", got)
		return -1
	}
	alive := []bool{true, true, true}
	first := leader(alive)
	for i, s := range servers {
		want := "ramp_leader 0"
		if i == first {
			want = "ramp_leader 1"
		}
		if m := metrics(t, s.URL()); !strings.Contains(m, "\n"+want+"\n") {
			t.Errorf("server %d: /metrics does not say %q", i, want)
		}
	}
	// A graceful stop releases the lease: the next leader is quick.
	stopped := time.Now()
	stops[first]()
	alive[first] = false
	second := leader(alive)
	if d := time.Since(stopped); d > ttl {
		t.Errorf("the next leader took over %v after a graceful stop, more than the lease (%v)", d, ttl)
	}
	if second == first {
		t.Fatal("the stopped server still leads")
	}
	for i := range servers {
		if alive[i] && i != second {
			stops[i]()
		}
	}
	stops[second]()
}

// TestControllersTakeEachTransitionOnce runs two rollout controllers on
// one store, as two replicas would during a lease handover, ticking at
// the same moments over rollouts that are due to start: each rollout must
// start exactly once, for both stores.
func TestControllersTakeEachTransitionOnce(t *testing.T) {
	type store interface {
		rollout.Store
		CreateFlag(ctx context.Context, c ramp.Change, f *ramp.Flag) (*ramp.Flag, error)
		ListAudit(ctx context.Context, f ramp.AuditFilter) ([]ramp.AuditEntry, error)
	}
	stores := map[string]func(t *testing.T) store{
		"sqlite": func(t *testing.T) store {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"postgres": func(t *testing.T) store {
			st, err := postgres.Open(t.Context(), pgtest.Start(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := t.Context()
			plan, _ := json.Marshal(rollout.Plan{Stages: []rollout.Stage{{Percent: 5, Duration: rollout.Duration(time.Hour)}, {Percent: 100}}, Interval: rollout.Duration(time.Hour)})
			const n = 20
			for i := range n {
				key := fmt.Sprintf("flag-%d", i)
				if _, err := st.CreateFlag(ctx, ramp.Change{Actor: "t"}, &ramp.Flag{
					Key: key, Type: ramp.TypeBoolean, DefaultVariant: "off",
					Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
				}); err != nil {
					t.Fatal(err)
				}
				if _, err := st.CreateRollout(ctx, ramp.Change{Actor: "t"}, &ramp.Rollout{Flag: key, Environment: "production", Status: ramp.RolloutPending, Plan: plan}); err != nil {
					t.Fatal(err)
				}
			}
			ctls := []*rollout.Controller{rollout.New(rollout.Config{Store: st}), rollout.New(rollout.Config{Store: st})}
			for range 3 {
				var wg sync.WaitGroup
				gate := make(chan struct{})
				for _, c := range ctls {
					wg.Go(func() {
						<-gate
						_ = c.Tick(ctx) // the loser's conflicts are expected
					})
				}
				close(gate)
				wg.Wait()
			}
			entries, err := st.ListAudit(ctx, ramp.AuditFilter{Kind: "rollout", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			starts := map[string]int{}
			for _, e := range entries {
				if e.Action == ramp.ActionRolloutStart {
					starts[e.Key]++
				}
			}
			for i := range n {
				if key := fmt.Sprintf("flag-%d", i); starts[key] != 1 {
					t.Errorf("%s started %d times, want once", key, starts[key])
				}
			}
		})
	}
}

func metrics(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestLeaderStepsDownWithoutStore stops PostgreSQL under a leading
// server: it must stop running the controller before its lease could
// expire, keep serving, and lead again by itself once the database is
// back.
func TestLeaderStepsDownWithoutStore(t *testing.T) {
	pg := pgtest.New(t)
	dsn := pg.CreateDB(t)
	const ttl = 900 * time.Millisecond
	s, stop := start(t, server.Config{DataDir: t.TempDir(), DB: dsn, AdminToken: "admin", LeaseTTL: ttl})
	defer stop()
	waitUntil := func(d time.Duration, what string, cond func() bool) time.Duration {
		t.Helper()
		t0 := time.Now()
		for !cond() {
			if time.Since(t0) > d {
				t.Fatalf("not %s within %v", what, d)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(t0)
	}
	waitUntil(5*time.Second, "leading", s.IsLeader)
	pg.Stop(t)
	// The lease was last renewed before the stop, so it expires less than
	// ttl after it; the server must have let go by then.
	if d := waitUntil(ttl, "stepping down", func() bool { return !s.IsLeader() }); d >= ttl {
		t.Errorf("stepped down %v after the database stopped; the lease lasts %v", d, ttl)
	}
	if code := get(t, s.URL()+"/healthz", ""); code != 200 {
		t.Errorf("/healthz with the database down: %d", code)
	}
	pg.Start(t)
	waitUntil(15*time.Second, "leading again", s.IsLeader)
}
