package httpapi_test

import (
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/store/sqlite"
)

const alertsPath = "/api/v1/alerts/alertmanager"

// alert is one alert of a webhook payload.
type alert struct {
	status string
	labels map[string]string
}

// firing is a firing alert with the labels, given as name, value pairs.
func firing(labels ...string) alert { return alert{"firing", pairs(labels)} }

func resolved(labels ...string) alert { return alert{"resolved", pairs(labels)} }

func pairs(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// webhook is an Alertmanager webhook body, version 4, as Alertmanager
// 0.25 sends it, plus a field from the future that must be ignored.
func webhook(t *testing.T, alerts ...alert) string {
	t.Helper()
	status := "resolved"
	var list []map[string]any
	for i, a := range alerts {
		if a.status == "firing" {
			status = "firing"
		}
		list = append(list, map[string]any{
			"status":       a.status,
			"labels":       a.labels,
			"annotations":  map[string]string{"summary": "canary errors are up"},
			"startsAt":     "2025-03-14T09:26:53.123Z",
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus:9090/graph?g0.expr=up",
			"fingerprint":  strings.Repeat("ab", 7) + string(rune('0'+i)) + "0",
		})
	}
	b, err := json.Marshal(map[string]any{
		"version":           "4",
		"groupKey":          `{}/{ramp_flag=~".+"}:{alertname="CheckoutErrors"}`,
		"truncatedAlerts":   0,
		"status":            status,
		"receiver":          "ramp",
		"groupLabels":       map[string]string{"alertname": "CheckoutErrors"},
		"commonLabels":      map[string]string{},
		"commonAnnotations": map[string]string{},
		"externalURL":       "http://alertmanager:9093",
		"alerts":            list,
		"someFutureField":   map[string]any{"nested": []int{1, 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type alertAnswer struct {
	RolledBack []struct{ Flag, Environment, Alert string }         `json:"rolledBack"`
	Ignored    []struct{ Alert, Reason, Flag, Environment string } `json:"ignored"`
}

// alertEnv is a test server with a flag "checkout" at 5% in production,
// a running rollout of it, and an admin token named "alertmanager".
type alertEnv struct {
	*testEnv
	amToken   string
	rolloutID int64
}

func newAlertEnv(t *testing.T) *alertEnv {
	t.Helper()
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/percentage", `{"percentage":5}`).want(t, 200)
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/staging/percentage", `{"percentage":50}`).want(t, 200)
	r, err := e.store.CreateRollout(t.Context(), ramp.Change{Actor: "alice"}, &ramp.Rollout{
		Flag: "checkout", Environment: "production", Status: ramp.RolloutRunning,
		Plan: json.RawMessage(`{"stages":[{"percent":5},{"percent":100}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := e.newToken("alertmanager", ramp.TokenAdmin, "")
	return &alertEnv{testEnv: e, amToken: tok, rolloutID: r.ID}
}

func (e *alertEnv) post(body string) alertAnswer {
	e.t.Helper()
	var a alertAnswer
	e.do(e.amToken, "POST", alertsPath, body).want(e.t, 200).decode(e.t, &a)
	return a
}

func (e *alertEnv) on(env string) bool {
	e.t.Helper()
	fe := e.flag("checkout").Environments[env]
	return fe != nil && fe.On
}

func (e *alertEnv) rolloutStatus() ramp.RolloutStatus {
	e.t.Helper()
	r, err := e.store.GetRollout(e.t.Context(), e.rolloutID)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.Status
}

// TestAlertRollsBackAndAbortsTheRollout is the on-call story: a critical
// alert naming the flag turns it off in production and aborts its
// rollout, audited under the alert's name; Alertmanager's repeated
// notifications of the same alert change nothing more.
func TestAlertRollsBackAndAbortsTheRollout(t *testing.T) {
	e := newAlertEnv(t)
	before := len(e.audit())

	a := e.post(webhook(t, firing("alertname", "CheckoutErrors", "severity", "critical", "ramp_flag", "checkout")))
	if len(a.RolledBack) != 1 || len(a.Ignored) != 0 {
		t.Fatalf("answer %+v, want one rollback", a)
	}
	if rb := a.RolledBack[0]; rb.Flag != "checkout" || rb.Environment != "production" || rb.Alert != "CheckoutErrors" {
		t.Errorf("rolled back %+v", rb)
	}
	if e.on("production") {
		t.Error("production is still on")
	}
	if pct := e.flag("checkout").Percentage("production"); pct != 0 {
		t.Errorf("production at %v%%", pct)
	}
	if !e.on("staging") {
		t.Error("staging was turned off too; the alert named production")
	}
	if st := e.rolloutStatus(); st != ramp.RolloutAborted {
		t.Errorf("rollout %s, want aborted", st)
	}

	const actor = "alertmanager (alert CheckoutErrors)"
	entries := e.audit()
	if len(entries) != before+2 {
		t.Fatalf("%d new audit rows, want 2 (flag.rollback, rollout.abort)", len(entries)-before)
	}
	var sawRollback, sawAbort bool
	for _, en := range entries[:2] {
		if en.Actor != actor || en.Key != "checkout" || en.Environment != "production" {
			t.Errorf("audit row %s by %q on %s/%s", en.Action, en.Actor, en.Key, en.Environment)
		}
		sawRollback = sawRollback || en.Action == ramp.ActionFlagRollback
		sawAbort = sawAbort || en.Action == ramp.ActionRolloutAbort
	}
	if !sawRollback || !sawAbort {
		t.Errorf("new audit rows %s and %s, want flag.rollback and rollout.abort", entries[0].Action, entries[1].Action)
	}

	// Alertmanager repeats the notification while the alert fires.
	for range 3 {
		a = e.post(webhook(t, firing("alertname", "CheckoutErrors", "severity", "critical", "ramp_flag", "checkout")))
		if len(a.RolledBack) != 0 || len(a.Ignored) != 1 || !strings.Contains(a.Ignored[0].Reason, "already off") {
			t.Fatalf("repeat: %+v, want it ignored as already off", a)
		}
	}
	if n := len(e.audit()); n != before+2 {
		t.Errorf("repeated notifications wrote %d more audit rows", n-before-2)
	}
}

func TestAlertNamesTheEnvironment(t *testing.T) {
	e := newAlertEnv(t)
	a := e.post(webhook(t, firing("alertname", "StagingErrors", "severity", "critical", "ramp_flag", "checkout", "ramp_env", "staging")))
	if len(a.RolledBack) != 1 || a.RolledBack[0].Environment != "staging" {
		t.Fatalf("answer %+v, want staging rolled back", a)
	}
	if e.on("staging") || !e.on("production") {
		t.Errorf("staging on %v, production on %v; want off and on", e.on("staging"), e.on("production"))
	}
	if st := e.rolloutStatus(); st != ramp.RolloutRunning {
		t.Errorf("the production rollout is %s; a staging alert must leave it running", st)
	}
}

// TestAlertsIgnored checks every alert that must not roll anything back:
// each is listed with its reason, in a 200 answer that Alertmanager does
// not retry, and nothing is written.
func TestAlertsIgnored(t *testing.T) {
	e := newAlertEnv(t)
	before := len(e.audit())
	cases := []struct {
		alert  alert
		reason string
	}{
		{firing("alertname", "Warn", "severity", "warning", "ramp_flag", "checkout"), `severity "warning"`},
		{firing("alertname", "NoSeverity", "ramp_flag", "checkout"), `severity ""`},
		{resolved("alertname", "Resolved", "severity", "critical", "ramp_flag", "checkout"), "resolved"},
		{firing("alertname", "NoFlag", "severity", "critical"), "no ramp_flag label"},
		{firing("alertname", "Unknown", "severity", "critical", "ramp_flag", "no-such-flag"), `flag "no-such-flag" does not exist`},
		{firing("alertname", "BadKey", "severity", "critical", "ramp_flag", "Not A Key!"), "is not a flag key"},
		{firing("alertname", "BadEnv", "severity", "critical", "ramp_flag", "checkout", "ramp_env", "moon"), `environment "moon" does not exist`},
	}
	var alerts []alert
	for _, c := range cases {
		alerts = append(alerts, c.alert)
	}
	a := e.post(webhook(t, alerts...))
	if len(a.RolledBack) != 0 {
		t.Errorf("rolled back %+v", a.RolledBack)
	}
	if len(a.Ignored) != len(cases) {
		t.Fatalf("%d ignored, want %d: %+v", len(a.Ignored), len(cases), a.Ignored)
	}
	for i, c := range cases {
		got := a.Ignored[i]
		if got.Alert != c.alert.labels["alertname"] || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("ignored[%d] = %+v, want alert %s with a reason containing %q", i, got, c.alert.labels["alertname"], c.reason)
		}
	}
	if !e.on("production") || e.rolloutStatus() != ramp.RolloutRunning {
		t.Error("an ignored alert changed the flag or its rollout")
	}
	if n := len(e.audit()); n != before {
		t.Errorf("%d audit rows written for ignored alerts", n-before)
	}
	// A group with no alert left is an answer, not an error.
	if a := e.post(`{"version":"4","status":"resolved","alerts":[]}`); len(a.RolledBack)+len(a.Ignored) != 0 {
		t.Errorf("empty group: %+v", a)
	}
}

// TestAlertGroup sends one group naming the flag twice and another flag
// once: each flag is rolled back once.
func TestAlertGroup(t *testing.T) {
	e := newAlertEnv(t)
	e.createFlag(boolFlag("search"))
	e.do(e.alice, "POST", "/api/v1/flags/search/environments/production/percentage", `{"percentage":10}`).want(t, 200)
	a := e.post(webhook(t,
		firing("alertname", "CheckoutErrors", "severity", "critical", "ramp_flag", "checkout", "instance", "a"),
		firing("alertname", "CheckoutErrors", "severity", "critical", "ramp_flag", "checkout", "instance", "b"),
		firing("alertname", "SearchLatency", "severity", "CRITICAL", "ramp_flag", "search"),
	))
	if len(a.RolledBack) != 2 || a.RolledBack[0].Flag != "checkout" || a.RolledBack[1].Flag != "search" {
		t.Errorf("rolled back %+v, want checkout then search", a.RolledBack)
	}
	if len(a.Ignored) != 1 || !strings.Contains(a.Ignored[0].Reason, "already off") {
		t.Errorf("ignored %+v, want the second checkout alert as already off", a.Ignored)
	}
}

func TestAlertSeveritiesConfigured(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sum := sha256.Sum256([]byte(rootToken))
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, AdminTokenHash: sum[:], AlertSeverities: []string{"Page", "sev1"}}))
	t.Cleanup(srv.Close)
	do := func(method, path, body string) response {
		return doRequest(t, srv.Client(), srv.URL, rootToken, method, path, body)
	}
	do("POST", "/api/v1/flags", boolFlag("checkout")).want(t, 201)
	do("POST", "/api/v1/flags/checkout/environments/production/percentage", `{"percentage":5}`).want(t, 200)
	var a alertAnswer
	do("POST", alertsPath, webhook(t, firing("alertname", "Crit", "severity", "critical", "ramp_flag", "checkout"))).want(t, 200).decode(t, &a)
	if len(a.RolledBack) != 0 || !strings.Contains(a.Ignored[0].Reason, "(page, sev1)") {
		t.Errorf("critical with severities page, sev1: %+v", a)
	}
	do("POST", alertsPath, webhook(t, firing("alertname", "Page", "severity", "page", "ramp_flag", "checkout"))).want(t, 200).decode(t, &a)
	if len(a.RolledBack) != 1 {
		t.Errorf("page: %+v, want a rollback", a)
	}
	var entries struct{ Entries []ramp.AuditEntry }
	do("GET", "/api/v1/audit?flag=checkout&limit=1", "").want(t, 200).decode(t, &entries)
	if got := entries.Entries[0].Actor; got != "admin (alert Page)" {
		t.Errorf("actor %q, want admin (alert Page)", got)
	}
}

func TestAlertBadRequests(t *testing.T) {
	e := newAlertEnv(t)
	body := webhook(t, firing("alertname", "CheckoutErrors", "severity", "critical", "ramp_flag", "checkout"))

	e.do("", "POST", alertsPath, body).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("wrong-token", "POST", alertsPath, body).problem(t, 401, ramp.EUNAUTHORIZED)
	sdk, _ := e.newToken("sdk", ramp.TokenSDK, "production")
	e.do(sdk, "POST", alertsPath, body).problem(t, 403, ramp.EFORBIDDEN)

	for _, bad := range []string{
		"",
		"not json",
		`{"alerts":[`,
		`[]`,
		`null`,
		`{"version":"4","status":"firing"}`,
		`{"alerts":"CheckoutErrors"}`,
		`{"alerts":[{"labels":{"ramp_flag":1}}]}`,
	} {
		e.do(e.amToken, "POST", alertsPath, bad).problem(t, 400, ramp.EBADREQUEST)
	}
	huge := `{"alerts":[],"pad":"` + strings.Repeat("x", httpapi.DefaultMaxBodyBytes) + `"}`
	e.do(e.amToken, "POST", alertsPath, huge).problem(t, 413, ramp.ETOOLARGE)

	if !e.on("production") || e.rolloutStatus() != ramp.RolloutRunning {
		t.Error("a refused request changed the flag")
	}
}

// TestAlertAbortsTheRolloutOfAFlagTurnedOff covers a flag someone turned
// off by hand while its rollout went on: the alert must still abort the
// rollout, which would otherwise turn the flag back on at its next stage.
func TestAlertAbortsTheRolloutOfAFlagTurnedOff(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sum := sha256.Sum256([]byte(rootToken))
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, AdminTokenHash: sum[:], RolloutStore: st}))
	t.Cleanup(srv.Close)
	do := func(method, path, body string) response {
		return doRequest(t, srv.Client(), srv.URL, rootToken, method, path, body)
	}
	do("POST", "/api/v1/flags", boolFlag("checkout")).want(t, 201)
	r, err := st.CreateRollout(t.Context(), ramp.Change{Actor: "alice"}, &ramp.Rollout{
		Flag: "checkout", Environment: "production", Status: ramp.RolloutRunning,
		Plan: json.RawMessage(`{"stages":[{"percent":5},{"percent":100}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	body := webhook(t, firing("alertname", "CheckoutErrors", "severity", "critical", "ramp_flag", "checkout"))
	var a alertAnswer
	do("POST", alertsPath, body).want(t, 200).decode(t, &a)
	if len(a.RolledBack) != 1 {
		t.Fatalf("answer %+v, want a rollback", a)
	}
	if got, err := st.GetRollout(t.Context(), r.ID); err != nil || got.Status != ramp.RolloutAborted {
		t.Fatalf("rollout %v (%v), want aborted", got.Status, err)
	}
	// Now that nothing can turn it back on, a repeat is a no-op.
	do("POST", alertsPath, body).want(t, 200).decode(t, &a)
	if len(a.RolledBack) != 0 || len(a.Ignored) != 1 || !strings.Contains(a.Ignored[0].Reason, "already off") {
		t.Errorf("repeat: %+v, want it ignored as already off", a)
	}
}
