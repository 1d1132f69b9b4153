package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

// ramp runs the command line against the server at url with the test
// token and returns stdout, stderr and the exit code.
func rampCLI(t *testing.T, url string, stdin io.Reader, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	env := map[string]string{"RAMP_SERVER": url, "RAMP_TOKEN": "test-token"}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, stdin, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), code
}

// closedURL returns the address of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestExitCodes(t *testing.T) {
	_, srv := newFakeServer(t)
	tests := []struct {
		name string
		args []string
		want int
		// stderr must contain this.
		msg string
	}{
		{"help", []string{"--help"}, exitOK, ""},
		{"no command", nil, exitOK, ""},
		{"group without subcommand", []string{"flag"}, exitOK, ""},
		{"unknown command", []string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{"unknown subcommand", []string{"flag", "bogus"}, exitUsage, `unknown command "bogus" for "ramp flag"`},
		{"unknown flag", []string{"flag", "list", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"missing argument", []string{"flag", "get"}, exitUsage, "needs KEY"},
		{"extra argument", []string{"flag", "get", "a", "b"}, exitUsage, `unexpected ["b"]`},
		{"missing required flag", []string{"flag", "create", "x"}, exitUsage, `"type" not set`},
		{"bad type", []string{"flag", "create", "x", "--type", "color"}, exitUsage, `"color" is not a flag type`},
		{"string flag without variants", []string{"flag", "create", "x", "--type", "string"}, exitUsage, "need --variant"},
		{"bad output", []string{"-o", "xml", "flag", "list"}, exitUsage, `"xml" is not an output format`},
		{"negative percent", []string{"set", "x", "-1"}, exitUsage, "percentage -1 is negative"},
		{"percent over 100", []string{"set", "x", "101"}, exitUsage, "over 100"},
		{"percent not a number", []string{"set", "x", "abc"}, exitUsage, `"abc" is not a percentage`},
		{"percent too fine", []string{"set", "x", "0.0001"}, exitUsage, "4 decimals"},
		{"bad attribute", []string{"eval", "x", "--attr", "novalue"}, exitUsage, "use NAME=VALUE"},
		{"bad since", []string{"audit", "--since", "yesterday"}, exitUsage, "RFC 3339"},
		{"bad audit kind", []string{"audit", "--kind", "flags"}, exitUsage, `--kind "flags": use flag, rollout, segment, environment or token`},
		{"since after until", []string{"audit", "--since", "1h", "--until", "2h"}, exitUsage, "--since 1h is after --until 2h"},
		{"since after until as times", []string{"audit", "--since", "2025-02-01T00:00:00Z", "--until", "2025-01-31T00:00:00Z"}, exitUsage, "is after --until"},
		{"audit flag with other kind", []string{"audit", "--flag", "checkout-v2", "--kind", "segment"}, exitUsage, "cannot be combined with --kind segment"},
		{"audit flag with other key", []string{"audit", "--flag", "checkout-v2", "--key", "other"}, exitUsage, "cannot be combined with --key other"},
		{"audit flag with kind flag", []string{"audit", "--flag", "checkout-v2", "--kind", "flag"}, exitOK, ""},
		{"audit since equals until", []string{"audit", "--since", "2025-01-31T00:00:00Z", "--until", "2025-01-31T00:00:00Z"}, exitOK, ""},
		{"token without kind", []string{"token", "create"}, exitUsage, "--admin, or --sdk --env ENV"},
		{"sdk token without env", []string{"token", "create", "--sdk"}, exitUsage, "add --env"},
		{"delete without yes", []string{"flag", "delete", "x"}, exitUsage, "pass --yes"},
		{"apply without file", []string{"apply"}, exitUsage, "needs -f FILE"},
		{"not found", []string{"flag", "get", "missing"}, exitFailure, `flag "missing" does not exist`},
		{"ok", []string{"flag", "list"}, exitOK, ""},
		{"version", []string{"version"}, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := rampCLI(t, srv.URL, nil, tt.args...)
			if code != tt.want {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
			if !strings.Contains(stderr, tt.msg) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.msg)
			}
			if tt.want == exitUsage && !strings.Contains(stderr, "--help' for usage") {
				t.Errorf("usage error without the help hint: %q", stderr)
			}
		})
	}
}

