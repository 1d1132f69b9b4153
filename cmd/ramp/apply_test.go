package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

const exampleFile = "../../docs/examples/flags.yaml"

// TestExampleFile checks that the example in the docs parses and that
// every item in it is valid.
func TestExampleFile(t *testing.T) {
	f, err := os.Open(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	envs, segs, flags, err := parseApplyFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) == 0 || len(flags) == 0 {
		t.Fatalf("%d segments and %d flags, want some of each", len(segs), len(flags))
	}
	if err := checkItems([]ramp.Environment{{Key: "production"}, {Key: "staging"}}, nil, envs, segs, flags); err != nil {
		t.Fatal(err)
	}
	types := map[ramp.FlagType]bool{}
	for _, fl := range flags {
		types[fl.Type] = true
	}
	if len(types) != 4 {
		t.Errorf("the example shows flag types %v; want all four", types)
	}
}

func TestParseApplyFileValues(t *testing.T) {
	const doc = `
flags:
  - key: f
    type: object
    variants:
      - {key: a, value: {size: 1, tags: [x, "y"], ok: true, ratio: 0.5, none: null}}
      - key: b
        value:
          size: 2
    defaultVariant: a
    version: 7            # copied from -o yaml output: ignored
    createdAt: 2025-01-01T00:00:00Z
---
flags:
  - key: s
    type: string
    variants: [{key: "on", value: "on"}, {key: "off", value: off}, {key: n, value: "3"}]
    defaultVariant: "off"
`
	_, _, flags, err := parseApplyFile(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != 2 {
		t.Fatalf("%d flags, want 2 (one per document)", len(flags))
	}
	got := []string{}
	for _, f := range flags {
		for _, v := range f.Variants {
			got = append(got, string(v.Value))
		}
	}
	want := []string{`{"size":1,"tags":["x","y"],"ok":true,"ratio":0.5,"none":null}`, `{"size":2}`, `"on"`, `"off"`, `"3"`}
	if !slices.Equal(got, want) {
		t.Errorf("values\n%q\nwant\n%q", got, want)
	}
	if flags[0].Version != 0 {
		t.Errorf("version %d taken from the file", flags[0].Version)
	}
}

func TestParseApplyFileErrors(t *testing.T) {
	tests := map[string]string{
		"flags:\n  - key: f\n    colour: red\n":                        "line 3: field colour not found",
		"flags:\n  - key: f\n  - key: f\n":                             `flag "f" is listed twice`,
		"segments:\n  - key: s\n    rules: [{clauses: [{nope: 1}]}]\n": "field nope not found",
		"": "the file is empty",
		"flags:\n  - key: f\n    variants: [{key: a, value: .nan}]\n": "line 3",
		"flags: [\n": "line",
	}
	for doc, msg := range tests {
		_, _, _, err := parseApplyFile(strings.NewReader(doc))
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want one with %q", doc, err, msg)
		}
		if err != nil && strings.Contains(err.Error(), "main.") {
			t.Errorf("%q: error %q names a Go type", doc, err)
		}
	}
}

// TestYAMLFlagMirrorsFlag keeps yamlFlag in step with ramp.Flag: every
// YAML field of one is a YAML field of the other.
func TestYAMLFlagMirrorsFlag(t *testing.T) {
	fields := func(typ reflect.Type) []string {
		var names []string
		for f := range typ.Fields() {
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			names = append(names, tag)
		}
		slices.Sort(names)
		return names
	}
	if got, want := fields(reflect.TypeFor[yamlFlag]()), fields(reflect.TypeFor[ramp.Flag]()); !slices.Equal(got, want) {
		t.Errorf("yamlFlag has YAML fields %v, ramp.Flag has %v", got, want)
	}
	if got, want := fields(reflect.TypeFor[yamlVariant]()), fields(reflect.TypeFor[ramp.Variant]()); !slices.Equal(got, want) {
		t.Errorf("yamlVariant has YAML fields %v, ramp.Variant has %v", got, want)
	}
}

