package httpapi_test

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/rollout"
)

// openapiDoc is the part of an OpenAPI 3.1 document the test checks.
type openapiDoc struct {
	OpenAPI    string                    `yaml:"openapi"`
	Security   []map[string][]string     `yaml:"security"`
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas         map[string]any `yaml:"schemas"`
		Responses       map[string]any `yaml:"responses"`
		Parameters      map[string]any `yaml:"parameters"`
		Headers         map[string]any `yaml:"headers"`
		SecuritySchemes map[string]any `yaml:"securitySchemes"`
	} `yaml:"components"`
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// TestOpenAPICoversRoutes checks that openapi.yaml describes every route
// the server registers and no other, and that its references resolve. The
// server has a live hub, metrics and a rollout controller, so that the SDK,
// OFREP, /metrics and rollout routes are registered and checked too.
func TestOpenAPICoversRoutes(t *testing.T) {
	oe := newOFREPEnv(t)
	e := oe.testEnv
	full := coverageServer(oe)

	e.do("", "GET", "/api/v1/openapi.yaml", nil).problem(t, 401, ramp.EUNAUTHORIZED)
	res := e.do(e.alice, "GET", "/api/v1/openapi.yaml", nil).want(t, 200)
	if ct := res.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q", ct)
	}
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.body, file) {
		t.Error("the served document differs from openapi.yaml")
	}

	var doc openapiDoc
	if err := yaml.Unmarshal(file, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if !slices.Contains(httpMethods, method) {
				continue // parameters, summary
			}
			route := strings.ToUpper(method) + " " + path
			documented[route] = true
			opMap, ok := op.(map[string]any)
			if !ok {
				t.Errorf("%s is not an operation object", route)
				continue
			}
			checkOperation(t, route, item, opMap)
		}
	}
	registered := map[string]bool{}
	for _, p := range full.Patterns() {
		registered[p] = true
		if !documented[p] {
			t.Errorf("route %s is not in openapi.yaml", p)
		}
	}
	for route := range documented {
		if !registered[route] {
			t.Errorf("openapi.yaml describes %s, which the server does not serve", route)
		}
	}

	for _, name := range []string{"Flag", "Variant", "FlagEnv", "Rule", "Clause", "Serve", "Allocation",
		"Segment", "Environment", "Token", "AuditEntry", "FlagStatus", "Problem",
		"Rollout", "RolloutView", "RolloutState", "Transition", "Analysis", "Plan", "Stage", "Guard",
		"Verdict", "Figures", "Decision", "StartRolloutRequest", "MoveRequest"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("schema %s is missing", name)
		}
	}

	// Every $ref names a component that exists.
	refs := regexp.MustCompile(`\$ref: "#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(string(file), -1)
	if len(refs) == 0 {
		t.Fatal("no $ref found")
	}
	sections := map[string]map[string]any{
		"schemas":    doc.Components.Schemas,
		"responses":  doc.Components.Responses,
		"parameters": doc.Components.Parameters,
		"headers":    doc.Components.Headers,
	}
	for _, m := range refs {
		if sections[m[1]][m[2]] == nil {
			t.Errorf("$ref #/components/%s/%s does not resolve", m[1], m[2])
		}
	}
	if strings.Count(string(file), "$ref") != len(refs) {
		t.Errorf("%d $ref, %d in the checked form \"#/components/<section>/<name>\"", strings.Count(string(file), "$ref"), len(refs))
	}
}

// checkOperation checks that an operation declares its path parameters and
// the error answers every authenticated route can give.
func checkOperation(t *testing.T, route string, item, op map[string]any) {
	t.Helper()
	text := fmt.Sprint(item["parameters"], op["parameters"])
	for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(route, -1) {
		param := m[1]
		switch param {
		case "key":
			if !strings.Contains(text, "FlagKey") && !strings.Contains(text, "SegmentKey") {
				t.Errorf("%s does not declare path parameter %s", route, param)
			}
		case "env":
			if !strings.Contains(text, "parameters/Env") {
				t.Errorf("%s does not declare path parameter %s", route, param)
			}
		default:
			if !strings.Contains(text, "name:"+param) {
				t.Errorf("%s does not declare path parameter %s", route, param)
			}
		}
	}
	responses, _ := op["responses"].(map[string]any)
	if len(responses) == 0 {
		t.Errorf("%s has no responses", route)
		return
	}
	open := op["security"] != nil
	if !open {
		for _, code := range []string{"401", "403"} {
			if responses[code] == nil {
				t.Errorf("%s lacks the %s answer", route, code)
			}
		}
	}
}

// coverageServer returns an API on the store and hub of oe with every
// optional part configured, so that every route it can serve is
// registered: the rollout routes need a controller, built here on the same
// store.
func coverageServer(oe *ofrepEnv) *httpapi.Server {
	return httpapi.New(httpapi.Config{
		Store:        oe.store,
		Live:         oe.hub,
		Counts:       oe.store,
		Baselines:    oe.store,
		Metrics:      oe.reg,
		Rollouts:     rollout.New(rollout.Config{Store: oe.store}),
		RolloutStore: oe.store,
	})
}
