package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/sdk"
)

// countsBody returns a report of one entry whose requests all took at
// most 50 ms.
func countsBody(flag, variant string, requests, errors float64) string {
	bounds := make([]string, ramp.NumLatencyBuckets)
	counts := make([]string, ramp.NumLatencyBuckets)
	for i, b := range ramp.LatencyBounds() {
		n := 0.0
		if b >= 0.05 { // from 0.0538, bucket 23
			n = requests
		}
		bounds[i], counts[i] = fmt.Sprint(b), fmt.Sprint(n)
	}
	return fmt.Sprintf(`{"counts":[{"flag":%q,"variant":%q,"requests":%v,"errors":%v,"latency":{"bounds":[%s],"counts":[%s],"count":%v}}]}`,
		flag, variant, requests, errors, strings.Join(bounds, ","), strings.Join(counts, ","), requests)
}

// sumCounts reads what the store holds for a variant over the last hour.
func (e *ofrepEnv) sumCounts(flag, env, variant string) ramp.Counts {
	e.t.Helper()
	now := time.Now()
	c, err := e.store.SumCounts(e.t.Context(), flag, env, variant, now.Add(-time.Hour), now.Add(time.Minute))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestSDKMetrics posts reports with an SDK token and an admin token, and
// checks what the store holds, and that nothing was audited or published.
func TestSDKMetrics(t *testing.T) {
	e := newOFREPEnv(t)
	e.sync()
	seq, audit := e.hub.Seq(), len(e.audit())

	e.do(e.sdk, "POST", "/sdk/v1/metrics", countsBody("checkout", "on", 120, 3)).want(t, 204)
	e.do(e.sdk, "POST", "/sdk/v1/metrics?environment=production", countsBody("checkout", "on", 30, 1)).want(t, 204)
	e.do(e.alice, "POST", "/sdk/v1/metrics?environment=staging", countsBody("checkout", "on", 7, 0)).want(t, 204)
	e.do(e.sdk, "POST", "/sdk/v1/metrics", `{"counts":[]}`).want(t, 204)

	got := e.sumCounts("checkout", "production", "on")
	if got.Requests != 150 || got.Errors != 4 || got.Latency.Count != 150 || got.Latency.Counts[23] != 150 || got.Latency.Counts[22] != 0 {
		t.Errorf("production: %+v %+v", got, got.Latency)
	}
	if got := e.sumCounts("checkout", "staging", "on"); got.Requests != 7 {
		t.Errorf("staging: %+v", got)
	}
	time.Sleep(100 * time.Millisecond) // two polls of the hub
	if e.hub.Seq() != seq || len(e.audit()) != audit {
		t.Errorf("reports moved the change feed from %d to %d, the audit log from %d to %d entries", seq, e.hub.Seq(), audit, len(e.audit()))
	}
}

// TestSDKMetricsRefused checks the answers to reports that cannot be
// taken; none of them stores anything.
func TestSDKMetricsRefused(t *testing.T) {
	e := newOFREPEnv(t)
	staging, _ := e.newToken("staging-app", ramp.TokenSDK, "staging")
	good := countsBody("checkout", "on", 10, 1)
	for _, tc := range []struct {
		name, token, query, body string
		status                   int
		code, field              string
	}{
		{name: "no token", body: good, status: 401, code: ramp.EUNAUTHORIZED},
		{name: "another environment", token: staging, query: "?environment=production", body: good, status: 403, code: ramp.EFORBIDDEN},
		{name: "admin without environment", token: e.alice, body: good, status: 400, code: ramp.EBADREQUEST},
		{name: "unknown environment", token: e.alice, query: "?environment=nowhere", body: good, status: 404, code: ramp.ENOTFOUND},
		{name: "not JSON", token: e.sdk, body: `{"counts":`, status: 400, code: ramp.EBADREQUEST},
		{name: "unknown field", token: e.sdk, body: `{"counts":[{"flag":"checkout","variant":"on","requests":1,"errors":0,"p99":3}]}`, status: 400, code: ramp.EBADREQUEST},
		{name: "a string count", token: e.sdk, body: `{"counts":[{"flag":"checkout","variant":"on","requests":"1","errors":0}]}`, status: 400, code: ramp.EBADREQUEST},
		{name: "a number too large", token: e.sdk, body: `{"counts":[{"flag":"checkout","variant":"on","requests":1e999,"errors":0}]}`, status: 400, code: ramp.EBADREQUEST},
		{name: "no counts", token: e.sdk, body: `{}`, status: 422, code: ramp.EINVALID, field: "counts"},
		{name: "negative", token: e.sdk, body: countsBody("checkout", "on", -1, 0), status: 422, code: ramp.EINVALID, field: "counts[0].requests"},
		{name: "more errors than requests", token: e.sdk, body: countsBody("checkout", "on", 1, 2), status: 422, code: ramp.EINVALID, field: "counts[0].errors"},
		{name: "an older SDK's bounds", token: e.sdk, body: `{"counts":[{"flag":"checkout","variant":"on","requests":1,"errors":0,"latency":{"bounds":[0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10],"counts":[1,1,1,1,1,1,1,1,1,1,1],"count":1}}]}`, status: 422, code: ramp.EINVALID, field: "counts[0].latency.bounds"},
		{name: "other bounds", token: e.sdk, body: `{"counts":[{"flag":"checkout","variant":"on","requests":1,"errors":0,"latency":{"bounds":[1,2],"counts":[1,1],"count":1}}]}`, status: 422, code: ramp.EINVALID, field: "counts[0].latency.bounds"},
		{name: "bad variant key", token: e.sdk, body: countsBody("checkout", "On!", 1, 0), status: 422, code: ramp.EINVALID, field: "counts[0].variant"},
		{name: "too large", token: e.sdk, body: `{"counts":[` + strings.Repeat(`{"flag":"checkout","variant":"on","requests":1,"errors":0},`, 200) + `]}`, status: 413, code: ramp.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.do(tc.token, "POST", "/sdk/v1/metrics"+tc.query, tc.body).problem(t, tc.status, tc.code)
			if tc.field != "" && !p.hasField(tc.field) {
				t.Errorf("errors %+v do not name %s", p.Errors, tc.field)
			}
		})
	}
	if got := e.sumCounts("checkout", "production", "on"); got.Requests != 0 {
		t.Errorf("refused reports stored %+v", got)
	}
	e.do(e.sdk, "GET", "/sdk/v1/metrics", nil).problem(t, 405, "method_not_allowed")
}

