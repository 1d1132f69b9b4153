package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
)

const env = "production"

// waitLimit bounds every wait in real time, so that a broken client fails
// a test instead of hanging it.
const waitLimit = 10 * time.Second

// newClient starts a client against srv on clk; it must become ready.
func newClient(t *testing.T, srv *sdktest.Server, clk sdk.Clock, mod ...func(*sdk.Config)) *sdk.Client {
	t.Helper()
	cfg := sdk.Config{URL: srv.URL, Token: sdktest.Token, Clock: clk, Logger: testLogger(t)}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := sdk.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitUntil waits until cond holds, re-checking it after every change and
// status notification of c.
func waitUntil(t *testing.T, c *sdk.Client, what string, cond func() bool) {
	t.Helper()
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	defer c.OnChange(func(sdk.ChangeEvent) { poke() })()
	defer c.OnStatus(func(sdk.StatusEvent) { poke() })()
	deadline := time.After(waitLimit)
	for !cond() {
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s (status %v, seq %d, err %v)", what, c.Status(), c.Seq(), c.Err())
		}
	}
}

func waitSeq(t *testing.T, c *sdk.Client, seq int64) {
	t.Helper()
	waitUntil(t, c, fmt.Sprintf("seq %d", seq), func() bool { return c.Seq() == seq })
}

func waitStatus(t *testing.T, c *sdk.Client, st sdk.Status) {
	t.Helper()
	waitUntil(t, c, "status "+st.String(), func() bool { return c.Status() == st })
}

func typedFlags() []*ramp.Flag {
	broken := sdktest.StaticFlag("broken", env, ramp.TypeBoolean, "true")
	broken.Environments[env].Fallthrough.Variant = "missing"
	return []*ramp.Flag{
		sdktest.BoolFlag("everyone", env, 100),
		sdktest.BoolFlag("half", env, 50),
		sdktest.StaticFlag("banner", env, ramp.TypeString, `"blue"`),
		sdktest.StaticFlag("ratio", env, ramp.TypeNumber, "0.25"),
		sdktest.StaticFlag("limit", env, ramp.TypeNumber, "10"),
		sdktest.StaticFlag("theme", env, ramp.TypeObject, `{"color":"red","sizes":[1,2]}`),
		broken,
	}
}

