package main

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestNodeToJSON(t *testing.T) {
	tests := []struct{ yaml, json string }{
		{"true", "true"},
		{"false", "false"},
		{"on", `"on"`}, // YAML 1.2: a string, not a boolean
		{"blue", `"blue"`},
		{`"3"`, `"3"`},
		{"3", "3"},
		{"3.5", "3.5"},
		{"-0.25", "-0.25"},
		{"1e3", "1000"},
		{"null", "null"},
		{"~", "null"},
		{"2024-01-31", `"2024-01-31"`}, // a timestamp stays the text written
		{"{a: 1, b: [x, true]}", `{"a":1,"b":["x",true]}`},
		{"{z: 1, a: 2}", `{"z":1,"a":2}`}, // order kept
		{"a: <b>&", `{"a":"<b>&"}`},
		{"[]", "[]"},
		{"{}", "{}"},
		{"x: &anchor 1\ny: *anchor", `{"x":1,"y":1}`},
	}
	for _, tt := range tests {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(tt.yaml), &n); err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		got, err := nodeToJSON(&n)
		if err != nil || string(got) != tt.json {
			t.Errorf("nodeToJSON(%q) = %s, %v; want %s", tt.yaml, got, err, tt.json)
		}
	}
	for _, bad := range []string{".nan", ".inf", "{[1]: x}", "{a: 1, a: 2}", "base: &b {x: 1}\nother:\n  <<: *b"} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(bad), &n); err != nil {
			continue // rejected by the parser already
		}
		if got, err := nodeToJSON(&n); err == nil {
			t.Errorf("nodeToJSON(%q) = %s, want an error", bad, got)
		}
	}
}

func TestJSONToYAML(t *testing.T) {
	tests := []struct{ json, yaml string }{
		{`{"key":"on","value":true}`, "key: \"on\"\nvalue: true\n"},
		{`{"z":1,"a":2.50}`, "z: 1\na: 2.50\n"},
		{`{"s":"123","num":123,"e":[],"o":{}}`, "s: \"123\"\nnum: 123\ne: []\no: {}\n"},
		{`[null,"null","true"]`, "- null\n- \"null\"\n- \"true\"\n"},
	}
	for _, tt := range tests {
		n, err := jsonToNode([]byte(tt.json))
		if err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		b, err := encodeYAML(n)
		if err != nil || string(b) != tt.yaml {
			t.Errorf("%s: got %q, %v; want %q", tt.json, b, err, tt.yaml)
		}
		// And back: the YAML reads as the same JSON.
		var back yaml.Node
		if err := yaml.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		j, err := nodeToJSON(&back)
		if err != nil || canonical(t, j) != canonical(t, []byte(tt.json)) {
			t.Errorf("round trip of %s gave %s, %v", tt.json, j, err)
		}
	}
	if _, err := jsonToNode([]byte(`{"a":1} x`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func canonical(t *testing.T, j []byte) string {
	t.Helper()
	return strings.TrimSpace(string(canonicalJSON(j)))
}
