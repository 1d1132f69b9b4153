package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

func TestParseAttr(t *testing.T) {
	tests := []struct {
		in   string
		name string
		val  any
	}{
		{"country=NL", "country", "NL"},
		{"age=37", "age", 37.0},
		{"score=-1.5e3", "score", -1500.0},
		{"beta=true", "beta", true},
		{"beta=false", "beta", false},
		{"beta=True", "beta", "True"},
		{"zip=01234", "zip", "01234"}, // not a JSON number: keeps its leading zero
		{"hex=0x10", "hex", "0x10"},
		{"n=Inf", "n", "Inf"},
		{"empty=", "empty", ""},
		{"email=a=b@example.com", "email", "a=b@example.com"},
		{"version=1.2.3", "version", "1.2.3"},
	}
	for _, tt := range tests {
		name, val, err := parseAttr(tt.in)
		if err != nil || name != tt.name || !reflect.DeepEqual(val, tt.val) {
			t.Errorf("parseAttr(%q) = %q, %#v, %v; want %q, %#v", tt.in, name, val, err, tt.name, tt.val)
		}
	}
	for _, in := range []string{"novalue", "=x", ""} {
		if _, _, err := parseAttr(in); err == nil || !isUsage(err) {
			t.Errorf("parseAttr(%q): err %v, want a usage error", in, err)
		}
	}
}

func TestParseAttrsRepeatedMakesList(t *testing.T) {
	got, err := parseAttrs([]string{"group=a", "group=b", "group=3", "x=1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"group": []any{"a", "b", 3.0}, "x": 1.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestEval(t *testing.T) {
	_, srv := newFakeServer(t)
	if _, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "checkout-v2", "--type", "boolean"); code != 0 {
		t.Fatal(stderr)
	}
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "eval", "checkout-v2", "--key", "user-1")
	if code != 0 || stdout != "variant: off  reason: DISABLED  value: false\n" {
		t.Errorf("off flag: code %d stdout %q stderr %q", code, stdout, stderr)
	}
	if _, stderr, code := rampCLI(t, srv.URL, nil, "set", "checkout-v2", "100"); code != 0 {
		t.Fatal(stderr)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "eval", "checkout-v2", "--key", "user-1", "--attr", "country=NL", "-o", "json")
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res["variant"] != "on" || res["value"] != true || res["key"] != "user-1" {
		t.Errorf("json %q: %v", stdout, err)
	}
	_, stderr, code = rampCLI(t, srv.URL, nil, "eval", "missing", "--key", "user-1")
	if code != exitFailure || !strings.Contains(stderr, "FLAG_NOT_FOUND") {
		t.Errorf("missing flag: code %d stderr %q", code, stderr)
	}
	_, stderr, code = rampCLI(t, srv.URL, nil, "eval", "checkout-v2", "--key", "u", "--env", "nowhere")
	if code != exitFailure || !strings.Contains(stderr, `environment "nowhere" does not exist`) {
		t.Errorf("missing environment: code %d stderr %q", code, stderr)
	}
}