// TestBootAndEvaluate starts a client against a server and checks every
// getter, including each way of serving the caller's default.
func TestBootAndEvaluate(t *testing.T) {
	srv := sdktest.NewServer(t, env, typedFlags(), nil)
	c := newClient(t, srv, sdktest.NewClock())
	ctx := context.Background()
	user := sdk.EvalContext{TargetingKey: "user-1"}

	if st := c.Status(); st != sdk.StatusLive {
		t.Fatalf("status = %v, want live", st)
	}
	select {
	case <-c.Ready():
	default:
		t.Fatal("Ready is not closed after New returned without error")
	}
	if c.Environment() != env || c.Seq() != 1 || len(c.Keys()) != 7 {
		t.Errorf("environment %q seq %d keys %v", c.Environment(), c.Seq(), c.Keys())
	}
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if got := r.Header.Get("Authorization"); got != "Bearer "+sdktest.Token {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Header.Get("Accept"); got != "text/event-stream" {
		t.Errorf("Accept = %q", got)
	}
	if got := r.Header.Get("Last-Event-ID"); got != "" {
		t.Errorf("first connection sent Last-Event-ID %q", got)
	}

	if !c.Bool(ctx, "everyone", user, false) {
		t.Error("Bool(everyone) = false")
	}
	if got := c.String(ctx, "banner", user, "none"); got != "blue" {
		t.Errorf("String(banner) = %q", got)
	}
	if got := c.Float(ctx, "ratio", user, 1); got != 0.25 {
		t.Errorf("Float(ratio) = %v", got)
	}
	if got := c.Int(ctx, "limit", user, 1); got != 10 {
		t.Errorf("Int(limit) = %v", got)
	}
	if got := c.Float(ctx, "limit", user, 1); got != 10 {
		t.Errorf("Float(limit) = %v", got)
	}
	theme := c.JSON(ctx, "theme", user, nil)
	if theme["color"] != "red" {
		t.Errorf("JSON(theme) = %v", theme)
	}
	theme["color"] = "green"
	theme["sizes"].([]any)[0] = 99.0
	if again := c.JSON(ctx, "theme", user, nil); again["color"] != "red" || again["sizes"].([]any)[0] != 1.0 {
		t.Errorf("a caller's change to a JSON value leaked into the flag: %v", again)
	}

	d := c.BoolDetail(ctx, "half", user, false)
	if d.Reason != sdk.ReasonSplit || d.ErrorCode != "" || d.Variant == "" {
		t.Errorf("BoolDetail(half) = %+v", d)
	}
	if got := c.Bool(ctx, "half", user, !d.Value); got != d.Value {
		t.Errorf("Bool and BoolDetail disagree: %v, %v", got, d.Value)
	}

	// Every failure serves the default with a reason and never panics.
	fails := []struct {
		name string
		got  func() (any, sdk.Reason, sdk.ErrorCode)
		def  any
		code sdk.ErrorCode
	}{
		{"unknown flag", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.BoolDetail(ctx, "nope", user, true)
			return d.Value, d.Reason, d.ErrorCode
		}, true, sdk.ErrFlagNotFound},
		{"bool getter on a string flag", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.BoolDetail(ctx, "banner", user, true)
			return d.Value, d.Reason, d.ErrorCode
		}, true, sdk.ErrTypeMismatch},
		{"string getter on a bool flag", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.StringDetail(ctx, "everyone", user, "def")
			return d.Value, d.Reason, d.ErrorCode
		}, "def", sdk.ErrTypeMismatch},
		{"int getter on a fraction", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.IntDetail(ctx, "ratio", user, 7)
			return d.Value, d.Reason, d.ErrorCode
		}, int64(7), sdk.ErrTypeMismatch},
		{"json getter on a number", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.JSONDetail(ctx, "limit", user, map[string]any{"d": 1})
			return d.Value["d"], d.Reason, d.ErrorCode
		}, 1, sdk.ErrTypeMismatch},
		{"split without a key", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.BoolDetail(ctx, "half", sdk.EvalContext{}, true)
			return d.Value, d.Reason, d.ErrorCode
		}, true, sdk.ErrTargetingKeyMissing},
		{"flag that does not compile", func() (any, sdk.Reason, sdk.ErrorCode) {
			d := c.BoolDetail(ctx, "broken", user, true)
			return d.Value, d.Reason, d.ErrorCode
		}, true, sdk.ErrParse},
	}
	for _, f := range fails {
		v, reason, code := f.got()
		if v != f.def || reason != sdk.ReasonError || code != f.code {
			t.Errorf("%s: got (%v, %s, %s), want (%v, ERROR, %s)", f.name, v, reason, code, f.def, f.code)
		}
	}
	if c.Bool(ctx, "banner", user, true) != true || c.Int(ctx, "ratio", user, 7) != 7 || c.String(ctx, "nope", user, "d") != "d" {
		t.Error("a plain getter did not serve the default on failure")
	}
	if d := c.Evaluate(ctx, "theme", user); d.Variant != "v" || d.Value.(map[string]any)["color"] != "red" {
		t.Errorf("Evaluate(theme) = %+v", d)
	}
	if d := c.Evaluate(ctx, "nope", user); d.Value != nil || d.ErrorCode != sdk.ErrFlagNotFound {
		t.Errorf("Evaluate(nope) = %+v", d)
	}
}

// TestChangesApplied checks that change events reach evaluation and
// OnChange with the keys that changed, segments included.
func TestChangesApplied(t *testing.T) {
	staff := &ramp.Segment{Key: "staff", Included: []string{"alice"}}
	gated := sdktest.BoolFlag("gated", env, 0)
	gated.Environments[env].Rules = []ramp.Rule{{ID: "staff", Clauses: []ramp.Clause{{Op: ramp.OpInSegment, Values: []string{"staff"}}}, Serve: ramp.Serve{Variant: "on"}}}
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("rollout", env, 0), gated, sdktest.BoolFlag("other", env, 0)}, []*ramp.Segment{staff})
	c := newClient(t, srv, sdktest.NewClock())
	ctx := context.Background()
	events := make(chan sdk.ChangeEvent, 10)
	defer c.OnChange(func(ev sdk.ChangeEvent) { events <- ev })()
	next := func() sdk.ChangeEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(waitLimit):
			t.Fatal("no change event")
		}
		return sdk.ChangeEvent{}
	}

	bob := sdk.EvalContext{TargetingKey: "bob"}
	if c.Bool(ctx, "rollout", bob, false) || c.Bool(ctx, "gated", bob, false) {
		t.Fatal("flags at 0 % serve on")
	}

	seq := srv.SetFlags(sdktest.BoolFlag("rollout", env, 100))
	if ev := next(); !slices.Equal(ev.Keys, []string{"rollout"}) || ev.Seq != seq {
		t.Errorf("change event = %+v, want [rollout] at %d", ev, seq)
	}
	if !c.Bool(ctx, "rollout", bob, false) {
		t.Error("rollout at 100 % still serves off")
	}

	seq = srv.SetSegments(&ramp.Segment{Key: "staff", Included: []string{"alice", "bob"}})
	if ev := next(); !slices.Equal(ev.Keys, []string{"gated"}) || ev.Seq != seq {
		t.Errorf("segment change event = %+v, want [gated] at %d", ev, seq)
	}
	if d := c.BoolDetail(ctx, "gated", bob, false); !d.Value || d.Reason != sdk.ReasonTargetingMatch || d.RuleID != "staff" {
		t.Errorf("bob, now staff: %+v", d)
	}

	seq = srv.DeleteFlags("other")
	if ev := next(); !slices.Equal(ev.Keys, []string{"other"}) || ev.Seq != seq {
		t.Errorf("delete event = %+v", ev)
	}
	if d := c.BoolDetail(ctx, "other", bob, true); d.ErrorCode != sdk.ErrFlagNotFound || !d.Value {
		t.Errorf("deleted flag: %+v", d)
	}
	if c.Seq() != seq {
		t.Errorf("Seq = %d, want %d", c.Seq(), seq)
	}

	// A flag the client has never seen, next to one it has.
	seq = srv.SetFlags(sdktest.BoolFlag("fresh", env, 100), sdktest.BoolFlag("rollout", env, 0))
	if ev := next(); !slices.Equal(ev.Keys, []string{"fresh", "rollout"}) || ev.Seq != seq {
		t.Errorf("create event = %+v, want [fresh rollout] at %d", ev, seq)
	}
	if !c.Bool(ctx, "fresh", bob, false) || c.Bool(ctx, "rollout", bob, true) {
		t.Error("the created flag or the one changed with it serves the wrong value")
	}
	if keys := c.Keys(); !slices.Equal(keys, []string{"fresh", "gated", "rollout"}) {
		t.Errorf("Keys = %v", keys)
	}
}

