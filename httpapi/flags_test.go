package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ramp-flags/ramp"
)

func TestFlagLifecycle(t *testing.T) {
	e := newTestEnv(t)

	res := e.do(e.alice, "POST", "/api/v1/flags",
		`{"key":"checkout","name":"New Checkout","owner":"payments","tags":["web"],"type":"boolean",`+
			`"variants":[{"key":"on","value":true},{"key":"off","value":false}],"defaultVariant":"off"}`).want(t, 201)
	if got := res.header.Get("Location"); got != "/api/v1/flags/checkout" {
		t.Errorf("Location %q", got)
	}
	if got := res.header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag %q, want \"1\"", got)
	}
	var created ramp.Flag
	res.decode(t, &created)
	if created.Salt == "" || created.Version != 1 || created.Environments["production"] == nil || created.Environments["staging"] == nil {
		t.Fatalf("created flag lacks salt, version or environments: %s", res.body)
	}
	e.createFlag(`{"key":"search","owner":"discovery","tags":["api"],"type":"string",` +
		`"variants":[{"key":"old","value":"v1"},{"key":"new","value":"v2"}],"defaultVariant":"old"}`)

	res = e.do(e.alice, "GET", "/api/v1/flags/checkout", nil).want(t, 200)
	if got := res.header.Get("ETag"); got != `"1"` {
		t.Errorf("GET ETag %q", got)
	}
	if got := res.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}

	for query, want := range map[string][]string{
		"":                   {"checkout", "search"},
		"?tag=web":           {"checkout"},
		"?owner=discovery":   {"search"},
		"?q=CHECK":           {"checkout"},
		"?q=new+checkout":    {"checkout"},
		"?tag=web&owner=bob": {},
	} {
		var list struct {
			Flags []ramp.Flag `json:"flags"`
		}
		e.do(e.alice, "GET", "/api/v1/flags"+query, nil).want(t, 200).decode(t, &list)
		var keys []string
		for _, f := range list.Flags {
			keys = append(keys, f.Key)
		}
		if !slices.Equal(keys, want) && !(len(keys) == 0 && len(want) == 0) {
			t.Errorf("list%s = %v, want %v", query, keys, want)
		}
	}

	// A full replacement without a salt keeps the salt; with If-Match it
	// must name the current version.
	var updated ramp.Flag
	res = e.do(e.alice, "PUT", "/api/v1/flags/checkout",
		`{"type":"boolean","description":"faster","variants":[{"key":"on","value":true},{"key":"off","value":false}],"defaultVariant":"off"}`,
		"If-Match", `"1"`).want(t, 200)
	res.decode(t, &updated)
	if updated.Version != 2 || updated.Salt != created.Salt || updated.Description != "faster" || updated.Owner != "" {
		t.Errorf("after PUT: version %d, salt %q (want %q), description %q, owner %q",
			updated.Version, updated.Salt, created.Salt, updated.Description, updated.Owner)
	}
	if got := res.header.Get("ETag"); got != `"2"` {
		t.Errorf("PUT ETag %q", got)
	}
	// The body's version works like If-Match.
	body := strings.Replace(boolFlag("checkout"), `{`, `{"version":2,`, 1)
	e.do(e.alice, "PUT", "/api/v1/flags/checkout", body).want(t, 200)
	e.do(e.alice, "PUT", "/api/v1/flags/checkout", body).problem(t, 409, ramp.ECONFLICT)

	last := e.audit()[0]
	if last.Action != ramp.ActionFlagUpdate || last.Actor != "alice" || last.Key != "checkout" {
		t.Errorf("last audit entry %+v", last)
	}

	e.do(e.alice, "DELETE", "/api/v1/flags/checkout", nil, "If-Match", `"2"`).problem(t, 409, ramp.ECONFLICT)
	e.do(e.alice, "DELETE", "/api/v1/flags/checkout", nil, "If-Match", `"3"`).want(t, 204)
	e.do(e.alice, "GET", "/api/v1/flags/checkout", nil).problem(t, 404, ramp.ENOTFOUND)
	e.do(e.alice, "DELETE", "/api/v1/flags/checkout", nil).problem(t, 404, ramp.ENOTFOUND)
	if a := e.audit()[0]; a.Action != ramp.ActionFlagDelete || a.Actor != "alice" {
		t.Errorf("last audit entry %+v", a)
	}
}

func TestPutEnvironmentState(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	res := e.do(e.alice, "PUT", "/api/v1/flags/checkout/environments/staging",
		`{"on":true,"rules":[{"id":"staff","clauses":[{"attribute":"email","op":"endsWith","values":["@example.com"]}],"serve":{"variant":"on"}}],"fallthrough":{"variant":"off"}}`,
		"If-Match", `"1"`).want(t, 200)
	if got := res.header.Get("ETag"); got != `"2"` {
		t.Errorf("ETag %q", got)
	}
	f := e.flag("checkout")
	st := f.Environments["staging"]
	if !st.On || len(st.Rules) != 1 || st.OffVariant != "off" || f.Environments["production"].On {
		t.Errorf("stored states: staging %+v, production %+v", st, f.Environments["production"])
	}
	a := e.audit()[0]
	if a.Action != ramp.ActionFlagEnvUpdate || a.Environment != "staging" || a.Actor != "alice" {
		t.Errorf("audit entry %+v", a)
	}
	e.do(e.alice, "PUT", "/api/v1/flags/checkout/environments/moon", `{"fallthrough":{"variant":"off"}}`).
		problem(t, 404, ramp.ENOTFOUND)
}