func TestFlagTextIgnoresServerFields(t *testing.T) {
	file := &ramp.Flag{
		Key: "f", Type: ramp.TypeObject, Tags: []string{"b", "a"}, DefaultVariant: "x",
		Variants: []ramp.Variant{{Key: "x", Value: json.RawMessage(`{"b": 1, "a": 2.0}`)}},
		Environments: map[string]*ramp.FlagEnv{"staging": {On: true,
			Rules:       []ramp.Rule{{Clauses: []ramp.Clause{{Attribute: "a", Op: ramp.OpEquals, Values: []string{"1"}}}, Serve: ramp.Serve{Variant: "x"}}},
			Fallthrough: ramp.Serve{Variant: "x"}}},
	}
	cur := file.Clone()
	cur.Version, cur.Salt, cur.Tags = 4, "s4lt", []string{"a", "b"}
	cur.Variants[0].Value = json.RawMessage(`{"a":2,"b":1}`)
	cur.Environments["staging"].Rules[0].ID = "r1"
	cur.Environments["staging"].OffVariant = "x"
	cur.Environments["production"] = &ramp.FlagEnv{On: true, OffVariant: "x", Fallthrough: ramp.Serve{Variant: "x"}}
	want := mergeFlag(file, cur)
	before, err := flagText(cur, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := flagText(want, cur)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("texts differ:\n%s", unifiedDiff(before, after, "server", "file"))
	}
	if want.Environments["production"] == nil {
		t.Error("an environment the file does not list was dropped")
	}
	if want.Salt != "" {
		t.Error("the server's salt is sent although the file has none")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "flags.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApply(t *testing.T) {
	fs, srv := newFakeServer(t)

	// A dry run against an empty server changes nothing and shows every
	// item as created.
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "apply", "-f", exampleFile, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: %s", stderr)
	}
	if len(fs.writes) != 0 {
		t.Errorf("dry run wrote: %v", fs.writes)
	}
	for _, want := range []string{"created segment beta-testers (dry run)\n", "created flag checkout-v2 (dry run)\n",
		"--- flag checkout-v2 (server)\n+++ flag checkout-v2 (file)\n", "\n+key: checkout-v2\n", "\n+  - key: \"on\"\n"} {
		if !strings.Contains(stdout, want) && !strings.Contains(stdout, strings.TrimPrefix(want, "\n")) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout)
		}
	}

	// The first apply creates everything, segments before flags.
	stdout, stderr, code = rampCLI(t, srv.URL, nil, "apply", "-f", exampleFile)
	if code != 0 {
		t.Fatalf("apply: %s", stderr)
	}
	wantLines := []string{
		"created segment beta-testers", "created segment employees",
		"created flag checkout-v2", "created flag button-color", "created flag search-results-limit", "created flag homepage-layout",
	}
	if got := strings.Split(strings.TrimSpace(stdout), "\n"); !slices.Equal(got, wantLines) {
		t.Errorf("apply printed\n%s\nwant\n%s", stdout, strings.Join(wantLines, "\n"))
	}
	if v := fs.flags["homepage-layout"].Variant("compact"); v == nil || string(v.Value) != `{"columns":3,"hero":false,"density":1.5}` {
		t.Errorf("object variant stored as %s", v.Value)
	}

	// A rollout in production, which the file does not list, is not undone.
	if _, stderr, code := rampCLI(t, srv.URL, nil, "set", "checkout-v2", "5%"); code != 0 {
		t.Fatal(stderr)
	}

	// Applying again changes nothing.
	fs.writes = nil
	stdout, _, code = rampCLI(t, srv.URL, nil, "apply", "-f", exampleFile)
	if code != 0 || strings.Count(stdout, "unchanged ") != 6 || len(fs.writes) != 0 {
		t.Errorf("second apply: code %d, writes %v, output\n%s", code, fs.writes, stdout)
	}
	if p := fs.flags["checkout-v2"].Percentage("production"); p != 5 {
		t.Errorf("production percentage %v after apply, want 5", p)
	}

	// A change in the file updates that item only, conditional on the
	// version read.
	example, _ := os.ReadFile(exampleFile)
	changed := strings.Replace(string(example), "owner: growth", "owner: design", 1)
	file := writeFile(t, changed)
	stdout, _, _ = rampCLI(t, srv.URL, nil, "apply", "-f", file, "--dry-run")
	if !strings.Contains(stdout, "updated flag button-color (dry run)\n") || !strings.Contains(stdout, "\n-owner: growth\n+owner: design\n") {
		t.Errorf("dry run of a change:\n%s", stdout)
	}
	if strings.Contains(stdout, "@@ -1,") && strings.Contains(stdout, "checkout-v2 (file)") {
		t.Errorf("dry run shows a diff for an unchanged flag:\n%s", stdout)
	}
	fs.writes, fs.ifMatch = nil, nil
	stdout, _, code = rampCLI(t, srv.URL, nil, "apply", "-f", file)
	if code != 0 || !strings.Contains(stdout, "updated flag button-color\n") || strings.Count(stdout, "unchanged ") != 5 {
		t.Errorf("apply of a change: code %d\n%s", code, stdout)
	}
	if !slices.Equal(fs.writes, []string{"PUT /api/v1/flags/button-color"}) || !slices.Equal(fs.ifMatch, []string{`"1"`}) {
		t.Errorf("writes %v with If-Match %v", fs.writes, fs.ifMatch)
	}
	if fs.flags["button-color"].Owner != "design" || fs.flags["button-color"].Salt != "salt-button-color" {
		t.Errorf("flag after update: %+v", fs.flags["button-color"])
	}

	// -o json lists the results.
	stdout, _, _ = rampCLI(t, srv.URL, nil, "apply", "-f", file, "-o", "json")
	var results []applyResult
	if err := json.Unmarshal([]byte(stdout), &results); err != nil || len(results) != 6 || results[0].Result != "unchanged" {
		t.Errorf("json %q: %v", stdout, err)
	}
}