// TestReconnectSendsLastEventID ends the stream, changes flags while the
// client is away, and checks that it resumes with Last-Event-ID after the
// backoff and applies the changes it missed.
func TestReconnectSendsLastEventID(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 0), sdktest.BoolFlag("b", env, 0)}, nil)
	c := newClient(t, srv, clk)
	ctx := context.Background()
	srv.NextRequest(t, "/sdk/v1/stream")
	seen := srv.SetFlags(sdktest.BoolFlag("a", env, 100))
	waitSeq(t, c, seen)

	srv.EndStreams()
	waitStatus(t, c, sdk.StatusStale)
	srv.SetFlags(sdktest.BoolFlag("b", env, 100))
	last := srv.DeleteFlags("a")
	if !c.Bool(ctx, "a", sdk.EvalContext{TargetingKey: "u"}, false) {
		t.Error("a stale client forgot a flag")
	}

	// The server sent retry: 1000, so the first delay is below one second.
	if d := clk.Next(t); d >= time.Second || d < 100*time.Millisecond {
		t.Errorf("first reconnection delay %v, want in [100ms, 1s)", d)
	}
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if got := r.Header.Get("Last-Event-ID"); got != fmt.Sprint(seen) {
		t.Errorf("Last-Event-ID = %q, want %d", got, seen)
	}
	waitSeq(t, c, last)
	waitStatus(t, c, sdk.StatusLive)
	if !c.Bool(ctx, "b", sdk.EvalContext{TargetingKey: "u"}, false) {
		t.Error("missed change to b not applied")
	}
	if d := c.BoolDetail(ctx, "a", sdk.EvalContext{TargetingKey: "u"}, false); d.ErrorCode != sdk.ErrFlagNotFound {
		t.Errorf("missed deletion of a not applied: %+v", d)
	}
}

