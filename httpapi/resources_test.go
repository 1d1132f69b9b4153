package httpapi_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/store/sqlite"
)

func TestTokens(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))

	var created struct {
		Token       string `json:"token"`
		ID          string `json:"id"`
		Name        string `json:"name"`
		Kind        string `json:"kind"`
		Environment string `json:"environment"`
		CreatedBy   string `json:"createdBy"`
	}
	res := e.do(e.alice, "POST", "/api/v1/tokens", `{"name":"web","kind":"sdk","environment":"production"}`).want(t, 201)
	res.decode(t, &created)
	if !strings.HasPrefix(created.Token, "ramp_sdk_"+created.ID+"_") || created.Name != "web" || created.Kind != "sdk" ||
		created.Environment != "production" || created.CreatedBy != "alice" {
		t.Errorf("created token %s", res.body)
	}
	if a := e.audit()[0]; a.Action != ramp.ActionTokenCreate || a.Actor != "alice" || strings.Contains(string(a.After), created.Token) {
		t.Errorf("audit entry %+v", a)
	}

	res = e.do(e.alice, "GET", "/api/v1/tokens", nil).want(t, 200)
	if secret := created.Token[strings.LastIndex(created.Token, "_")+1:]; strings.Contains(string(res.body), secret) ||
		strings.Contains(string(res.body), `"hash"`) || strings.Contains(string(res.body), `"token"`) {
		t.Errorf("token list shows secrets: %s", res.body)
	}
	var list struct {
		Tokens []ramp.Token `json:"tokens"`
	}
	res.decode(t, &list)
	if len(list.Tokens) != 2 { // alice and web
		t.Errorf("tokens %s", res.body)
	}

	// An SDK token is a valid credential, but not for the admin API.
	e.do(created.Token, "GET", "/api/v1/flags/checkout", nil).problem(t, 403, ramp.EFORBIDDEN)

	// X-API-Key works as well as Authorization.
	res = e.do("", "GET", "/api/v1/flags/checkout", nil, "X-API-Key", e.alice).want(t, 200)

	// A token made by a token acts under its own name.
	bob, bobID := e.newToken("bob", ramp.TokenAdmin, "")
	e.do(bob, "POST", "/api/v1/flags/checkout/environments/staging/rollback", nil).want(t, 200)
	if a := e.audit()[0]; a.Actor != "bob" {
		t.Errorf("actor %q, want bob", a.Actor)
	}
	e.do(e.alice, "DELETE", "/api/v1/tokens/"+bobID, nil).want(t, 204)
	e.do(bob, "GET", "/api/v1/flags", nil).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do(e.alice, "DELETE", "/api/v1/tokens/"+bobID, nil).problem(t, 404, ramp.ENOTFOUND)
	if a := e.audit()[0]; a.Action != ramp.ActionTokenRevoke || a.Actor != "alice" {
		t.Errorf("audit entry %+v", a)
	}

	// The configured admin token acts as "admin".
	e.do(rootToken, "POST", "/api/v1/flags/checkout/environments/staging/rollback", nil).want(t, 200)
	if a := e.audit()[0]; a.Actor != httpapi.AdminActor {
		t.Errorf("actor %q, want %q", a.Actor, httpapi.AdminActor)
	}
}

func TestSegments(t *testing.T) {
	e := newTestEnv(t)
	res := e.do(e.alice, "POST", "/api/v1/segments",
		`{"key":"beta","name":"Beta testers","included":["u1","u2"],"rules":[{"clauses":[{"attribute":"plan","op":"equals","values":["pro"]}]}]}`).
		want(t, 201)
	if res.header.Get("Location") != "/api/v1/segments/beta" || res.header.Get("ETag") != `"1"` {
		t.Errorf("headers %v", res.header)
	}
	e.do(e.alice, "POST", "/api/v1/segments", `{"key":"beta"}`).problem(t, 409, ramp.ECONFLICT)
	p := e.do(e.alice, "POST", "/api/v1/segments", `{"key":"bad","rules":[{"clauses":[{"op":"inSegment","values":["beta"]}]}]}`).
		problem(t, 422, ramp.EINVALID)
	if !p.hasField("rules[0].clauses[0].op") {
		t.Errorf("errors %+v", p.Errors)
	}

	res = e.do(e.alice, "GET", "/api/v1/segments/beta", nil).want(t, 200)
	if res.header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", res.header.Get("ETag"))
	}
	res = e.do(e.alice, "PUT", "/api/v1/segments/beta", `{"included":["u3"]}`, "If-Match", `"1"`).want(t, 200)
	var sg ramp.Segment
	res.decode(t, &sg)
	if sg.Version != 2 || len(sg.Included) != 1 || len(sg.Rules) != 0 || res.header.Get("ETag") != `"2"` {
		t.Errorf("after PUT %s", res.body)
	}
	e.do(e.alice, "PUT", "/api/v1/segments/beta", `{"included":["u4"]}`, "If-Match", `"1"`).problem(t, 409, ramp.ECONFLICT)
	e.do(e.alice, "PUT", "/api/v1/segments/beta", `{"key":"gamma"}`).problem(t, 422, ramp.EINVALID)

	// A segment in use cannot be deleted.
	e.createFlag(strings.Replace(ruleWith(`{"op":"inSegment","values":["beta"]}`), "checkout", "gated", 1))
	e.do(e.alice, "DELETE", "/api/v1/segments/beta", nil).problem(t, 409, ramp.ECONFLICT)
	e.do(e.alice, "DELETE", "/api/v1/flags/gated", nil).want(t, 204)
	e.do(e.alice, "DELETE", "/api/v1/segments/beta", nil, "If-Match", `"1"`).problem(t, 409, ramp.ECONFLICT)
	e.do(e.alice, "DELETE", "/api/v1/segments/beta", nil, "If-Match", `"2"`).want(t, 204)

	var list struct {
		Segments []ramp.Segment `json:"segments"`
	}
	e.do(e.alice, "GET", "/api/v1/segments", nil).want(t, 200).decode(t, &list)
	if list.Segments == nil || len(list.Segments) != 0 {
		t.Errorf("segments %+v, want an empty list", list.Segments)
	}
	kinds := map[string]int{}
	for _, a := range e.audit() {
		if a.Kind == "segment" && a.Actor == "alice" {
			kinds[a.Action]++
		}
	}
	if kinds[ramp.ActionSegmentCreate] != 1 || kinds[ramp.ActionSegmentUpdate] != 1 || kinds[ramp.ActionSegmentDelete] != 1 {
		t.Errorf("segment audit actions %v", kinds)
	}
}