func TestApplyChecksEverythingFirst(t *testing.T) {
	fs, srv := newFakeServer(t)
	file := writeFile(t, `
segments:
  - key: ok-segment
flags:
  - key: broken
    type: boolean
    variants: [{key: "on", value: true}, {key: "off", value: 3}]
    defaultVariant: maybe
    environments:
      production:
        on: true
        rules: [{clauses: [{op: inSegment, values: [nowhere]}], serve: {variant: "on"}}]
        fallthrough: {variant: "on"}
`)
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "apply", "-f", file)
	if code != exitFailure {
		t.Errorf("code %d, want %d", code, exitFailure)
	}
	for _, want := range []string{"nothing applied", `flag "broken" is invalid`, "\n  variants[1].value: 3 is not a boolean value",
		"\n  defaultVariant:", `segment "nowhere" does not exist`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if stdout != "" || len(fs.writes) != 0 {
		t.Errorf("something was applied: stdout %q, writes %v", stdout, fs.writes)
	}
}

func TestApplyEnvironments(t *testing.T) {
	fs, srv := newFakeServer(t)
	file := writeFile(t, `
environments:
  - key: qa
    name: QA
  - key: production
    name: Prod
flags:
  - key: f
    type: boolean
    variants: [{key: "on", value: true}, {key: "off", value: false}]
    defaultVariant: "off"
    environments:
      qa: {on: true, fallthrough: {variant: "on"}}
`)
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "apply", "-f", file)
	if code != 0 {
		t.Fatal(stderr)
	}
	want := "created environment qa\nunchanged environment production\n  note: its name and description differ from the file; the API cannot change them\ncreated flag f\n"
	if stdout != want {
		t.Errorf("got\n%s\nwant\n%s", stdout, want)
	}
	if fe := fs.flags["f"].Environments["qa"]; fe == nil || !fe.On {
		t.Errorf("qa state %+v", fe)
	}
}