// TestServerDownAndBack kills the server: evaluations keep their last
// values without errors, the backoff grows, and when the server is back
// the client catches up without a restart.
func TestServerDownAndBack(t *testing.T) {
	clk := sdktest.NewClock()
	flags := typedFlags()[:6]
	srv := sdktest.NewServer(t, env, flags, nil)
	c := newClient(t, srv, clk)
	ctx := context.Background()
	statuses := make(chan sdk.StatusEvent, 10)
	defer c.OnStatus(func(ev sdk.StatusEvent) { statuses <- ev })()

	users := []sdk.EvalContext{{TargetingKey: "u1"}, {TargetingKey: "u2"}, {TargetingKey: "u3", Attributes: map[string]any{"plan": "pro"}}}
	before := map[string]sdk.Detail[any]{}
	for _, f := range flags {
		for _, u := range users {
			before[f.Key+"/"+u.TargetingKey] = c.Evaluate(ctx, f.Key, u)
		}
	}

	srv.Kill()
	if ev := <-statuses; ev.Status != sdk.StatusStale || ev.Err == nil {
		t.Errorf("status event %+v, want stale with an error", ev)
	}
	check := func(when string) {
		t.Helper()
		for _, f := range flags {
			for _, u := range users {
				got := c.Evaluate(ctx, f.Key, u)
				want := before[f.Key+"/"+u.TargetingKey]
				if got.ErrorCode != "" || got.Variant != want.Variant || got.Reason != want.Reason {
					t.Errorf("%s: %s for %s = %+v, want %+v", when, f.Key, u.TargetingKey, got, want)
				}
			}
		}
	}
	check("just after the kill")

	// Reconnection attempts fail; the ceiling of the delay doubles from
	// the server's retry of one second.
	for i := range 7 {
		d := clk.Next(t)
		ceil := min(time.Second<<i, sdk.MaxBackoff)
		if d < ceil/10 || d >= ceil {
			t.Errorf("delay %d = %v, want in [%v, %v)", i, d, ceil/10, ceil)
		}
		check(fmt.Sprintf("after %d failed attempts", i+1))
	}
	if c.Status() != sdk.StatusStale || c.Err() == nil {
		t.Errorf("status %v err %v, want stale with an error", c.Status(), c.Err())
	}

	last := srv.SetFlags(sdktest.StaticFlag("banner", env, ramp.TypeString, `"green"`))
	clk.WaitTimer(t, func(d time.Duration) bool { return d < sdk.IdleTimeout }) // the last attempt failed
	srv.Restart()
	clk.Next(t)
	waitSeq(t, c, last)
	waitStatus(t, c, sdk.StatusLive)
	if got := c.String(ctx, "banner", users[0], ""); got != "green" {
		t.Errorf("after the server came back: banner = %q, want green", got)
	}
	if c.Err() != nil {
		t.Errorf("Err = %v while live", c.Err())
	}
}

// TestIdleConnectionDropped checks that 45 seconds without a byte end the
// connection, and that activity keeps it.
func TestIdleConnectionDropped(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 0)}, nil)
	c := newClient(t, srv, clk)
	srv.NextRequest(t, "/sdk/v1/stream")

	// Activity at 30 s moves the deadline.
	clk.WaitTimer(t, func(d time.Duration) bool { return d == sdk.IdleTimeout })
	clk.Advance(30 * time.Second)
	srv.Send(": ping\n\n")
	seq := srv.SetFlags(sdktest.BoolFlag("a", env, 100))
	waitSeq(t, c, seq)
	clk.Advance(15 * time.Second)
	clk.WaitTimer(t, func(d time.Duration) bool { return d == 30*time.Second })
	if c.Status() != sdk.StatusLive || srv.Streams() != 1 {
		t.Fatalf("an active connection was dropped: status %v, streams %d", c.Status(), srv.Streams())
	}

	// Silence for 45 s ends it.
	clk.Advance(30 * time.Second)
	waitStatus(t, c, sdk.StatusStale)
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "no event or ping") {
		t.Errorf("Err = %v, want the idle timeout", err)
	}
	clk.Next(t)
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if got := r.Header.Get("Last-Event-ID"); got != fmt.Sprint(seq) {
		t.Errorf("Last-Event-ID = %q, want %d", got, seq)
	}
	waitStatus(t, c, sdk.StatusLive)
}

// TestMalformedEventsIgnored sends events that cannot be applied: each is
// ignored, the flags are kept, and the stream goes on.
func TestMalformedEventsIgnored(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100), sdktest.BoolFlag("b", env, 100)}, nil)
	c := newClient(t, srv, clk)
	ctx := context.Background()
	u := sdk.EvalContext{TargetingKey: "u"}
	srv.NextRequest(t, "/sdk/v1/stream")

	for _, raw := range []string{
		"event: snapshot\ndata: {not json\n\n",
		"event: snapshot\ndata: {\"seq\": 9, \"flags\": []}\n\n",                       // no environment
		"event: change\ndata: {\"seq\": 99, \"flags\": [null]}\n\n",                    // a null flag
		"event: change\ndata: {\"seq\": 98, \"flags\": [{\"type\": \"boolean\"}]}\n\n", // a flag without a key
		"event: change\ndata: {\"seq\": 97, \"deletedFlags\": [\"a\"]\n\n",             // truncated JSON
		"event: change\ndata: {\"deletedFlags\": [\"a\"]}\n\n",                         // no seq
		"event: surprise\ndata: {}\n\n",
		"data: a message without a type\n\n",
	} {
		srv.Send(raw)
	}
	seq := srv.SetFlags(sdktest.BoolFlag("b", env, 0))
	waitSeq(t, c, seq)
	if !c.Bool(ctx, "a", u, false) {
		t.Error("flag a lost to a malformed event")
	}
	if c.Bool(ctx, "b", u, true) {
		t.Error("the valid change after the malformed events was not applied")
	}

	// An event cut off by the end of the stream is dropped too.
	srv.Send(fmt.Sprintf("id: %d\nevent: change\ndata: {\"seq\":%d,\"deletedFlags\":[\"a\"]}\n", seq+1, seq+1))
	srv.EndStreams()
	waitStatus(t, c, sdk.StatusStale)
	if c.Seq() != seq || !c.Bool(ctx, "a", u, false) {
		t.Errorf("a truncated event was applied: seq %d", c.Seq())
	}

	// Having dropped changes, the client asks for a full snapshot.
	clk.Next(t)
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if got := r.Header.Get("Last-Event-ID"); got != "" {
		t.Errorf("Last-Event-ID = %q after a dropped change, want none (a snapshot)", got)
	}
	waitStatus(t, c, sdk.StatusLive)
}

