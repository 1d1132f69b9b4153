package promsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// fakeProm is a fake Prometheus HTTP API: it records every instant query
// and answers with answer(query).
type fakeProm struct {
	*httptest.Server
	answer func(query string) (status int, body string)

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, query, time, timeout string
	header                       http.Header
}

func newFake(t *testing.T, answer func(query string) (int, string)) *fakeProm {
	t.Helper()
	f := &fakeProm{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := r.Form.Get("query")
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{method: r.Method, query: q, time: r.Form.Get("time"), timeout: r.Form.Get("timeout"), header: r.Header.Clone()})
		f.mu.Unlock()
		status, body := f.answer(q)
		if status == 0 {
			// Hang until the client gives up.
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProm) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeProm) queries() []string {
	var qs []string
	for _, r := range f.requests() {
		qs = append(qs, r.query)
	}
	slices.Sort(qs)
	return qs
}

// Answers in the API's JSON.
const emptyVector = `{"status":"success","data":{"resultType":"vector","result":[]}}`

func vector(values ...string) string {
	var samples []string
	for _, v := range values {
		samples = append(samples, `{"metric":{},"value":[1700000000,"`+v+`"]}`)
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
}

// buckets answers with one sample per "le=count" pair.
func buckets(pairs ...string) string {
	var samples []string
	for _, p := range pairs {
		le, count, _ := strings.Cut(p, "=")
		samples = append(samples, `{"metric":{"le":"`+le+`"},"value":[1700000000,"`+count+`"]}`)
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
}

// byQuery answers each query that contains a key with its answer, and
// anything else with an empty vector.
func byQuery(answers map[string]string) func(string) (int, string) {
	return func(q string) (int, string) {
		for k, a := range answers {
			if strings.Contains(q, k) {
				return http.StatusOK, a
			}
		}
		return http.StatusOK, emptyVector
	}
}

var (
	to    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	from  = to.Add(-90*time.Second - 200*time.Millisecond)
	guard = map[judge.Metric]judge.Guard{
		judge.ErrorRate:  {Name: "error-rate", Metric: judge.ErrorRate},
		judge.Latency:    {Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99},
		judge.Throughput: {Name: "traffic", Metric: judge.Throughput},
	}
)

func query(m judge.Metric) rollout.Query {
	return rollout.Query{Flag: "checkout-v2", Environment: "production", Canary: "on", Baseline: "off",
		Guard: rollout.Guard{Guard: guard[m]}, From: from, To: to}
}

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestArmsErrorRate(t *testing.T) {
	f := newFake(t, byQuery(map[string]string{
		`ramp_flag_requests_total{flag="checkout-v2",variant="on"`:  vector("1000.5"),
		`ramp_flag_requests_total{flag="checkout-v2",variant="off"`: vector("19000"),
		`ramp_flag_errors_total{flag="checkout-v2",variant="on"`:    vector("12"),
		`ramp_flag_errors_total{flag="checkout-v2",variant="off"`:   vector("95.25"),
	}))
	s := newSource(t, Config{URL: f.URL, Timeout: 5 * time.Second})
	canary, baseline, err := s.Arms(t.Context(), query(judge.ErrorRate))
	if err != nil {
		t.Fatalf("Arms: %v", err)
	}
	if want := (judge.Arm{Requests: 1000.5, Errors: 12}); !reflect.DeepEqual(canary, want) {
		t.Errorf("canary = %+v; want %+v", canary, want)
	}
	if want := (judge.Arm{Requests: 19000, Errors: 95.25}); !reflect.DeepEqual(baseline, want) {
		t.Errorf("baseline = %+v; want %+v", baseline, want)
	}
	want := []string{
		`sum(increase(ramp_flag_errors_total{flag="checkout-v2",variant="off",environment="production"}[91s]))`,
		`sum(increase(ramp_flag_errors_total{flag="checkout-v2",variant="on",environment="production"}[91s]))`,
		`sum(increase(ramp_flag_requests_total{flag="checkout-v2",variant="off",environment="production"}[91s]))`,
		`sum(increase(ramp_flag_requests_total{flag="checkout-v2",variant="on",environment="production"}[91s]))`,
	}
	if got := f.queries(); !slices.Equal(got, want) {
		t.Errorf("queries sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range f.requests() {
		if r.time != "1772366400" {
			t.Errorf("query evaluated at time=%q; want the window's end 1772366400", r.time)
		}
		if r.timeout != "5s" {
			t.Errorf("query sent timeout=%q; want 5s", r.timeout)
		}
	}
}

func TestArmsThroughputQueriesRequestsOnly(t *testing.T) {
	f := newFake(t, byQuery(map[string]string{
		`variant="on"`:  vector("50"),
		`variant="off"`: vector("950"),
	}))
	s := newSource(t, Config{URL: f.URL})
	canary, baseline, err := s.Arms(t.Context(), query(judge.Throughput))
	if err != nil {
		t.Fatalf("Arms: %v", err)
	}
	if canary.Requests != 50 || baseline.Requests != 950 || canary.Errors != 0 || canary.Latency != nil {
		t.Errorf("arms = %+v, %+v; want 50 and 950 requests only", canary, baseline)
	}
	for _, q := range f.queries() {
		if !strings.Contains(q, RequestsMetric) {
			t.Errorf("a throughput guard sent %q", q)
		}
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d queries sent; want 2", n)
	}
}

func TestArmsLatency(t *testing.T) {
	f := newFake(t, byQuery(map[string]string{
		// Out of order, and with a bucket a fraction below the one
		// before, as increase() can extrapolate.
		`variant="on"`: buckets("+Inf=200", "0.1=150", "0.5=190", "0.25=179.9", "0.05=100", "1=200", "0.01=0"),
	}))
	s := newSource(t, Config{URL: f.URL})
	canary, baseline, err := s.Arms(t.Context(), query(judge.Latency))
	if err != nil {
		t.Fatalf("Arms: %v", err)
	}
	want := &judge.Histogram{
		Bounds: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1},
		Counts: []float64{0, 100, 150, 179.9, 190, 200},
		Count:  200,
	}
	if !reflect.DeepEqual(canary.Latency, want) {
		t.Errorf("canary histogram = %+v; want %+v", canary.Latency, want)
	}
	// The baseline has no data: an empty histogram over the canary's
	// bounds, which the judge finds too little data.
	wantEmpty := &judge.Histogram{Bounds: want.Bounds, Counts: make([]float64, len(want.Bounds))}
	if !reflect.DeepEqual(baseline.Latency, wantEmpty) {
		t.Errorf("baseline histogram = %+v; want %+v", baseline.Latency, wantEmpty)
	}
	for _, q := range f.queries() {
		if !strings.HasPrefix(q, "sum by (le) (increase(ramp_flag_request_duration_seconds_bucket{") {
			t.Errorf("a latency guard sent %q", q)
		}
	}
	v := judge.Evaluate(guard[judge.Latency], canary, baseline, judge.Options{})
	if v.Outcome != judge.Inconclusive || !strings.Contains(v.Summary, "too little data") {
		t.Errorf("judge: %s: %s; want inconclusive, too little data", v.Outcome, v.Summary)
	}
}

func TestArmsLatencyMonotonic(t *testing.T) {
	f := newFake(t, byQuery(map[string]string{
		`variant=`: buckets("0.1=10.2", "0.25=10.1", "+Inf=10.15"),
	}))
	s := newSource(t, Config{URL: f.URL})
	canary, _, err := s.Arms(t.Context(), query(judge.Latency))
	if err != nil {
		t.Fatalf("Arms: %v", err)
	}
	want := &judge.Histogram{Bounds: []float64{0.1, 0.25}, Counts: []float64{10.2, 10.2}, Count: 10.2}
	if !reflect.DeepEqual(canary.Latency, want) {
		t.Errorf("histogram = %+v; want %+v", canary.Latency, want)
	}
}

// TestArmsNoData checks that empty results are no data, not errors, and
// that the judge then holds.
func TestArmsNoData(t *testing.T) {
	for _, m := range []judge.Metric{judge.ErrorRate, judge.Latency, judge.Throughput} {
		t.Run(string(m), func(t *testing.T) {
			f := newFake(t, byQuery(nil))
			s := newSource(t, Config{URL: f.URL})
			canary, baseline, err := s.Arms(t.Context(), query(m))
			if err != nil {
				t.Fatalf("Arms: %v; want no error", err)
			}
			want := judge.Arm{}
			if m == judge.Latency {
				want.Latency = &judge.Histogram{Bounds: DefaultBuckets(), Counts: make([]float64, len(DefaultBuckets()))}
			}
			if !reflect.DeepEqual(canary, want) || !reflect.DeepEqual(baseline, want) {
				t.Errorf("arms = %+v, %+v; want %+v", canary, baseline, want)
			}
			v := judge.Evaluate(guard[m], canary, baseline, judge.Options{CanaryPercent: 5})
			if v.Outcome != judge.Inconclusive || !strings.Contains(v.Summary, "too little data") {
				t.Errorf("judge: %s: %s; want inconclusive, too little data", v.Outcome, v.Summary)
			}
		})
	}
}

// TestArmsNaN checks that a NaN or infinite figure empties its arm (and
// only its arm) and says why in the log.
func TestArmsNaN(t *testing.T) {
	tests := []struct {
		name    string
		metric  judge.Metric
		answers map[string]string
		want    string // in the log
	}{
		{"requests NaN", judge.ErrorRate, map[string]string{
			`requests_total{flag="checkout-v2",variant="on"`: vector("NaN"),
			`errors_total{flag="checkout-v2",variant="on"`:   vector("3"),
		}, "requests query gave NaN"},
		// An unknown error count must not read as zero errors, which
		// would pass a canary.
		{"errors +Inf", judge.ErrorRate, map[string]string{
			`requests_total{flag="checkout-v2",variant="on"`: vector("500"),
			`errors_total{flag="checkout-v2",variant="on"`:   vector("+Inf"),
		}, "errors query gave +Inf"},
		{"requests -Inf", judge.Throughput, map[string]string{
			`requests_total{flag="checkout-v2",variant="on"`: vector("-Inf"),
		}, "requests query gave -Inf"},
		{"bucket NaN", judge.Latency, map[string]string{
			`variant="on"`: buckets("0.1=NaN", "+Inf=4"),
		}, "a latency bucket count is NaN or infinite"},
		{"count NaN", judge.Latency, map[string]string{
			`variant="on"`: buckets("0.1=3", "+Inf=NaN"),
		}, "a latency bucket count is NaN or infinite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := map[string]string{
				`requests_total{flag="checkout-v2",variant="off"`: vector("1000"),
				`errors_total{flag="checkout-v2",variant="off"`:   vector("4"),
				`bucket{flag="checkout-v2",variant="off"`:         buckets("0.1=900", "+Inf=1000"),
			}
			for k, v := range tt.answers {
				answers[k] = v
			}
			f := newFake(t, byQuery(answers))
			var log bytes.Buffer
			s := newSource(t, Config{URL: f.URL, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			canary, baseline, err := s.Arms(t.Context(), query(tt.metric))
			if err != nil {
				t.Fatalf("Arms: %v; want no error", err)
			}
			if canary.Requests != 0 || canary.Errors != 0 {
				t.Errorf("canary = %+v; want no data", canary)
			}
			if tt.metric == judge.Latency && (canary.Latency == nil || canary.Latency.Count != 0 || !slices.Equal(canary.Latency.Bounds, []float64{0.1})) {
				t.Errorf("canary histogram = %+v; want an empty one over the baseline's bounds", canary.Latency)
			}
			if baseline.Requests == 0 && baseline.Latency == nil {
				t.Errorf("baseline = %+v; want its data", baseline)
			}
			if !strings.Contains(log.String(), tt.want) || !strings.Contains(log.String(), "arm=canary") {
				t.Errorf("log = %q; want it to say %q for the canary", log.String(), tt.want)
			}
			v := judge.Evaluate(guard[tt.metric], canary, baseline, judge.Options{CanaryPercent: 5})
			if v.Outcome != judge.Inconclusive {
				t.Errorf("judge: %s: %s; want inconclusive", v.Outcome, v.Summary)
			}
		})
	}
}

func TestArmsWarningsAreNotFatal(t *testing.T) {
	f := newFake(t, func(string) (int, string) {
		return http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]},` +
			`"warnings":["PromQL warning: encountered a mix of histograms and floats"],"infos":["PromQL info: metric might not be a counter"]}`
	})
	var log bytes.Buffer
	s := newSource(t, Config{URL: f.URL, Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	canary, _, err := s.Arms(t.Context(), query(judge.Throughput))
	if err != nil || canary.Requests != 7 {
		t.Fatalf("Arms = %+v, %v; want 7 requests", canary, err)
	}
	for _, want := range []string{"level=WARN msg=\"prometheus source: query warning\"", "mix of histograms", "might not be a counter"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log = %q; want %q", log.String(), want)
		}
	}
}

// TestArmsErrors checks every way Prometheus can fail to answer: each is a
// *QueryError that says why, never empty arms.
func TestArmsErrors(t *testing.T) {
	tests := []struct {
		name   string
		metric judge.Metric
		status int
		body   string
		want   string       // in the error message
		typ    v1.ErrorType // of the wrapped *v1.Error, if any
	}{
		{name: "bad query", status: http.StatusBadRequest,
			body: `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""}`,
			want: `prometheus requests query for the canary (variant "on"): bad_data: 1:5: parse error`, typ: v1.ErrBadData},
		{name: "execution error", status: http.StatusUnprocessableEntity,
			body: `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`,
			want: "execution: query processing would load too many samples", typ: v1.ErrExec},
		{name: "query timeout", status: http.StatusServiceUnavailable,
			body: `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`,
			want: "server_error: server error: 503", typ: v1.ErrServer},
		{name: "proxy 503", status: http.StatusServiceUnavailable, body: "<html>\n  no healthy upstream\n</html>",
			want: "server_error: server error: 503 (<html> no healthy upstream </html>)", typ: v1.ErrServer},
		{name: "500", status: http.StatusInternalServerError, body: "",
			want: "server_error: server error: 500", typ: v1.ErrServer},
		{name: "unauthorized", status: http.StatusUnauthorized, body: "unauthorized",
			want: "client_error: client error: 401 (unauthorized)", typ: v1.ErrClient},
		{name: "error envelope with 200", status: http.StatusOK,
			body: `{"status":"error","errorType":"internal","error":"something broke"}`,
			want: "internal: something broke", typ: "internal"},
		{name: "malformed JSON", status: http.StatusOK, body: `{"status":"success","data":{"resultType":"vector","result":[{`,
			want: "bad_response", typ: v1.ErrBadResponse},
		{name: "not JSON", status: http.StatusOK, body: `<html>login</html>`,
			want: "bad_response", typ: v1.ErrBadResponse},
		{name: "several series", status: http.StatusOK, body: vector("1", "2"),
			want: "the query gave 2 series where one number was expected; aggregate it, as in sum(...)"},
		{name: "range vector", status: http.StatusOK,
			body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]}]}}`,
			want: "the query gave a matrix where one number was expected"},
		{name: "string", status: http.StatusOK, body: `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`,
			want: `bad_response: unexpected value type "string"`, typ: v1.ErrBadResponse},
		{name: "buckets without +Inf", metric: judge.Latency, status: http.StatusOK, body: buckets("0.1=1", "0.5=2"),
			want: `prometheus buckets query for the canary (variant "on"): the buckets have no le="+Inf" bucket`},
		{name: "buckets without le", metric: judge.Latency, status: http.StatusOK, body: vector("3"),
			want: "a series has no le label"},
		{name: "bad le", metric: judge.Latency, status: http.StatusOK, body: buckets("fast=1", "+Inf=2"),
			want: `le="fast" is not a bucket bound`},
		{name: "duplicate le", metric: judge.Latency, status: http.StatusOK, body: buckets("0.1=1", "0.1=1", "+Inf=2"),
			want: "two series have le=0.1; aggregate them"},
		{name: "buckets as scalar", metric: judge.Latency, status: http.StatusOK,
			body: `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`,
			want: "the query gave a scalar where buckets were expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(q string) (int, string) {
				if strings.Contains(q, `variant="on"`) {
					return tt.status, tt.body
				}
				return http.StatusOK, vector("1")
			})
			m := tt.metric
			if m == "" {
				m = judge.Throughput
			}
			s := newSource(t, Config{URL: f.URL})
			_, _, err := s.Arms(t.Context(), query(m))
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Arms error = %v (%T); want a *QueryError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q; want it to contain %q", err, tt.want)
			}
			if qe.Arm != "canary" || qe.Variant != "on" || !strings.Contains(qe.Query, `variant="on"`) {
				t.Errorf("QueryError = %+v; want the canary's query", qe)
			}
			var apiErr *v1.Error
			switch {
			case tt.typ == "" && errors.As(err, &apiErr):
				t.Errorf("error wraps %v; want a shape error", apiErr)
			case tt.typ != "" && (!errors.As(err, &apiErr) || apiErr.Type != tt.typ):
				t.Errorf("error = %v; want it to wrap a *v1.Error of type %s", err, tt.typ)
			}
		})
	}
}