// TestEvalKeys evaluates many keys in one run, from stdin and from a
// file, and checks that a 30% split reaches about 30% of them.
func TestEvalKeys(t *testing.T) {
	_, srv := newFakeServer(t)
	rampCLI(t, srv.URL, nil, "flag", "create", "checkout-v2", "--type", "boolean")
	if _, stderr, code := rampCLI(t, srv.URL, nil, "set", "checkout-v2", "30"); code != 0 {
		t.Fatal(stderr)
	}
	const n = 20000
	var keys strings.Builder
	for i := range n {
		fmt.Fprintf(&keys, "user-%d\n", i)
	}
	keys.WriteString("\n") // blank lines are skipped
	stdout, stderr, code := rampCLI(t, srv.URL, strings.NewReader(keys.String()), "eval", "checkout-v2", "--keys", "-")
	if code != 0 {
		t.Fatal(stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	on := 0
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 || f[0] != fmt.Sprintf("user-%d", i) || f[2] != "SPLIT" {
			t.Fatalf("line %d: %q", i, l)
		}
		if f[1] == "on" {
			on++
		}
	}
	if share := float64(on) / n; share < 0.28 || share > 0.32 {
		t.Errorf("%.3f of keys got on, want about 0.30", share)
	}

	file := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(file, []byte("a\nb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "eval", "checkout-v2", "--keys", file, "-o", "json")
	var count int
	for l := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		var res map[string]any
		if err := json.Unmarshal([]byte(l), &res); err != nil || res["reason"] != "SPLIT" {
			t.Errorf("json line %q: %v", l, err)
		}
		count++
	}
	if count != 2 {
		t.Errorf("%d JSON lines, want 2", count)
	}
}

// TestEvalKeysMissingFlag checks that --keys fails at once for a flag the
// environment does not have, instead of printing FLAG_NOT_FOUND per key
// and exiting 0.
func TestEvalKeysMissingFlag(t *testing.T) {
	_, srv := newFakeServer(t)
	for _, format := range []string{"table", "json", "yaml"} {
		stdout, stderr, code := rampCLI(t, srv.URL, strings.NewReader("user-1\nuser-2\n"),
			"eval", "missing", "--keys", "-", "--env", "staging", "-o", format)
		if code != exitFailure || stdout != "" || !strings.Contains(stderr, `flag "missing" does not exist in staging`) {
			t.Errorf("-o %s: code %d stdout %q stderr %q", format, code, stdout, stderr)
		}
	}
}

// TestEvalKeysErrors evaluates keys some of which fail: each still gets
// its line, with ERROR:CODE as the reason in the table, and the command
// exits 1 with the count.
func TestEvalKeysErrors(t *testing.T) {
	fs, srv := newFakeServer(t)
	if _, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "checkout-v2", "--type", "boolean"); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := rampCLI(t, srv.URL, nil, "set", "checkout-v2", "30"); code != 0 {
		t.Fatal(stderr)
	}
	// Insiders get on; everyone else is split by company, which the
	// context does not have.
	fe := fs.flags["checkout-v2"].Environments["production"]
	fe.Fallthrough.BucketBy = "company"
	fe.Rules = []ramp.Rule{{ID: "insiders", Clauses: []ramp.Clause{{Attribute: ramp.AttrTargetingKey, Op: ramp.OpIn, Values: []string{"user-2"}}}, Serve: ramp.Serve{Variant: "on"}}}

	keys := "user-1\nuser-2\nuser-3\n"
	stdout, stderr, code := rampCLI(t, srv.URL, strings.NewReader(keys), "eval", "checkout-v2", "--keys", "-")
	want := "user-1\t-\tERROR:TARGETING_KEY_MISSING\nuser-2\ton\tTARGETING_MATCH\nuser-3\t-\tERROR:TARGETING_KEY_MISSING\n"
	if code != exitFailure || stdout != want {
		t.Errorf("table: code %d stdout %q, want exit 1 and %q", code, stdout, want)
	}
	if !strings.Contains(stderr, "evaluate checkout-v2 in production: 2 of 3 keys failed; the first was user-1: TARGETING_KEY_MISSING: the flag splits users by percentage and the context has no company\n") {
		t.Errorf("stderr %q does not count the failures", stderr)
	}

	stdout, stderr, code = rampCLI(t, srv.URL, strings.NewReader(keys), "eval", "checkout-v2", "--keys", "-", "-o", "json")
	if code != exitFailure || !strings.Contains(stderr, "2 of 3 keys failed") {
		t.Errorf("json: code %d stderr %q", code, stderr)
	}
	var codes []string
	for l := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		var res map[string]any
		if err := json.Unmarshal([]byte(l), &res); err != nil {
			t.Fatalf("json line %q: %v", l, err)
		}
		c, _ := res["errorCode"].(string)
		codes = append(codes, c)
	}
	if got := strings.Join(codes, ","); got != "TARGETING_KEY_MISSING,,TARGETING_KEY_MISSING" {
		t.Errorf("json error codes %q", got)
	}

	// With the attribute every key evaluates, and the run succeeds.
	stdout, stderr, code = rampCLI(t, srv.URL, strings.NewReader(keys), "eval", "checkout-v2", "--keys", "-", "--attr", "company=acme")
	if code != exitOK || strings.Contains(stdout, "ERROR") || stderr != "" {
		t.Errorf("with company: code %d stdout %q stderr %q", code, stdout, stderr)
	}
}