// TestStartFromCache writes the cache file with one client, then starts
// another while the server is down: it serves the cached flags, and
// catches up with Last-Event-ID when the server returns.
func TestStartFromCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "ramp-flags.json")
	srv := sdktest.NewServer(t, env, typedFlags()[:6], nil)
	c1 := newClient(t, srv, sdktest.NewClock(), func(cfg *sdk.Config) { cfg.CacheFile = cache })
	seq := srv.SetFlags(sdktest.StaticFlag("banner", env, ramp.TypeString, `"cached"`))
	waitSeq(t, c1, seq)
	if err := c1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fi, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no cache file after Close: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, want 0600", fi.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(cache), ".*tmp")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
	var doc struct {
		Environment string
		Seq         int64
		Flags       []json.RawMessage
	}
	b, _ := os.ReadFile(cache)
	if err := json.Unmarshal(b, &doc); err != nil || doc.Environment != env || doc.Seq != seq || len(doc.Flags) != 6 {
		t.Fatalf("cache file holds %s (%v)", b, err)
	}

	srv.Kill()
	clk := sdktest.NewClock()
	c2 := newClient(t, srv, clk, func(cfg *sdk.Config) { cfg.CacheFile = cache })
	ctx := context.Background()
	if c2.Status() != sdk.StatusStale || c2.Seq() != seq {
		t.Errorf("status %v seq %d, want stale at %d", c2.Status(), c2.Seq(), seq)
	}
	if got := c2.StringDetail(ctx, "banner", sdk.EvalContext{}, "default"); got.Value != "cached" || got.ErrorCode != "" {
		t.Errorf("banner from the cache = %+v", got)
	}

	last := srv.SetFlags(sdktest.StaticFlag("banner", env, ramp.TypeString, `"fresh"`))
	srv.ClearRequests()
	srv.Restart()
	clk.Next(t)
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if got := r.Header.Get("Last-Event-ID"); got != fmt.Sprint(seq) {
		t.Errorf("Last-Event-ID = %q, want the cached seq %d", got, seq)
	}
	waitSeq(t, c2, last)
	waitStatus(t, c2, sdk.StatusLive)
	if got := c2.String(ctx, "banner", sdk.EvalContext{}, "default"); got != "fresh" {
		t.Errorf("banner after catching up = %q", got)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(cache)
	if !strings.Contains(string(b), "fresh") {
		t.Error("the cache file was not updated after the catch-up")
	}
}

