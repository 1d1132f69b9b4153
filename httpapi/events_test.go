package httpapi_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdksource"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// adminEvent is one Server-Sent Event.
type adminEvent struct{ name, data string }

// adminEvents reads the events of a stream on its own goroutine.
type adminEvents struct {
	events chan adminEvent
	done   chan struct{} // closed at the end of the stream
}

func readAdminEvents(res *http.Response) *adminEvents {
	r := &adminEvents{events: make(chan adminEvent, 100), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev adminEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					r.events <- ev
				}
				ev = adminEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return r
}

// next returns the next event named name, skipping others.
func (r *adminEvents) next(t *testing.T, name string) adminEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev.name == name {
				return ev
			}
		case <-r.done:
			t.Fatalf("the stream ended before a %s event", name)
		case <-timeout:
			t.Fatalf("no %s event within 5s", name)
		}
	}
}

// TestEvents follows the admin event stream through flag changes and a
// rollout's moves, and sees it end when the hub stops.
func TestEvents(t *testing.T) {
	var h *hub.Hub
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithCommitHook(func() {
		if h != nil {
			h.Notify()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h = hub.New(hub.Config{Source: st, PollInterval: 50 * time.Millisecond})
	if err := h.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		_ = h.Run(hubCtx)
	}()
	t.Cleanup(func() { stopHub(); <-hubDone })
	sum := sha256.Sum256([]byte(rootToken))
	api := httpapi.New(httpapi.Config{
		Store: st, AdminTokenHash: sum[:], Live: h, Counts: st, Heartbeat: time.Second,
		Rollouts:     rollout.New(rollout.Config{Store: st, Sources: map[string]rollout.Source{rollout.SourceSDK: sdksource.New(st)}}),
		RolloutStore: st,
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	c := srv.Client()

	open := func(query string) (*http.Response, *adminEvents) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/events"+query, nil)
		req.Header.Set("Authorization", "Bearer "+rootToken)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res, readAdminEvents(res)
	}

	doRequest(t, c, srv.URL, "", "GET", "/api/v1/events", nil).problem(t, 401, "unauthorized")
	doRequest(t, c, srv.URL, rootToken, "GET", "/api/v1/events?rollout=abc", nil).problem(t, 400, "bad_request")
	doRequest(t, c, srv.URL, rootToken, "GET", "/api/v1/events?rollout=99", nil).problem(t, 404, "not_found")
	doRequest(t, c, srv.URL, rootToken, "GET", "/api/v1/events?flag=x", nil).problem(t, 400, "bad_request")

	res, all := open("")
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	all.next(t, "ready")
	doRequest(t, c, srv.URL, rootToken, "POST", "/api/v1/flags", newFlagBody("checkout")).want(t, 201)
	var ch struct {
		Seq     int64
		Entries []struct {
			ID                 int64
			Actor, Action, Key string
			Before, After      json.RawMessage
			Kind, Environment  string
			Time               time.Time
		}
	}
	if err := json.Unmarshal([]byte(all.next(t, "change").data), &ch); err != nil {
		t.Fatal(err)
	}
	if len(ch.Entries) != 1 || ch.Entries[0].Action != "flag.create" || ch.Entries[0].Key != "checkout" || ch.Entries[0].Actor != "admin" || ch.Entries[0].ID != ch.Seq {
		t.Fatalf("change event %+v", ch)
	}
	if ch.Entries[0].After != nil {
		t.Errorf("the change event carries the flag document: %s", ch.Entries[0].After)
	}

	// A rollout: its state at once, then every move.
	var started struct{ ID int64 }
	doRequest(t, c, srv.URL, rootToken, "POST", "/api/v1/rollouts",
		`{"flag":"checkout","environment":"production","plan":{"stages":[{"percent":5,"duration":"1h"},{"percent":100}]}}`).want(t, 201).decode(t, &started)
	_, one := open("?rollout=" + itoa(started.ID))
	one.next(t, "ready")
	var v struct {
		ID     int64
		Status string
		Stage  int
	}
	if err := json.Unmarshal([]byte(one.next(t, "rollout").data), &v); err != nil || v.ID != started.ID || v.Status != "running" {
		t.Fatalf("first rollout event %+v, %v", v, err)
	}
	doRequest(t, c, srv.URL, rootToken, "POST", "/api/v1/rollouts/"+itoa(started.ID)+"/pause", nil).want(t, 200)
	if err := json.Unmarshal([]byte(one.next(t, "rollout").data), &v); err != nil || v.Status != "paused" {
		t.Fatalf("rollout event after pause %+v, %v", v, err)
	}
	// The other stream sees the rollout's audit rows as changes.
	if ev := all.next(t, "change"); !strings.Contains(ev.data, "rollout.") {
		t.Errorf("change event %s", ev.data)
	}

	// The streams end with the hub, so that a server can stop.
	stopHub()
	for _, r := range []*adminEvents{all, one} {
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Fatal("a stream outlived the hub by 5s")
		}
	}
}

func newFlagBody(key string) string {
	return `{"key":"` + key + `","type":"boolean","variants":[{"key":"on","value":true},{"key":"off","value":false}],"defaultVariant":"off"}`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
