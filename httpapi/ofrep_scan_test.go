package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// scanCases are bodies for the fast context decoder: those it must take,
// and those it must leave to encoding/json.
var scanCases = []struct {
	body string
	fast bool
}{
	{`{"context":{"targetingKey":"user-1"}}`, true},
	{` { "context" : { "targetingKey" : "user-1" , "plan" : "pro" , "age" : 42 , "beta" : true , "x" : null } } `, true},
	{`{"context":{}}`, true},
	{`{"context":{"n":-0.5e+3,"m":0,"f":false,"s":"héllo"}}`, true},
	{`{"context":{"targetingKey":"a","targetingKey":"b"}}`, true},
	{"{\"context\":{\"targetingKey\":\"u\"}}\n", true},
	{`{"context":{"targetingKey":1}}`, false},
	{`{"context":{"targetingKey":null}}`, false},
	{`{"context":{"targetingKey":"a\"b"}}`, false},
	{`{"context":{"list":[1,2]}}`, false},
	{`{"context":{"o":{"a":1}}}`, false},
	{`{"Context":{"targetingKey":"u"}}`, false},
	{`{"context":{"targetingKey":"u"},"other":1}`, false},
	{`{"context":null}`, false},
	{`{"context":{"n":01}}`, false},
	{`{"context":{"n":1.}}`, false},
	{`{"context":{"n":1e999}}`, false},
	{`{"context":{"a":1,}}`, false},
	{`{"context":{"a":1}`, false},
	{`{"context":{"a":1}}}`, false},
	{`{"context":{"a":tru}}`, false},
	{"{\"context\":{\"a\":\"\xff\"}}", false},
	{"{\"context\":{\"a\":\"\x01\"}}", false},
	{`[]`, false},
}

// checkScan compares scanContext with encoding/json on body: whenever
// the fast decoder takes a body, it must give what encoding/json gives.
func checkScan(t *testing.T, body string) (fast bool) {
	attrs := map[string]any{}
	tk, ok := scanContext([]byte(body), attrs)
	if !ok {
		return false
	}
	var req ofrepRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatalf("%q: the fast decoder took a body encoding/json rejects: %v", body, err)
	}
	want, _ := req.Context["targetingKey"].(string)
	delete(req.Context, "targetingKey")
	if tk != want || !reflect.DeepEqual(attrs, req.Context) {
		t.Fatalf("%q: fast decoder gives %q %#v, encoding/json %q %#v", body, tk, attrs, want, req.Context)
	}
	return true
}

func TestScanContext(t *testing.T) {
	for _, c := range scanCases {
		if got := checkScan(t, c.body); got != c.fast {
			t.Errorf("%q: fast path %v, want %v", c.body, got, c.fast)
		}
	}
}

func FuzzScanContext(f *testing.F) {
	for _, c := range scanCases {
		f.Add(c.body)
	}
	f.Fuzz(func(t *testing.T, body string) { checkScan(t, body) })
}