// allocations returns the fallthrough split of env as "variant:percent".
func allocations(f *ramp.Flag, env string) string {
	var parts []string
	for _, a := range f.Environments[env].Fallthrough.Split {
		parts = append(parts, fmt.Sprintf("%s:%v", a.Variant, a.Percent))
	}
	return strings.Join(parts, " ")
}

func TestPercentageAndRollback(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	path := "/api/v1/flags/checkout/environments/production/"

	check := func(step string, on bool, split string, version int64, action string) {
		t.Helper()
		f := e.flag("checkout")
		fe := f.Environments["production"]
		if fe.On != on || allocations(f, "production") != split || f.Version != version {
			t.Errorf("%s: on=%v split=%q version=%d, want on=%v split=%q version=%d",
				step, fe.On, allocations(f, "production"), f.Version, on, split, version)
		}
		if st := f.Environments["staging"]; st.On || st.Fallthrough.Variant != "off" {
			t.Errorf("%s: staging changed: %+v", step, st)
		}
		a := e.audit()[0]
		if a.Action != action || a.Actor != "alice" || a.Kind != "flag" || a.Key != "checkout" || a.Environment != "production" {
			t.Errorf("%s: audit entry %+v", step, a)
		}
		var after ramp.Flag
		if err := json.Unmarshal(a.After, &after); err != nil || allocations(&after, "production") != split {
			t.Errorf("%s: audit after %s (%v)", step, a.After, err)
		}
	}

	res := e.do(e.alice, "POST", path+"percentage", `{"percentage":5}`).want(t, 200)
	if got := res.header.Get("ETag"); got != `"2"` {
		t.Errorf("ETag %q", got)
	}
	check("5%", true, "on:5 off:95", 2, ramp.ActionFlagPercentage)

	e.do(e.alice, "POST", path+"percentage", `{"percentage":12.5,"variant":"on"}`, "If-Match", `"2"`).want(t, 200)
	check("12.5%", true, "on:12.5 off:87.5", 3, ramp.ActionFlagPercentage)

	e.do(e.alice, "POST", path+"percentage", `{"percentage":33.333}`).want(t, 200)
	check("33.333%", true, "on:33.333 off:66.667", 4, ramp.ActionFlagPercentage)

	var status struct {
		Key          string `json:"key"`
		Version      int64  `json:"version"`
		Environments []struct {
			Environment string  `json:"environment"`
			On          bool    `json:"on"`
			Percentage  float64 `json:"percentage"`
			Variant     string  `json:"variant"`
			OffVariant  string  `json:"offVariant"`
			Rules       int     `json:"rules"`
		} `json:"environments"`
	}
	e.do(e.alice, "GET", "/api/v1/flags/checkout/status", nil).want(t, 200).decode(t, &status)
	if status.Key != "checkout" || status.Version != 4 || len(status.Environments) != 2 {
		t.Fatalf("status %+v", status)
	}
	prod, stag := status.Environments[0], status.Environments[1]
	if prod.Environment != "production" || !prod.On || prod.Percentage != 33.333 || prod.Variant != "on" || prod.OffVariant != "off" {
		t.Errorf("production status %+v", prod)
	}
	if stag.Environment != "staging" || stag.On || stag.Percentage != 0 || stag.Variant != "" || stag.OffVariant != "off" {
		t.Errorf("staging status %+v", stag)
	}

	// The kill switch wins over If-Match and keeps 0 % of the variant.
	e.do(e.alice, "POST", path+"rollback", nil, "If-Match", `"1"`).want(t, 200)
	check("rollback", false, "on:0 off:100", 5, ramp.ActionFlagRollback)
	e.do(e.alice, "GET", "/api/v1/flags/checkout/status", nil).want(t, 200).decode(t, &status)
	if p := status.Environments[0]; p.On || p.Percentage != 0 || p.Variant != "on" {
		t.Errorf("status after rollback %+v", p)
	}

	// A later percentage starts again from the same variant.
	e.do(e.alice, "POST", path+"percentage", `{"percentage":100}`).want(t, 200)
	check("100%", true, "on:100 off:0", 6, ramp.ActionFlagPercentage)
	e.do(e.alice, "POST", path+"percentage", `{"percentage":0}`).want(t, 200)
	check("0%", true, "on:0 off:100", 7, ramp.ActionFlagPercentage)
}