func TestEnvironmentsAndSnapshot(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	e.do(e.alice, "POST", "/api/v1/segments", `{"key":"beta","included":["u1"]}`).want(t, 201)

	var env ramp.Environment
	e.do(e.alice, "POST", "/api/v1/environments", `{"key":"dev","name":"Development"}`).want(t, 201).decode(t, &env)
	if env.Key != "dev" || env.CreatedAt.IsZero() {
		t.Errorf("created %+v", env)
	}
	e.do(e.alice, "POST", "/api/v1/environments", `{"key":"Dev Env"}`).problem(t, 422, ramp.EINVALID)
	e.do(e.alice, "POST", "/api/v1/environments", `{"key":"dev"}`).problem(t, 409, ramp.ECONFLICT)

	var envs struct {
		Environments []ramp.Environment `json:"environments"`
	}
	e.do(e.alice, "GET", "/api/v1/environments", nil).want(t, 200).decode(t, &envs)
	var keys []string
	for _, e := range envs.Environments {
		keys = append(keys, e.Key)
	}
	if strings.Join(keys, ",") != "dev,production,staging" {
		t.Errorf("environments %v", keys)
	}
	if fe := e.flag("checkout").Environments["dev"]; fe == nil || fe.On {
		t.Errorf("new environment state of checkout: %+v", fe)
	}

	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/dev/percentage", `{"percentage":50}`).want(t, 200)
	var snap struct {
		Environment string          `json:"environment"`
		Flags       []*ramp.Flag    `json:"flags"`
		Segments    []*ramp.Segment `json:"segments"`
	}
	e.do(e.alice, "GET", "/api/v1/environments/dev/snapshot", nil).want(t, 200).decode(t, &snap)
	if snap.Environment != "dev" || len(snap.Flags) != 1 || len(snap.Segments) != 1 || snap.Segments[0].Key != "beta" {
		t.Fatalf("snapshot %+v", snap)
	}
	f := snap.Flags[0]
	if len(f.Environments) != 1 || f.Environments["dev"] == nil || !f.Environments["dev"].On || f.Salt == "" {
		t.Errorf("snapshot flag %+v", f)
	}
	e.do(e.alice, "GET", "/api/v1/environments/moon/snapshot", nil).problem(t, 404, ramp.ENOTFOUND)

	e.do(e.alice, "DELETE", "/api/v1/environments/dev", nil).want(t, 204)
	e.do(e.alice, "DELETE", "/api/v1/environments/dev", nil).problem(t, 404, ramp.ENOTFOUND)
	if a := e.audit()[0]; a.Action != ramp.ActionEnvironmentDelete || a.Actor != "alice" {
		t.Errorf("audit entry %+v", a)
	}
}