func TestArmsTimeout(t *testing.T) {
	f := newFake(t, func(string) (int, string) { return 0, "" }) // never answers
	s := newSource(t, Config{URL: f.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, _, err := s.Arms(t.Context(), query(judge.ErrorRate))
	took := time.Since(start)
	var qe *QueryError
	if !errors.As(err, &qe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Arms error = %v; want a *QueryError wrapping context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("error = %q; want it to say no answer within 200ms", err)
	}
	if took > 2*time.Second {
		t.Errorf("Arms took %v with a 200ms timeout", took)
	}
	if n := len(f.requests()); n != 4 {
		t.Errorf("%d queries sent; want the 4 run concurrently", n)
	}
}

func TestArmsCallerDeadline(t *testing.T) {
	f := newFake(t, func(string) (int, string) { return 0, "" })
	s := newSource(t, Config{URL: f.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, _, err := s.Arms(ctx, query(judge.Throughput))
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Arms error = %v; want the caller's deadline, not the source's timeout", err)
	}
}

func TestArmsScalar(t *testing.T) {
	f := newFake(t, func(string) (int, string) {
		return http.StatusOK, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42.5"]}}`
	})
	canary, baseline, err := newSource(t, Config{URL: f.URL}).Arms(t.Context(), query(judge.Throughput))
	if err != nil || canary.Requests != 42.5 || baseline.Requests != 42.5 {
		t.Fatalf("Arms = %+v, %+v, %v; want 42.5 requests each", canary, baseline, err)
	}
}

func TestArmsCallerCancels(t *testing.T) {
	f := newFake(t, func(string) (int, string) { return 0, "" })
	s := newSource(t, Config{URL: f.URL})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, _, err := s.Arms(ctx, query(judge.Throughput))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Arms error = %v; want context.Canceled", err)
	}
}

func TestArmsUnreachable(t *testing.T) {
	f := newFake(t, byQuery(nil))
	url := f.URL
	f.Close()
	s := newSource(t, Config{URL: url})
	_, _, err := s.Arms(t.Context(), query(judge.ErrorRate))
	var qe *QueryError
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Arms error = %v; want a *QueryError saying connection refused", err)
	}
}

// TestArmsYoungStage checks that a stage younger than the minimum window
// is not queried and gives empty arms.
func TestArmsYoungStage(t *testing.T) {
	f := newFake(t, byQuery(map[string]string{"variant": vector("1000")}))
	s := newSource(t, Config{URL: f.URL, MinWindow: 2 * time.Minute})
	for _, m := range []judge.Metric{judge.ErrorRate, judge.Latency} {
		canary, baseline, err := s.Arms(t.Context(), query(m)) // 90s old
		if err != nil || canary.Requests != 0 || baseline.Requests != 0 {
			t.Errorf("%s: Arms = %+v, %+v, %v; want empty arms", m, canary, baseline, err)
		}
		if m == judge.Latency && (canary.Latency == nil || canary.Latency.Count != 0) {
			t.Errorf("latency: canary histogram = %+v; want an empty one", canary.Latency)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d queries sent for a young stage; want none", n)
	}

	// The minimum is inclusive, and the default one minute.
	q := query(judge.Throughput)
	q.From = q.To.Add(-time.Minute)
	if _, _, err := newSource(t, Config{URL: f.URL}).Arms(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	if qs := f.queries(); len(qs) != 2 || !strings.Contains(qs[0], "[60s]") {
		t.Errorf("queries = %q; want two over [60s]", qs)
	}
}

func TestArmsCustomQueries(t *testing.T) {
	f := newFake(t, byQuery(map[string]string{
		`http_requests_total{job="shop",ff_checkout_v2="on"`:              vector("400"),
		`http_requests_total{job="shop",ff_checkout_v2="off"`:             vector("7600"),
		`http_requests_total{job="shop",code=~"5..",ff_checkout_v2="on"`:  vector("4"),
		`http_requests_total{job="shop",code=~"5..",ff_checkout_v2="off"`: vector("38"),
	}))
	q := query(judge.ErrorRate)
	q.Guard.Queries = rollout.Queries{
		Requests: `sum(increase(http_requests_total{job="shop",ff_checkout_v2="{{variant}}"}[{{window}}]))`,
		Errors:   `sum(increase(http_requests_total{job="shop",code=~"5..",ff_checkout_v2="{{variant}}"}[{{window}}]))`,
	}
	s := newSource(t, Config{URL: f.URL})
	canary, baseline, err := s.Arms(t.Context(), q)
	if err != nil {
		t.Fatalf("Arms: %v", err)
	}
	if canary != (judge.Arm{Requests: 400, Errors: 4}) || baseline != (judge.Arm{Requests: 7600, Errors: 38}) {
		t.Errorf("arms = %+v, %+v", canary, baseline)
	}

	// A template that cannot be expanded is an error before any query.
	q.Guard.Queries.Errors = `sum(increase(x{v={{variant}}}[{{window}}]))`
	n := len(f.requests())
	_, _, err = s.Arms(t.Context(), q)
	if err == nil || !strings.Contains(err.Error(), `guard "error-rate": errors query: {{variant}} must stand inside double quotes`) {
		t.Errorf("Arms error = %v; want the template's problem", err)
	}
	var qe *QueryError
	if errors.As(err, &qe) {
		t.Errorf("a bad template gave a *QueryError: %v", err)
	}
	if len(f.requests()) != n {
		t.Errorf("a bad template sent queries")
	}
}

func TestArmsBadQuery(t *testing.T) {
	f := newFake(t, byQuery(nil))
	s := newSource(t, Config{URL: f.URL})
	tests := []struct {
		name string
		edit func(*rollout.Query)
		want string
	}{
		{"no flag", func(q *rollout.Query) { q.Flag = "" }, "names no flag"},
		{"no environment", func(q *rollout.Query) { q.Environment = "" }, "no environment"},
		{"no canary", func(q *rollout.Query) { q.Canary = "" }, "no canary"},
		{"no baseline", func(q *rollout.Query) { q.Baseline = "" }, "no baseline"},
		{"no start", func(q *rollout.Query) { q.From = time.Time{} }, "has no window"},
		{"unknown metric", func(q *rollout.Query) { q.Guard.Metric = "saturation" }, `metric "saturation" has no queries`},
	}
	for _, tt := range tests {
		q := query(judge.ErrorRate)
		tt.edit(&q)
		if _, _, err := s.Arms(t.Context(), q); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Arms error = %v; want %q", tt.name, err, tt.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("bad queries sent %d requests", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "a URL is required"},
		{Config{URL: "prometheus:9090"}, "use an http or https URL"},
		{Config{URL: "ftp://prometheus"}, "use an http or https URL"},
		{Config{URL: "http://"}, "use an http or https URL"},
		{Config{URL: "http://p:9090", Timeout: -time.Second}, "timeout -1s is negative"},
		{Config{URL: "http://p:9090", MinWindow: -time.Second}, "minimum window -1s is negative"},
		{Config{URL: "http://p:9090", BearerToken: "t", Headers: http.Header{"Authorization": {"Basic x"}}}, "not both"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error = %v; want %q", tt.cfg, err, tt.want)
		}
	}
	_, err := New(Config{URL: "http://user:secret@p:9090x"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("New with a password in a bad URL: error = %v; want one without the password", err)
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestHeadersAndClient(t *testing.T) {
	f := newFake(t, byQuery(nil))
	ct := &countingTransport{}
	hdr := http.Header{"X-Scope-Orgid": {"tenant-1"}}
	s := newSource(t, Config{URL: f.URL + "/", Client: &http.Client{Transport: ct}, Headers: hdr, BearerToken: "s3cret"})
	hdr.Set("X-Scope-Orgid", "changed later") // the source keeps its own copy
	if _, _, err := s.Arms(t.Context(), query(judge.Throughput)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	for _, r := range reqs {
		if got := r.header.Get("Authorization"); got != "Bearer s3cret" {
			t.Errorf("Authorization = %q; want Bearer s3cret", got)
		}
		if got := r.header.Get("X-Scope-OrgID"); got != "tenant-1" {
			t.Errorf("X-Scope-OrgID = %q; want tenant-1", got)
		}
		if r.method != http.MethodPost {
			t.Errorf("method = %s; want POST, so that long queries fit", r.method)
		}
	}
	if ct.n != len(reqs) || ct.n != 2 {
		t.Errorf("the configured client carried %d of %d requests", ct.n, len(reqs))
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	h, err := histogram(nil)
	if err == nil {
		t.Errorf("histogram(nil) = %v; want an error", h)
	}
	// Only the +Inf bucket: a histogram the judge will call unusable, but
	// not a source failure.
	f := newFake(t, byQuery(map[string]string{"variant": buckets("+Inf=5")}))
	canary, _, err := newSource(t, Config{URL: f.URL}).Arms(t.Context(), query(judge.Latency))
	if err != nil || canary.Latency == nil || canary.Latency.Count != 5 || len(canary.Latency.Bounds) != 0 {
		t.Errorf("Arms = %+v, %v; want a count of 5 and no finite bucket", canary.Latency, err)
	}
	if !math.IsNaN(canary.Latency.Quantile(0.99)) {
		t.Errorf("quantile of a histogram without finite buckets = %v; want NaN", canary.Latency.Quantile(0.99))
	}
}
