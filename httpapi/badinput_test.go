package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

// checkoutWith returns the JSON of flag checkout (boolean, on/off) with the
// production state given as JSON.
func checkoutWith(production string) string {
	return `{"key":"checkout","type":"boolean","variants":[{"key":"on","value":true},{"key":"off","value":false}],` +
		`"defaultVariant":"off","environments":{"production":` + production + `}}`
}

// ruleWith returns a production state with one rule of the clause.
func ruleWith(clause string) string {
	return checkoutWith(`{"on":true,"rules":[{"clauses":[` + clause + `],"serve":{"variant":"on"}}],"fallthrough":{"variant":"off"}}`)
}

// TestBadInput sends requests the API must refuse, and checks the status,
// the problem document and that nothing was stored: the flag's version,
// the number of flags and the number of audit entries are unchanged.
func TestBadInput(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	sdk, _ := e.newToken("web", ramp.TokenSDK, "production")
	revoked, revokedID := e.newToken("gone", ramp.TokenAdmin, "")
	e.do(e.alice, "DELETE", "/api/v1/tokens/"+revokedID, nil).want(t, 204)
	unknown, _, _ := ramp.NewToken(ramp.TokenAdmin)

	tokens := map[string]string{
		"":        e.alice,
		"none":    "",
		"unknown": unknown,
		"garbage": "hunter2",
		"revoked": revoked,
		"sdk":     sdk,
		"cut":     e.alice[:len(e.alice)-1],
	}
	huge := `{"key":"checkout","type":"boolean","description":"` + strings.Repeat("x", 1<<20) + `"}`

	tests := []struct {
		name         string
		token        string // key of tokens
		method, path string
		body         string
		hdr          []string
		status       int
		code         string
		field        string // an errors[].field the answer must name
		detail       string // text the detail must hold
	}{
		// Flags that parse but break a rule.
		{name: "bad key", method: "POST", path: "/api/v1/flags", body: boolFlag("Bad Key!"),
			status: 422, code: ramp.EINVALID, field: "key"},
		{name: "unknown type", method: "PUT", path: "/api/v1/flags/checkout",
			body:   `{"type":"colour","variants":[{"key":"on","value":true}],"defaultVariant":"on"}`,
			status: 422, code: ramp.EINVALID, field: "type"},
		{name: "variant value of wrong type", method: "PUT", path: "/api/v1/flags/checkout",
			body:   `{"type":"boolean","variants":[{"key":"on","value":"yes"},{"key":"off","value":false}],"defaultVariant":"off"}`,
			status: 422, code: ramp.EINVALID, field: "variants[0].value"},
		{name: "unknown variant in split", method: "PUT", path: "/api/v1/flags/checkout",
			body:   checkoutWith(`{"on":true,"fallthrough":{"split":[{"variant":"maybe","percent":50},{"variant":"off","percent":50}]}}`),
			status: 422, code: ramp.EINVALID, field: "environments.production.fallthrough.split[0].variant"},
		{name: "split not adding up to 100", method: "PUT", path: "/api/v1/flags/checkout",
			body:   checkoutWith(`{"on":true,"fallthrough":{"split":[{"variant":"on","percent":50},{"variant":"off","percent":40}]}}`),
			status: 422, code: ramp.EINVALID, field: "environments.production.fallthrough.split"},
		{name: "bad regular expression", method: "PUT", path: "/api/v1/flags/checkout",
			body:   ruleWith(`{"attribute":"email","op":"matches","values":["("]}`),
			status: 422, code: ramp.EINVALID, field: "environments.production.rules[0].clauses[0].values[0]"},
		{name: "unknown operator", method: "PUT", path: "/api/v1/flags/checkout",
			body:   ruleWith(`{"attribute":"email","op":"like","values":["a"]}`),
			status: 422, code: ramp.EINVALID, field: "environments.production.rules[0].clauses[0].op"},
		{name: "non-numeric value for gt", method: "PUT", path: "/api/v1/flags/checkout",
			body:   ruleWith(`{"attribute":"age","op":"gt","values":["abc"]}`),
			status: 422, code: ramp.EINVALID, field: "environments.production.rules[0].clauses[0].values[0]"},
		{name: "unknown segment", method: "PUT", path: "/api/v1/flags/checkout",
			body:   ruleWith(`{"op":"inSegment","values":["ghosts"]}`),
			status: 422, code: ramp.EINVALID, field: "environments.production.rules[0].clauses[0].values[0]"},
		{name: "unknown environment in body", method: "PUT", path: "/api/v1/flags/checkout",
			body:   strings.Replace(checkoutWith(`{"fallthrough":{"variant":"off"}}`), `"production"`, `"moon"`, 1),
			status: 422, code: ramp.EINVALID, field: "environments.moon"},
		{name: "key differs from path", method: "PUT", path: "/api/v1/flags/checkout", body: boolFlag("other"),
			status: 422, code: ramp.EINVALID, field: "key"},
		{name: "duplicate key", method: "POST", path: "/api/v1/flags", body: boolFlag("checkout"),
			status: 409, code: ramp.ECONFLICT, detail: "already exists"},

		// Percentages.
		{name: "percentage -1", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":-1}`, status: 422, code: ramp.EINVALID, field: "percentage", detail: "invalid"},
		{name: "percentage 101", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":101}`, status: 422, code: ramp.EINVALID, field: "percentage"},
		{name: "percentage 12.3456", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":12.3456}`, status: 422, code: ramp.EINVALID, field: "percentage"},
		{name: "percentage as a string", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":"abc"}`, status: 400, code: ramp.EBADREQUEST, field: "percentage", detail: "must be a number"},
		{name: "percentage NaN", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":NaN}`, status: 400, code: ramp.EBADREQUEST, detail: "not valid JSON at offset 15"},
		{name: "percentage missing", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"variant":"on"}`, status: 422, code: ramp.EINVALID, field: "percentage", detail: "invalid"},
		{name: "percentage of an unknown variant", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":5,"variant":"maybe"}`, status: 422, code: ramp.EINVALID, field: "variant"},
		{name: "percentage of the off variant", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":5,"variant":"off"}`, status: 422, code: ramp.EINVALID, field: "variant"},
		{name: "percentage in an unknown environment", method: "POST", path: "/api/v1/flags/checkout/environments/moon/percentage",
			body: `{"percentage":5}`, status: 404, code: ramp.ENOTFOUND, detail: `environment "moon"`},
		{name: "percentage of an unknown flag", method: "POST", path: "/api/v1/flags/nope/environments/production/percentage",
			body: `{"percentage":5}`, status: 404, code: ramp.ENOTFOUND, detail: `"nope"`},
		{name: "rollback in an unknown environment", method: "POST", path: "/api/v1/flags/checkout/environments/moon/rollback",
			status: 404, code: ramp.ENOTFOUND},

		// Bodies that do not parse.
		{name: "body over 1 MiB", method: "PUT", path: "/api/v1/flags/checkout", body: huge,
			status: 413, code: ramp.ETOOLARGE, detail: "1 MiB"},
		{name: "create body over 1 MiB", method: "POST", path: "/api/v1/flags", body: huge,
			status: 413, code: ramp.ETOOLARGE},
		{name: "unknown field", method: "PUT", path: "/api/v1/flags/checkout",
			body:   strings.Replace(boolFlag("checkout"), `{`, `{"colour":"red",`, 1),
			status: 400, code: ramp.EBADREQUEST, field: "colour", detail: `unknown field "colour" in body`},
		{name: "unknown field in percentage", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percent":5}`, status: 400, code: ramp.EBADREQUEST, field: "percent"},
		{name: "trailing garbage", method: "PUT", path: "/api/v1/flags/checkout", body: boolFlag("checkout") + "}",
			status: 400, code: ramp.EBADREQUEST, detail: "after the JSON value"},
		{name: "two values", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":5} {"percentage":6}`, status: 400, code: ramp.EBADREQUEST, detail: "after the JSON value"},
		{name: "truncated JSON", method: "PUT", path: "/api/v1/flags/checkout", body: `{"key":"checkout",`,
			status: 400, code: ramp.EBADREQUEST, detail: "ends before the value is complete"},
		{name: "not JSON", method: "PUT", path: "/api/v1/flags/checkout", body: `key=checkout`,
			status: 400, code: ramp.EBADREQUEST, detail: "not valid JSON at offset"},
		{name: "field of the wrong JSON type", method: "PUT", path: "/api/v1/flags/checkout",
			body: `{"key":"checkout","variants":"on"}`, status: 400, code: ramp.EBADREQUEST, field: "variants"},
		{name: "empty body", method: "PUT", path: "/api/v1/flags/checkout",
			status: 400, code: ramp.EBADREQUEST, detail: "empty"},

		// Versions.
		{name: "stale If-Match", method: "PUT", path: "/api/v1/flags/checkout", body: boolFlag("checkout"),
			hdr: []string{"If-Match", `"7"`}, status: 409, code: ramp.ECONFLICT, detail: "version"},
		{name: "stale body version", method: "PUT", path: "/api/v1/flags/checkout",
			body:   strings.Replace(boolFlag("checkout"), `{`, `{"version":7,`, 1),
			status: 409, code: ramp.ECONFLICT},
		{name: "malformed If-Match", method: "PUT", path: "/api/v1/flags/checkout", body: boolFlag("checkout"),
			hdr: []string{"If-Match", `W/"1"`}, status: 400, code: ramp.EBADREQUEST, detail: "If-Match"},
		{name: "If-Match and body version disagree", method: "PUT", path: "/api/v1/flags/checkout",
			body: strings.Replace(boolFlag("checkout"), `{`, `{"version":2,`, 1), hdr: []string{"If-Match", `"1"`},
			status: 400, code: ramp.EBADREQUEST, detail: "disagree"},
		{name: "stale delete", method: "DELETE", path: "/api/v1/flags/checkout", hdr: []string{"If-Match", `"9"`},
			status: 409, code: ramp.ECONFLICT},
		{name: "stale percentage", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":5}`, hdr: []string{"If-Match", `"9"`}, status: 409, code: ramp.ECONFLICT},

		// Credentials.
		{name: "no token", token: "none", method: "PUT", path: "/api/v1/flags/checkout", body: boolFlag("checkout"),
			status: 401, code: ramp.EUNAUTHORIZED, detail: "token is required"},
		{name: "unknown token", token: "unknown", method: "POST", path: "/api/v1/flags/checkout/environments/production/rollback",
			status: 401, code: ramp.EUNAUTHORIZED, detail: "unknown or revoked"},
		{name: "garbage token", token: "garbage", method: "DELETE", path: "/api/v1/flags/checkout",
			status: 401, code: ramp.EUNAUTHORIZED, detail: "not a ramp token"},
		{name: "token cut short", token: "cut", method: "GET", path: "/api/v1/flags",
			status: 401, code: ramp.EUNAUTHORIZED, detail: "cut short or has extra characters"},
		{name: "revoked token", token: "revoked", method: "POST", path: "/api/v1/flags/checkout/environments/production/percentage",
			body: `{"percentage":5}`, status: 401, code: ramp.EUNAUTHORIZED, detail: "unknown or revoked"},
		{name: "basic auth", token: "none", method: "GET", path: "/api/v1/flags", hdr: []string{"Authorization", "Basic YTpi"},
			status: 401, code: ramp.EUNAUTHORIZED, detail: "Bearer"},
		{name: "sdk token on the admin API", token: "sdk", method: "POST", path: "/api/v1/flags/checkout/environments/production/rollback",
			status: 403, code: ramp.EFORBIDDEN, detail: "admin token"},
		{name: "sdk token reading", token: "sdk", method: "GET", path: "/api/v1/flags",
			status: 403, code: ramp.EFORBIDDEN},

		// Tokens.
		{name: "token of an unknown kind", method: "POST", path: "/api/v1/tokens", body: `{"name":"x","kind":"root"}`,
			status: 422, code: ramp.EINVALID, field: "kind"},
		{name: "sdk token without environment", method: "POST", path: "/api/v1/tokens", body: `{"name":"x","kind":"sdk"}`,
			status: 422, code: ramp.EINVALID, field: "environment"},
		{name: "sdk token of an unknown environment", method: "POST", path: "/api/v1/tokens",
			body: `{"name":"x","kind":"sdk","environment":"moon"}`, status: 422, code: ramp.EINVALID, field: "environment"},
		{name: "admin token with an environment", method: "POST", path: "/api/v1/tokens",
			body: `{"name":"x","kind":"admin","environment":"production"}`, status: 422, code: ramp.EINVALID, field: "environment"},
		{name: "token without a name", method: "POST", path: "/api/v1/tokens", body: `{"kind":"admin"}`,
			status: 422, code: ramp.EINVALID, field: "name"},

		// Query strings.
		{name: "audit since not RFC 3339", method: "GET", path: "/api/v1/audit?since=yesterday",
			status: 400, code: ramp.EBADREQUEST, detail: "RFC 3339"},
		{name: "audit until not RFC 3339", method: "GET", path: "/api/v1/audit?until=2025-13-01",
			status: 400, code: ramp.EBADREQUEST, detail: "until"},
		{name: "audit limit too high", method: "GET", path: "/api/v1/audit?limit=5000",
			status: 400, code: ramp.EBADREQUEST, detail: "limit"},
		{name: "audit flag and kind disagree", method: "GET", path: "/api/v1/audit?flag=checkout&kind=segment",
			status: 400, code: ramp.EBADREQUEST},
		{name: "misspelt filter", method: "GET", path: "/api/v1/flags?tags=x",
			status: 400, code: ramp.EBADREQUEST, detail: `"tags"`},
		{name: "repeated filter", method: "GET", path: "/api/v1/flags?tag=a&tag=b",
			status: 400, code: ramp.EBADREQUEST},

		// Routing.
		{name: "unknown route", method: "GET", path: "/api/v1/flagz",
			status: 404, code: ramp.ENOTFOUND},
		{name: "method not allowed", method: "PATCH", path: "/api/v1/flags/checkout", body: `{}`,
			status: 405, code: "method_not_allowed", detail: "PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantVersion := e.flag("checkout").Version
			flags, err := e.store.ListFlags(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			wantAudit := len(e.audit())

			var body any
			if tt.body != "" {
				body = tt.body
			}
			res := e.do(tokens[tt.token], tt.method, tt.path, body, tt.hdr...)
			t.Logf("%d %s", res.status, res.body)
			p := res.problem(t, tt.status, tt.code)
			if tt.field != "" && !p.hasField(tt.field) {
				t.Errorf("errors %+v do not name field %q", p.Errors, tt.field)
			}
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", p.Detail, tt.detail)
			}
			if tt.code == ramp.ECONFLICT && strings.Contains(tt.name, "stale") && p.CurrentVersion != wantVersion {
				t.Errorf("currentVersion %d, want %d", p.CurrentVersion, wantVersion)
			}
			if tt.status == 401 && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", res.header.Get("WWW-Authenticate"))
			}
			if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}

			if v := e.flag("checkout").Version; v != wantVersion {
				t.Errorf("flag version went from %d to %d", wantVersion, v)
			}
			after, err := e.store.ListFlags(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(flags) {
				t.Errorf("%d flags, want %d", len(after), len(flags))
			}
			if n := len(e.audit()); n != wantAudit {
				t.Errorf("%d audit entries, want %d", n, wantAudit)
			}
		})
	}
}

// TestBadInputMessages pins a few messages a user reads.
func TestBadInputMessages(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	path := "/api/v1/flags/checkout/environments/production/percentage"
	for body, want := range map[string]string{
		`{"percentage":-1}`:      "-1 is not a percentage: use a number from 0 to 100 with at most three decimals",
		`{"percentage":101}`:     "101 is not a percentage",
		`{"percentage":12.3456}`: "12.3456 is not a percentage",
		`{"percentage":"abc"}`:   "must be a number, not a string",
	} {
		res := e.do(e.alice, "POST", path, body)
		var p problemDoc
		res.decode(t, &p)
		got := fmt.Sprint(p.Errors)
		if !strings.Contains(got, want) && !strings.Contains(p.Detail, want) {
			t.Errorf("%s: answer %s does not say %q", body, res.body, want)
		}
	}
}