func TestConnectionFailure(t *testing.T) {
	url := closedURL(t)
	stdout, stderr, code := rampCLI(t, url, nil, "flag", "list")
	if code != exitFailure {
		t.Errorf("exit code %d, want %d", code, exitFailure)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	for _, want := range []string{"cannot reach the ramp server at " + url, "is ramp serve running at " + url, "--server or $RAMP_SERVER"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
}

func TestUnauthorizedHint(t *testing.T) {
	_, srv := newFakeServer(t)
	_, stderr, code := rampCLI(t, srv.URL, nil, "--token", "wrong", "flag", "list")
	if code != exitFailure || !strings.Contains(stderr, "missing or unknown token") || !strings.Contains(stderr, "$RAMP_TOKEN") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestForbiddenHint(t *testing.T) {
	_, srv := newFakeServer(t)
	_, stderr, code := rampCLI(t, srv.URL, nil, "--token", "sdk-token", "flag", "list")
	want := "hint: the admin API and this command line tool need an admin token (ramp token create --admin); SDK tokens are for applications\n"
	if code != exitFailure || !strings.Contains(stderr, "sdk tokens cannot use the admin API") || !strings.HasSuffix(stderr, want) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

// TestTokenList checks that the table has no LAST USED column, which the
// server never fills, while JSON passes the tokens on as they come.
func TestTokenList(t *testing.T) {
	fs, srv := newFakeServer(t)
	created := time.Date(2026, 11, 25, 21, 57, 54, 0, time.UTC)
	fs.tokens = []ramp.Token{
		{ID: "sp4yrpru5ywbj6te", Name: "checkout-service", Kind: ramp.TokenSDK, Environment: "production", CreatedAt: created, CreatedBy: "admin"},
		{ID: "zllxvobebfwvfnrz", Name: "ci", Kind: ramp.TokenAdmin, CreatedAt: created, CreatedBy: "admin"},
	}
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "token", "list")
	if code != exitOK {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAME KIND ENVIRONMENT CREATED CREATED BY" {
		t.Errorf("table:\n%s", stdout)
	}
	if f := strings.Fields(lines[2]); len(f) != 7 || f[0] != "zllxvobebfwvfnrz" || f[3] != "-" || f[6] != "admin" {
		t.Errorf("row %q", lines[2])
	}
	if strings.Contains(stdout, "LAST USED") {
		t.Errorf("table has a LAST USED column:\n%s", stdout)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "token", "list", "-o", "json")
	var tokens []map[string]any
	if err := json.Unmarshal([]byte(stdout), &tokens); err != nil || len(tokens) != 2 || tokens[0]["name"] != "checkout-service" {
		t.Errorf("json %q: %v", stdout, err)
	}
}

// TestHelpPromisesOnlyWhatExists checks the help of commands that once
// described features the server does not have.
func TestHelpPromisesOnlyWhatExists(t *testing.T) {
	tests := []struct {
		args          []string
		want, notWant []string
	}{
		{[]string{"rollback", "--help"},
			[]string{"takes effect at once for everyone in the environment", "rollout of the flag in the environment is aborted"},
			[]string{"milliseconds"}},
		{[]string{"env", "delete", "--help"},
			[]string{"The server refuses", "while SDK tokens are scoped to the environment: revoke them first"},
			[]string{"stop working"}},
		{[]string{"token", "--help"},
			[]string{"SDK", "tokens are for applications (read-only, one environment)"},
			[]string{"OFREP", "console"}},
		{[]string{"token", "list", "--help"},
			nil,
			[]string{"last used"}},
		{[]string{"set", "--help"},
			[]string{"1. --variant", "2. the variant the flag is already rolling out", "3. on, for boolean flags", "4. the only variant other than the off variant"},
			nil},
	}
	for _, tt := range tests {
		stdout, _, code := rampCLI(t, "", nil, tt.args...)
		if code != exitOK {
			t.Errorf("%s: exit %d", tt.args, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s does not say %q:\n%s", tt.args, w, stdout)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(strings.ToLower(stdout), strings.ToLower(w)) {
				t.Errorf("%s mentions %q:\n%s", tt.args, w, stdout)
			}
		}
	}
}

// TestEveryCommandHasHelp checks that every command has a description and
// an example that starts with "ramp".
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRootCmd(newApp(nil, io.Discard, io.Discard, func(string) string { return "" }))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" {
			return
		}
		if c.Short == "" || c.Long == "" {
			t.Errorf("%s: Short or Long is empty", c.CommandPath())
		}
		if !strings.HasPrefix(strings.TrimSpace(c.Example), "ramp ") && !strings.HasPrefix(strings.TrimSpace(c.Example), "export ") {
			t.Errorf("%s: Example %q does not show a ramp command", c.CommandPath(), c.Example)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func TestFlagCreateBoolean(t *testing.T) {
	fs, srv := newFakeServer(t)
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "checkout-v2", "--type", "boolean", "--owner", "payments", "--tag", "a,b")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	if want := "created flag checkout-v2 (boolean: on=true, off=false; default off)\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	f := fs.flags["checkout-v2"]
	if f.DefaultVariant != "off" || len(f.Variants) != 2 || string(f.Variant("on").Value) != "true" || string(f.Variant("off").Value) != "false" {
		t.Errorf("flag %+v", f)
	}
	for env, fe := range f.Environments {
		if fe.On || f.OffVariantKey(env) != "off" {
			t.Errorf("%s: %+v, want off serving off", env, fe)
		}
	}
	if strings.Join(f.Tags, ",") != "a,b" || f.Owner != "payments" {
		t.Errorf("tags %v owner %q", f.Tags, f.Owner)
	}
}

func TestFlagCreateString(t *testing.T) {
	fs, srv := newFakeServer(t)
	_, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "color", "--type", "string",
		"--variant", "blue=blue", "--variant", `green="green"`, "--variant", "two=2", "--default", "green")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	f := fs.flags["color"]
	got := describeVariants(f)
	if want := `blue="blue", green="green", two="2"`; got != want || f.DefaultVariant != "green" {
		t.Errorf("variants %s default %s, want %s default green", got, f.DefaultVariant, want)
	}
}

func TestParseVariant(t *testing.T) {
	tests := []struct {
		typ, spec, want string
		ok              bool
	}{
		{"boolean", "on=true", "true", true},
		{"boolean", "on=yes", "", false},
		{"number", "n=3.5", "3.5", true},
		{"number", "n=blue", "", false},
		{"number", `n="3"`, "", false},
		{"object", `o={"a":1}`, `{"a":1}`, true},
		{"object", "o=[1]", "", false},
		{"string", "s=blue", `"blue"`, true},
		{"string", `s="a=b"`, `"a=b"`, true},
		{"string", "s=a=b", `"a=b"`, true},
		{"string", "s=", `""`, true},
		{"string", "noequals", "", false},
		{"string", "Bad=x", "", false},
	}
	for _, tt := range tests {
		v, err := parseVariant(ramp.FlagType(tt.typ), tt.spec)
		if (err == nil) != tt.ok {
			t.Errorf("%s %s: err %v, want ok=%v", tt.typ, tt.spec, err, tt.ok)
			continue
		}
		if tt.ok && string(v.Value) != tt.want {
			t.Errorf("%s %s: value %s, want %s", tt.typ, tt.spec, v.Value, tt.want)
		}
		if !tt.ok && !isUsage(err) {
			t.Errorf("%s %s: %v is not a usage error", tt.typ, tt.spec, err)
		}
	}
}

func TestSetRollbackStatus(t *testing.T) {
	_, srv := newFakeServer(t)
	if _, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "checkout-v2", "--type", "boolean"); code != 0 {
		t.Fatal(stderr)
	}
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "set", "checkout-v2", "12.5%")
	if code != 0 || stdout != "checkout-v2 in production: 12.5% → on\n" {
		t.Fatalf("set: code %d stdout %q stderr %q", code, stdout, stderr)
	}
	stdout, _, code = rampCLI(t, srv.URL, nil, "status", "checkout-v2", "-o", "json")
	var st struct {
		Environments []struct {
			Environment string  `json:"environment"`
			On          bool    `json:"on"`
			Percentage  float64 `json:"percentage"`
		} `json:"environments"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || code != 0 {
		t.Fatalf("status -o json: %v, code %d, %q", err, code, stdout)
	}
	for _, e := range st.Environments {
		if e.Environment == "production" && (!e.On || e.Percentage != 12.5) {
			t.Errorf("production status %+v", e)
		}
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "status", "checkout-v2")
	if !strings.Contains(stdout, "production") || !strings.Contains(stdout, "12.5%") {
		t.Errorf("status table:\n%s", stdout)
	}
	stdout, stderr, code = rampCLI(t, srv.URL, nil, "rollback", "checkout-v2")
	if code != 0 || stdout != "checkout-v2 in production: rolled back, everyone gets off\n" {
		t.Errorf("rollback: code %d stdout %q stderr %q", code, stdout, stderr)
	}
}

func TestTokenCreatePrintsTokenAlone(t *testing.T) {
	_, srv := newFakeServer(t)
	stdout, stderr, code := rampCLI(t, srv.URL, nil, "token", "create", "--sdk", "--env", "production")
	if code != 0 || stdout != "ramp_sdk_secret\n" {
		t.Errorf("code %d stdout %q stderr %q", code, stdout, stderr)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "token", "create", "--admin", "-o", "json")
	var tok map[string]any
	if err := json.Unmarshal([]byte(stdout), &tok); err != nil || tok["token"] != "ramp_admin_secret" || tok["name"] != "admin" {
		t.Errorf("json %q: %v", stdout, err)
	}
}

func TestAuditJSONIsArray(t *testing.T) {
	fs, srv := newFakeServer(t)
	stdout, _, code := rampCLI(t, srv.URL, nil, "audit", "-o", "json")
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("empty audit: code %d, %q", code, stdout)
	}
	fs.audit = append(fs.audit, ramp.AuditEntry{ID: 1, Time: time.Now(), Actor: "alice", Action: ramp.ActionFlagPercentage, Kind: "flag", Key: "checkout-v2", Environment: "production"})
	stdout, _, _ = rampCLI(t, srv.URL, nil, "audit", "--flag", "checkout-v2", "--since", "24h", "-o", "json")
	var entries []map[string]any
	if err := json.Unmarshal([]byte(stdout), &entries); err != nil || len(entries) != 1 || entries[0]["actor"] != "alice" || entries[0]["action"] != "flag.percentage" || entries[0]["time"] == nil {
		t.Errorf("audit json %q: %v", stdout, err)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "audit")
	if !strings.Contains(stdout, "alice") || !strings.Contains(stdout, "TIME") {
		t.Errorf("audit table:\n%s", stdout)
	}
}

func TestListingFormats(t *testing.T) {
	_, srv := newFakeServer(t)
	rampCLI(t, srv.URL, nil, "flag", "create", "checkout-v2", "--type", "boolean")
	stdout, _, _ := rampCLI(t, srv.URL, nil, "flag", "list")
	if !strings.HasPrefix(stdout, "KEY") || !strings.Contains(stdout, "production=off") {
		t.Errorf("table:\n%s", stdout)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "flag", "list", "-o", "yaml")
	if !strings.Contains(stdout, "- key: checkout-v2") || !strings.Contains(stdout, "value: true") {
		t.Errorf("yaml:\n%s", stdout)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "env", "list", "-o", "json")
	var envs []map[string]any
	if err := json.Unmarshal([]byte(stdout), &envs); err != nil || len(envs) != 2 {
		t.Errorf("env json %q: %v", stdout, err)
	}
	stdout, _, _ = rampCLI(t, srv.URL, nil, "segment", "list", "-o", "json")
	if strings.TrimSpace(stdout) != "[]" {
		t.Errorf("segment json %q", stdout)
	}
}