func TestRollbackNeverRolledOut(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("fresh"))
	e.do(e.alice, "POST", "/api/v1/flags/fresh/environments/production/rollback", nil).want(t, 200)
	fe := e.flag("fresh").Environments["production"]
	if fe.On || fe.Fallthrough.Variant != "off" || len(fe.Fallthrough.Split) != 0 {
		t.Errorf("state %+v", fe)
	}
	if a := e.audit()[0]; a.Action != ramp.ActionFlagRollback || a.Actor != "alice" || a.Environment != "production" {
		t.Errorf("audit entry %+v", a)
	}

	// A flag served fully through its fallthrough variant keeps that
	// variant at 0 %.
	e.do(e.alice, "PUT", "/api/v1/flags/fresh/environments/staging", `{"on":true,"fallthrough":{"variant":"on"}}`).want(t, 200)
	e.do(e.alice, "POST", "/api/v1/flags/fresh/environments/staging/rollback", nil).want(t, 200)
	f := e.flag("fresh")
	if f.Environments["staging"].On || allocations(f, "staging") != "on:0 off:100" {
		t.Errorf("staging %+v", f.Environments["staging"])
	}
}

func TestPercentageVariantChoice(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(`{"key":"theme","type":"string","defaultVariant":"blue","variants":[` +
		`{"key":"blue","value":"#00f"},{"key":"green","value":"#0f0"},{"key":"red","value":"#f00"}]}`)
	path := "/api/v1/flags/theme/environments/production/"

	p := e.do(e.alice, "POST", path+"percentage", `{"percentage":10}`).problem(t, 422, ramp.EINVALID)
	if !p.hasField("variant") || !strings.Contains(fmt.Sprint(p.Errors), `"green", "red"`) {
		t.Errorf("problem %+v does not list the variants to choose from", p)
	}
	e.do(e.alice, "POST", path+"percentage", `{"percentage":10,"variant":"green"}`).want(t, 200)
	if got := allocations(e.flag("theme"), "production"); got != "green:10 blue:90" {
		t.Errorf("split %q", got)
	}
	// Raising it without naming the variant keeps rolling out green.
	e.do(e.alice, "POST", path+"percentage", `{"percentage":20}`).want(t, 200)
	if got := allocations(e.flag("theme"), "production"); got != "green:20 blue:80" {
		t.Errorf("split %q", got)
	}
	e.do(e.alice, "POST", path+"rollback", nil).want(t, 200)
	if got := allocations(e.flag("theme"), "production"); got != "green:0 blue:100" {
		t.Errorf("split after rollback %q", got)
	}

	// With two variants, the one that is not off is rolled out.
	e.createFlag(`{"key":"search","type":"string","defaultVariant":"old","variants":[{"key":"old","value":"v1"},{"key":"new","value":"v2"}]}`)
	e.do(e.alice, "POST", "/api/v1/flags/search/environments/staging/percentage", `{"percentage":50}`).want(t, 200)
	if got := allocations(e.flag("search"), "staging"); got != "new:50 old:50" {
		t.Errorf("split %q", got)
	}
}

// TestConcurrentWriters has 20 clients each add a tag with GET and a PUT
// conditional on the version read, retrying on 409: every write must
// survive.
func TestConcurrentWriters(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	const writers = 20

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			tag := fmt.Sprintf("w%02d", i)
			for attempt := 0; attempt < 200; attempt++ {
				res, err := tryRequest(e.client, e.srv.URL, e.alice, "GET", "/api/v1/flags/checkout", nil)
				if err != nil {
					errs <- err
					return
				}
				if res.status != 200 {
					errs <- fmt.Errorf("%s: GET %d %s", tag, res.status, res.body)
					return
				}
				var f ramp.Flag
				if err := json.Unmarshal(res.body, &f); err != nil {
					errs <- err
					return
				}
				f.Tags = append(f.Tags, tag)
				res, err = tryRequest(e.client, e.srv.URL, e.alice, "PUT", "/api/v1/flags/checkout", f,
					"If-Match", res.header.Get("ETag"))
				if err != nil {
					errs <- err
					return
				}
				switch res.status {
				case 200:
					return
				case 409:
					continue
				default:
					errs <- fmt.Errorf("%s: PUT %d %s", tag, res.status, res.body)
					return
				}
			}
			errs <- fmt.Errorf("%s: gave up after 200 conflicts", tag)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	f := e.flag("checkout")
	slices.Sort(f.Tags)
	var want []string
	for i := range writers {
		want = append(want, fmt.Sprintf("w%02d", i))
	}
	if !slices.Equal(f.Tags, want) {
		t.Errorf("tags %v, want %v", f.Tags, want)
	}
	if f.Version != 1+writers {
		t.Errorf("version %d, want %d", f.Version, 1+writers)
	}
	updates := 0
	for _, a := range e.audit() {
		if a.Action == ramp.ActionFlagUpdate && a.Key == "checkout" {
			updates++
		}
	}
	if updates != writers {
		t.Errorf("%d update audit entries, want %d", updates, writers)
	}
}
