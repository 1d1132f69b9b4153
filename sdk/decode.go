package sdk

import (
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// v1 are the options of encoding/json's behaviour.
var v1 = jsonv1.DefaultOptionsV1()

// decode reads an environment document or a change event into v.
//
// Every flag a change brings is decoded by every client, and a kill
// switch multiplies that by the number of applications; so the SDK reads
// the stream with the prototype of encoding/json/v2 (by the Go team, and
// the implementation of Go's own encoding/json/v2), which decodes a flag in
// about half the time of encoding/json with a third of its allocations
// (docs/benchmarks.md, "SDK: applying a change").
//
// It is stricter than encoding/json, never looser: member names match
// exactly, a duplicate name or invalid UTF-8 is an error. The server writes
// exactly that; anything else is a malformed event, which the caller
// ignores as before. FuzzDecode holds the two decoders to the same values.
func decode(data []byte, v any) error {
	return jsonv2.Unmarshal(data, v, v1)
}