// TestSDKMetricsFromTheSDK reports through a real SDK client: what
// Observe counted arrives in the store.
func TestSDKMetricsFromTheSDK(t *testing.T) {
	e := newOFREPEnv(t)
	c, err := sdk.New(context.Background(), sdk.Config{URL: e.srv.URL, Token: e.sdk, ReportInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fail := errors.New("fail")
	for i := range 100 {
		var err error
		if i%10 == 0 {
			err = fail
		}
		c.Observe("checkout", "on", time.Duration(i)*time.Millisecond, err)
		c.Observe("checkout", "off", time.Millisecond, nil)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	on, off := e.sumCounts("checkout", "production", "on"), e.sumCounts("checkout", "production", "off")
	if on.Requests != 100 || on.Errors != 10 || on.Latency.Count != 100 || on.Latency.Counts[27] != 100 || on.Latency.Counts[26] != 91 || on.Latency.Counts[23] != 54 { // 0..99 ms in 0.108, 0.0905, 0.0538
		t.Errorf("on: %+v %+v", on, on.Latency)
	}
	if off.Requests != 100 || off.Errors != 0 || off.Latency.Counts[0] != 100 {
		t.Errorf("off: %+v %+v", off, off.Latency)
	}
}

// TestSDKMetricsNeedsCounts checks that the route follows Config.Counts,
// not the type of the store: a SQLite store, which keeps counts, given
// only as Store leaves it out.
func TestSDKMetricsNeedsCounts(t *testing.T) {
	e := newOFREPEnv(t)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: e.store, Live: e.hub}))
	t.Cleanup(srv.Close)
	doRequest(t, srv.Client(), srv.URL, e.sdk, "POST", "/sdk/v1/metrics", countsBody("checkout", "on", 1, 0)).problem(t, 404, "not_found")
	doRequest(t, srv.Client(), srv.URL, e.sdk, "GET", "/sdk/v1/flags", nil).want(t, 200)
	if got := e.sumCounts("checkout", "production", "on"); got.Requests != 0 {
		t.Errorf("a server without Counts stored %+v", got)
	}
}