func TestAudit(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	e.createFlag(boolFlag("search"))
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/percentage", `{"percentage":5}`).want(t, 200)
	e.do(rootToken, "POST", "/api/v1/flags/checkout/environments/production/rollback", nil).want(t, 200)

	list := func(query string) []ramp.AuditEntry {
		t.Helper()
		var out struct {
			Entries []ramp.AuditEntry `json:"entries"`
		}
		e.do(e.alice, "GET", "/api/v1/audit"+query, nil).want(t, 200).decode(t, &out)
		if out.Entries == nil {
			t.Fatalf("audit%s: entries is null, want a list", query)
		}
		return out.Entries
	}
	actions := func(entries []ramp.AuditEntry) string {
		var s []string
		for _, a := range entries {
			s = append(s, a.Action)
		}
		return strings.Join(s, " ")
	}

	if got := actions(list("?flag=checkout")); got != "flag.rollback flag.percentage flag.create" {
		t.Errorf("flag=checkout: %s", got)
	}
	if got := actions(list("?kind=flag&key=checkout&actor=alice")); got != "flag.percentage flag.create" {
		t.Errorf("actor=alice: %s", got)
	}
	if got := actions(list("?kind=token")); got != "token.create" {
		t.Errorf("kind=token: %s", got)
	}
	all := list("")
	if len(all) != 5 {
		t.Fatalf("%d entries, want 5", len(all))
	}
	if got := list("?limit=2"); len(got) != 2 || got[0].ID != all[0].ID {
		t.Errorf("limit=2: %+v", got)
	}
	if got := list(fmt.Sprintf("?before=%d&limit=2", all[1].ID)); len(got) != 2 || got[0].ID != all[2].ID {
		t.Errorf("before: %+v", got)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if got := list("?since=" + future); len(got) != 0 {
		t.Errorf("since the future: %d entries", len(got))
	}
	if got := list("?until=" + future); len(got) != 5 {
		t.Errorf("until the future: %d entries", len(got))
	}
}

func TestHealth(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvWith(t, st, st)

	res := e.do("", "GET", "/healthz", nil).want(t, 200)
	if strings.TrimSpace(string(res.body)) != `{"status":"ok"}` {
		t.Errorf("healthz %s", res.body)
	}
	var ready struct {
		Status     string `json:"status"`
		Migrations struct {
			Current int `json:"current"`
			Latest  int `json:"latest"`
		} `json:"migrations"`
	}
	res = e.do("", "GET", "/readyz", nil).want(t, 200)
	res.decode(t, &ready)
	if ready.Status != "ready" || ready.Migrations.Current < 1 || ready.Migrations.Current != ready.Migrations.Latest {
		t.Errorf("readyz %s", res.body)
	}
	for _, h := range []string{"X-Content-Type-Options", "Cache-Control", "Content-Security-Policy"} {
		if res.header.Get(h) == "" {
			t.Errorf("readyz lacks %s", h)
		}
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	e.do("", "GET", "/readyz", nil).problem(t, 503, ramp.EUNAVAILABLE)
	e.do("", "GET", "/healthz", nil).want(t, 200)
	if !strings.Contains(e.logs.String(), "request failed") {
		t.Errorf("the failed readiness check is not logged:\n%s", e.logs.String())
	}
}

// failingStore fails ListFlags with an error whose text must stay in the
// log.
type failingStore struct {
	*sqlite.Store
}

func (failingStore) ListFlags(context.Context) ([]*ramp.Flag, error) {
	return nil, errors.New("SELECT * FROM flags: disk I/O error at /var/lib/ramp")
}

func (failingStore) ListSegments(context.Context) ([]*ramp.Segment, error) {
	panic("segments exploded")
}

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := newTestEnvWith(t, st, failingStore{st})

	for _, path := range []string{"/api/v1/flags", "/api/v1/segments"} {
		res := e.do(e.alice, "GET", path, nil)
		p := res.problem(t, 500, ramp.EINTERNAL)
		if p.Detail != "internal error" || strings.Contains(string(res.body), "SELECT") || strings.Contains(string(res.body), "exploded") {
			t.Errorf("%s: answer shows internals: %s", path, res.body)
		}
	}
	logs := e.logs.String()
	for _, want := range []string{"disk I/O error at /var/lib/ramp", "segments exploded", "path=/api/v1/flags"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := httpapi.PrincipalFromContext(context.Background()); ok {
		t.Error("a bare context has a principal")
	}
	want := httpapi.Principal{Name: "web", Kind: ramp.TokenSDK, Environment: "production", TokenID: "abc"}
	got, ok := httpapi.PrincipalFromContext(httpapi.WithPrincipal(context.Background(), want))
	if !ok || got != want {
		t.Errorf("got %+v, %v", got, ok)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for name, cfg := range map[string]httpapi.Config{
		"no store":          {},
		"short token hash":  {Store: st, AdminTokenHash: []byte("abc")},
		"negative max body": {Store: st, MaxBodyBytes: -1},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			httpapi.New(cfg)
		})
	}
	// A smaller body limit is honoured and named in the message.
	sum := sha256.Sum256([]byte(rootToken))
	h := httpapi.New(httpapi.Config{Store: st, MaxBodyBytes: 100, AdminTokenHash: sum[:]})
	req := httptest.NewRequest("POST", "/api/v1/flags", strings.NewReader(boolFlag(strings.Repeat("x", 100))))
	req.Header.Set("Authorization", "Bearer "+rootToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if p := res.problem(t, 413, ramp.ETOOLARGE); !strings.Contains(p.Detail, "100 bytes") {
		t.Errorf("detail %q does not name the limit", p.Detail)
	}
}