// TestCorruptCacheIgnored starts with a cache file that is not a
// document: the client ignores it and waits for the server.
func TestCorruptCacheIgnored(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(cache, []byte(`{"environment": "production", "flags": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := sdktest.NewServer(t, env, nil, nil)
	srv.Kill()
	c, err := sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.Token, CacheFile: cache, StartTimeout: 100 * time.Millisecond, Logger: testLogger(t)})
	if !errors.Is(err, sdk.ErrNotReady) {
		t.Fatalf("err = %v, want ErrNotReady", err)
	}
	defer c.Close()
	if c.Status() != sdk.StatusNotReady {
		t.Errorf("status %v", c.Status())
	}
}

// TestStartWithoutServerOrCache checks that New returns after
// StartTimeout, in real time, with a client that serves defaults.
func TestStartWithoutServerOrCache(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	srv.Kill()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	c, err := sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.Token, StartTimeout: timeout, Logger: testLogger(t)})
	elapsed := time.Since(start)
	if c == nil {
		t.Fatal("New returned no client")
	}
	defer c.Close()
	if !errors.Is(err, sdk.ErrNotReady) {
		t.Errorf("err = %v, want ErrNotReady", err)
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("New returned after %v, want about %v", elapsed, timeout)
	}
	ctx := context.Background()
	if !c.Bool(ctx, "anything", sdk.EvalContext{TargetingKey: "u"}, true) {
		t.Error("Bool did not serve the default")
	}
	if d := c.StringDetail(ctx, "anything", sdk.EvalContext{}, "def"); d.Value != "def" || d.Reason != sdk.ReasonError || d.ErrorCode != sdk.ErrProviderNotReady {
		t.Errorf("StringDetail = %+v, want the default with PROVIDER_NOT_READY", d)
	}
	if c.Status() != sdk.StatusNotReady || c.Err() == nil {
		t.Errorf("status %v err %v", c.Status(), c.Err())
	}
	select {
	case <-c.Ready():
		t.Error("Ready is closed")
	default:
	}
}

// TestNotReadyThenServerArrives starts with the server down and no cache,
// then starts the server: the client becomes ready on its own.
func TestNotReadyThenServerArrives(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100)}, nil)
	srv.Kill()
	var c *sdk.Client
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err = sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.Token, Clock: clk, Logger: testLogger(t)})
	}()
	clk.WaitTimer(t, func(d time.Duration) bool { return d == sdk.DefaultStartTimeout })
	clk.WaitTimer(t, func(d time.Duration) bool { return d < sdk.MinBackoff })
	clk.Advance(sdk.DefaultStartTimeout)
	<-done
	defer c.Close()
	if !errors.Is(err, sdk.ErrNotReady) {
		t.Fatalf("err = %v, want ErrNotReady", err)
	}
	statuses := make(chan sdk.StatusEvent, 10)
	defer c.OnStatus(func(ev sdk.StatusEvent) { statuses <- ev })()

	// Let the attempt that the advance started fail before the server
	// comes, so that the client is waiting to retry.
	clk.WaitTimer(t, func(d time.Duration) bool { return d < sdk.IdleTimeout })
	srv.Restart()
	clk.Next(t)
	select {
	case <-c.Ready():
	case <-time.After(waitLimit):
		t.Fatal("not ready after the server came")
	}
	if ev := <-statuses; ev.Status != sdk.StatusLive {
		t.Errorf("status event %+v, want live", ev)
	}
	if !c.Bool(context.Background(), "a", sdk.EvalContext{}, false) {
		t.Error("flag not served after the server came")
	}
}

// TestPollingFallback serves a stream endpoint that answers 404, as some
// proxies do: the client polls with If-None-Match, and tries the stream
// again after StreamRetryInterval.
func TestPollingFallback(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 0)}, nil)
	srv.SetStreamStatus(http.StatusNotFound)
	c := newClient(t, srv, clk)
	ctx := context.Background()
	if r := srv.NextRequest(t, "/sdk/v1/flags"); r.Header.Get("If-None-Match") != "" {
		t.Errorf("first poll sent If-None-Match %q", r.Header.Get("If-None-Match"))
	}
	if c.Status() != sdk.StatusLive {
		t.Errorf("status %v, want live while polling", c.Status())
	}

	seq := srv.SetFlags(sdktest.BoolFlag("a", env, 100))
	if d := clk.Next(t); d != sdk.DefaultPollInterval {
		t.Errorf("poll interval %v, want %v", d, sdk.DefaultPollInterval)
	}
	if r := srv.NextRequest(t, "/sdk/v1/flags"); r.Header.Get("If-None-Match") != `"1"` {
		t.Errorf("If-None-Match = %q, want \"1\"", r.Header.Get("If-None-Match"))
	}
	waitSeq(t, c, seq)
	if !c.Bool(ctx, "a", sdk.EvalContext{TargetingKey: "u"}, false) {
		t.Error("polled change not applied")
	}

	// Polls go on (answered 304) until StreamRetryInterval has passed
	// since the fallback; then the client tries the stream again.
	srv.SetStreamStatus(0)
	for i := 2; i <= 10; i++ {
		clk.Next(t)
		r := srv.NextRequest(t, "/sdk/v1/flags")
		if got := r.Header.Get("If-None-Match"); got != fmt.Sprintf(`"%d"`, seq) {
			t.Fatalf("poll %d: If-None-Match = %q", i, got)
		}
	}
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if got := r.Header.Get("Last-Event-ID"); got != fmt.Sprint(seq) {
		t.Errorf("stream retry Last-Event-ID = %q, want %d", got, seq)
	}
	srv.WaitStreams(t, 1)
	last := srv.SetFlags(sdktest.BoolFlag("a", env, 0))
	waitSeq(t, c, last)
}

// TestBufferedStreamFallsBackToPolling serves a stream that connects but
// never delivers a byte, as a buffering proxy does: after three such
// connections the client polls.
func TestBufferedStreamFallsBackToPolling(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100)}, nil)
	srv.SetQuietStream(true)
	var c *sdk.Client
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err = sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.Token, Clock: clk, Logger: testLogger(t)})
	}()
	for i := range 3 {
		srv.NextRequest(t, "/sdk/v1/stream")
		if i < 2 {
			// Move to the end of the backoff, not to New's StartTimeout.
			_, left := clk.WaitTimer(t, func(d time.Duration) bool { return d < sdk.DefaultStartTimeout })
			clk.Advance(left)
		}
	}
	srv.NextRequest(t, "/sdk/v1/flags")
	<-done
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()
	if !c.Bool(context.Background(), "a", sdk.EvalContext{}, false) || c.Status() != sdk.StatusLive {
		t.Errorf("status %v after falling back to polling", c.Status())
	}
}

// TestServerWentBack serves a snapshot with a lower seq, as a server
// restored from a backup does: the client applies it, and the changes
// after it.
func TestServerWentBack(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100)}, nil)
	c := newClient(t, srv, clk)
	for i := range 5 {
		srv.SetFlags(sdktest.BoolFlag("b", env, float64(10*i)))
	}
	waitSeq(t, c, 6)
	srv.SetSeq(1)
	srv.EndStreams()
	srv.DeleteFlags("b")
	clk.Next(t)
	waitSeq(t, c, 2)
	if d := c.BoolDetail(context.Background(), "b", sdk.EvalContext{}, false); d.ErrorCode != sdk.ErrFlagNotFound {
		t.Errorf("b = %+v after the restored server deleted it", d)
	}
	kill := srv.SetFlags(sdktest.BoolFlag("a", env, 0))
	waitSeq(t, c, kill)
	if c.Bool(context.Background(), "a", sdk.EvalContext{TargetingKey: "u"}, true) {
		t.Error("the kill switch after the restore was ignored")
	}
}

// TestOnChangeNeverBlocksTheStream blocks a callback: changes keep being
// applied, and the callback then gets them merged into one event.
func TestOnChangeNeverBlocksTheStream(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 0), sdktest.BoolFlag("b", env, 0), sdktest.BoolFlag("c", env, 0)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	release := make(chan struct{})
	events := make(chan sdk.ChangeEvent, 10)
	c.OnChange(func(ev sdk.ChangeEvent) {
		events <- ev
		<-release
	})
	srv.SetFlags(sdktest.BoolFlag("a", env, 100))
	if ev := <-events; !slices.Equal(ev.Keys, []string{"a"}) {
		t.Fatalf("first event %+v", ev)
	}
	// The callback is blocked now.
	srv.SetFlags(sdktest.BoolFlag("b", env, 100))
	last := srv.SetFlags(sdktest.BoolFlag("c", env, 100))
	deadline := time.Now().Add(waitLimit)
	for c.Seq() != last {
		// No notification can wake this loop: the callback that would
		// deliver it is the one blocked.
		if time.Now().After(deadline) {
			t.Fatalf("the stream stopped while a callback was blocked: seq %d, want %d", c.Seq(), last)
		}
		time.Sleep(time.Millisecond)
	}
	if !c.Bool(context.Background(), "c", sdk.EvalContext{TargetingKey: "u"}, false) {
		t.Error("change not served while a callback was blocked")
	}
	close(release)
	if ev := <-events; !slices.Equal(ev.Keys, []string{"b", "c"}) || ev.Seq != last {
		t.Errorf("merged event %+v, want [b c] at %d", ev, last)
	}
}

// TestCallbackPanicRecovered checks that a panicking callback neither
// crashes the application nor stops later callbacks.
func TestCallbackPanicRecovered(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 0)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	c.OnChange(func(sdk.ChangeEvent) { panic("boom") })
	got := make(chan sdk.ChangeEvent, 1)
	c.OnChange(func(ev sdk.ChangeEvent) { got <- ev })
	srv.SetFlags(sdktest.BoolFlag("a", env, 100))
	select {
	case <-got:
	case <-time.After(waitLimit):
		t.Fatal("the callback after a panicking one was not called")
	}
}

// TestClose ends the stream, keeps serving, and is idempotent.
func TestClose(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	srv.WaitStreams(t, 1)
	remove := c.OnChange(func(sdk.ChangeEvent) {})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	srv.WaitStreams(t, 0)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	remove()
	if !c.Bool(context.Background(), "a", sdk.EvalContext{}, false) {
		t.Error("a closed client stopped serving its flags")
	}
	if c.Status() != sdk.StatusStale {
		t.Errorf("status after Close = %v, want stale", c.Status())
	}
}

// TestConfig rejects configurations that cannot work, with a message.
func TestConfig(t *testing.T) {
	ok := sdk.Config{URL: "http://127.0.0.1:1", Token: sdktest.Token}
	tests := []struct {
		name string
		mod  func(*sdk.Config)
		want string
	}{
		{"no URL", func(c *sdk.Config) { c.URL = "" }, "URL is required"},
		{"not a URL", func(c *sdk.Config) { c.URL = "ramp.example.com" }, "not an http"},
		{"other scheme", func(c *sdk.Config) { c.URL = "ftp://ramp.example.com" }, "not an http"},
		{"query", func(c *sdk.Config) { c.URL = "http://ramp.example.com?x=1" }, "query"},
		{"no token", func(c *sdk.Config) { c.Token = "" }, "Token is required"},
		{"admin token without environment", func(c *sdk.Config) { c.Token = sdktest.AdminToken }, "Environment"},
		{"negative start timeout", func(c *sdk.Config) { c.StartTimeout = -1 }, "StartTimeout"},
		{"negative poll interval", func(c *sdk.Config) { c.PollInterval = -1 }, "PollInterval"},
		{"poll interval too short", func(c *sdk.Config) { c.PollInterval = time.Millisecond }, "PollInterval"},
		{"HTTP client with a timeout", func(c *sdk.Config) { c.HTTPClient = &http.Client{Timeout: time.Second} }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			c, err := sdk.New(context.Background(), cfg)
			if c != nil || err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, sdk.ErrNotReady) {
				t.Errorf("New = %v, %v; want no client and an error about %q", c, err, tt.want)
			}
		})
	}
}

// TestAdminTokenWithEnvironment reads an environment with an admin token
// and a base URL with a path prefix.
func TestAdminTokenWithEnvironment(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100)}, nil)
	c := newClient(t, srv, sdktest.NewClock(), func(cfg *sdk.Config) {
		cfg.Token, cfg.Environment = sdktest.AdminToken, env
		cfg.URL += "/"
	})
	r := srv.NextRequest(t, "/sdk/v1/stream")
	if r.Query != "environment=production" {
		t.Errorf("query %q", r.Query)
	}
	if !c.Bool(context.Background(), "a", sdk.EvalContext{}, false) {
		t.Error("flag not served")
	}
}

// TestUnauthorized reports a refused token through New's error, Err and
// the evaluations' error message; New does not wait for flags that a
// refused token cannot bring.
func TestUnauthorized(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	start := time.Now()
	c, err := sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: "ramp_sdk_wrong", StartTimeout: time.Minute, Logger: testLogger(t)})
	if !errors.Is(err, sdk.ErrNotReady) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "unknown token") {
		t.Errorf("err = %v, want ErrNotReady with the 401 and its detail", err)
	}
	defer c.Close()
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("New waited %v for a refused token; it should return at once", d)
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Err() = %v, want the 401", err)
	}
	d := c.BoolDetail(context.Background(), "a", sdk.EvalContext{}, true)
	if !d.Value || d.ErrorCode != sdk.ErrProviderNotReady || !strings.Contains(d.ErrorMessage, "401") || !strings.Contains(d.ErrorMessage, "unknown token") {
		t.Errorf("evaluation %+v: want the default, PROVIDER_NOT_READY and the 401 in the message", d)
	}
}

// TestMissingEnvironment: an admin token naming an environment the server
// does not have is a configuration error, like a refused token: New
// returns at once and names it, and the client keeps trying the stream
// rather than fall back to polling (a ramp server always streams).
func TestMissingEnvironment(t *testing.T) {
	clk := sdktest.NewClock()
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 100)}, nil)
	c, err := sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.AdminToken, Environment: "prod", Clock: clk, Logger: testLogger(t)})
	if !errors.Is(err, sdk.ErrNotReady) || !strings.Contains(err.Error(), `environment "prod" does not exist`) {
		t.Errorf("err = %v, want ErrNotReady naming the environment", err)
	}
	defer c.Close()
	srv.ClearRequests()
	clk.Next(t) // the backoff, not a poll interval
	if r := srv.NextRequest(t, "/sdk/v1/stream"); r.Query != "environment=prod" {
		t.Errorf("retry query %q", r.Query)
	}
}

// TestConcurrentEvaluation evaluates from many goroutines while changes
// stream in; run with -race.
func TestConcurrentEvaluation(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 50)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			ec := sdk.EvalContext{TargetingKey: fmt.Sprint("user-", g)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Bool(ctx, "a", ec, false)
				c.BoolDetail(ctx, "a", ec, false)
				c.Evaluate(ctx, "a", ec)
			}
		})
	}
	var last int64
	for p := range 20 {
		last = srv.SetFlags(sdktest.BoolFlag("a", env, float64(p*5)))
	}
	waitSeq(t, c, last)
	close(stop)
	wg.Wait()
}
