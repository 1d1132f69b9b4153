package ramp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxKeyLen is the longest key of a flag, variant, segment or environment.
const MaxKeyLen = 128

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// CheckKey returns a client-safe message if key is not a valid key, or "".
// Keys are lower-case slugs: letters, digits, '.', '_' and '-', starting
// with a letter or digit, at most MaxKeyLen characters.
func CheckKey(key string) string {
	switch {
	case key == "":
		return "is required"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("is %d characters long; the limit is %d", len(key), MaxKeyLen)
	case !keyPattern.MatchString(key):
		return fmt.Sprintf("%q is not a valid key: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", key)
	}
	return ""
}

// Validator collects field errors under a path.
type validator struct{ fields []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) key(field, key string) {
	if msg := CheckKey(key); msg != "" {
		v.add(field, "%s", msg)
	}
}

func (v *validator) err(what string) error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: what + " is invalid", Fields: v.fields}
}

// Scope is what a flag or segment is validated against: the environments
// and segments that exist.
type Scope struct {
	Environments []string
	Segments     []string
}

// Validate checks the flag against the scope and returns an *Error with
// code EINVALID that lists every problem found, or nil.
func (f *Flag) Validate(s Scope) error {
	v := &validator{}
	v.key("key", f.Key)
	if len(f.Name) > 200 {
		v.add("name", "is %d characters long; the limit is 200", len(f.Name))
	}
	if len(f.Description) > 2000 {
		v.add("description", "is %d characters long; the limit is 2000", len(f.Description))
	}
	for i, t := range f.Tags {
		if t == "" || len(t) > 64 {
			v.add(fmt.Sprintf("tags[%d]", i), "must be 1 to 64 characters")
		}
	}
	switch f.Type {
	case TypeBoolean, TypeString, TypeNumber, TypeObject:
	case "":
		v.add("type", "is required: use boolean, string, number or object")
	default:
		v.add("type", "%q is not a flag type: use boolean, string, number or object", f.Type)
	}
	if len(f.Variants) == 0 {
		v.add("variants", "at least one variant is required")
	}
	seen := map[string]bool{}
	for i, vr := range f.Variants {
		field := fmt.Sprintf("variants[%d]", i)
		v.key(field+".key", vr.Key)
		if seen[vr.Key] {
			v.add(field+".key", "variant %q is defined twice", vr.Key)
		}
		seen[vr.Key] = true
		if msg := checkValue(f.Type, vr.Value); msg != "" {
			v.add(field+".value", "%s", msg)
		}
	}
	variant := func(field, key string) {
		if key == "" {
			v.add(field, "is required")
		} else if !seen[key] {
			v.add(field, "variant %q is not defined; the flag has %s", key, quoteList(variantKeys(f)))
		}
	}
	variant("defaultVariant", f.DefaultVariant)
	for _, env := range sortedKeys(f.Environments) {
		fe := f.Environments[env]
		field := "environments." + env
		if !slices.Contains(s.Environments, env) {
			v.add(field, "environment %q does not exist; create it first or use one of %s", env, quoteList(s.Environments))
			continue
		}
		if fe == nil {
			v.add(field, "is null")
			continue
		}
		if fe.OffVariant != "" {
			variant(field+".offVariant", fe.OffVariant)
		}
		if len(fe.Rules) > 1000 {
			v.add(field+".rules", "has %d rules; the limit is 1000", len(fe.Rules))
		}
		for i, r := range fe.Rules {
			rf := fmt.Sprintf("%s.rules[%d]", field, i)
			if len(r.Clauses) == 0 {
				v.add(rf+".clauses", "a rule needs at least one clause")
			}
			for j, c := range r.Clauses {
				v.clause(fmt.Sprintf("%s.clauses[%d]", rf, j), c, s.Segments)
			}
			v.serve(rf+".serve", r.Serve, variant)
		}
		v.serve(field+".fallthrough", fe.Fallthrough, variant)
	}
	return v.err(fmt.Sprintf("flag %q", f.Key))
}

func (v *validator) serve(field string, s Serve, variant func(field, key string)) {
	switch {
	case s.Variant != "" && len(s.Split) > 0:
		v.add(field, "set either variant or split, not both")
	case s.Variant != "":
		variant(field+".variant", s.Variant)
	case len(s.Split) == 0:
		v.add(field, "set variant (one variant for everyone) or split (percentages across variants)")
	default:
		total := 0
		used := map[string]bool{}
		for i, a := range s.Split {
			af := fmt.Sprintf("%s.split[%d]", field, i)
			variant(af+".variant", a.Variant)
			if used[a.Variant] {
				v.add(af+".variant", "variant %q appears twice in the split", a.Variant)
			}
			used[a.Variant] = true
			n, ok := PercentToBuckets(a.Percent)
			if !ok {
				v.add(af+".percent", "%v is not a percentage: use a number from 0 to 100 with at most three decimals", a.Percent)
			}
			total += n
		}
		if total != BucketCount {
			v.add(field+".split", "percentages add up to %v; they must add up to 100", float64(total)/1000)
		}
	}
	if s.BucketBy != "" {
		if msg := checkAttribute(s.BucketBy); msg != "" {
			v.add(field+".bucketBy", "%s", msg)
		}
	}
}

func (v *validator) clause(field string, c Clause, segments []string) {
	if !slices.Contains(Operators, c.Op) {
		v.add(field+".op", "%q is not an operator: use one of %s", c.Op, quoteList(Operators))
		return
	}
	if len(c.Values) == 0 {
		v.add(field+".values", "at least one value is required")
	}
	if len(c.Values) > 10000 {
		v.add(field+".values", "has %d values; the limit is 10000 (use a segment for long lists)", len(c.Values))
	}
	if c.Op.IsSegmentOp() {
		if c.Attribute != "" {
			v.add(field+".attribute", "must be empty for %s: segment clauses test the whole context", c.Op)
		}
		for i, s := range c.Values {
			if !slices.Contains(segments, s) {
				v.add(fmt.Sprintf("%s.values[%d]", field, i), "segment %q does not exist", s)
			}
		}
		return
	}
	if msg := checkAttribute(c.Attribute); msg != "" {
		v.add(field+".attribute", "%s", msg)
	}
	for i, val := range c.Values {
		vf := fmt.Sprintf("%s.values[%d]", field, i)
		switch c.Op {
		case OpLT, OpLTE, OpGT, OpGTE:
			if f, err := strconv.ParseFloat(val, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				v.add(vf, "%q is not a number; %s compares numbers", val, c.Op)
			}
		case OpSemverEq, OpSemverLT, OpSemverGT:
			if !ValidSemver(val) {
				v.add(vf, "%q is not a semantic version such as 1.4.2 or 2.0.0-rc.1", val)
			}
		case OpMatches:
			if _, err := regexp.Compile(val); err != nil {
				v.add(vf, "%q is not a valid regular expression: %v", val, err)
			}
		}
	}
}

func checkAttribute(a string) string {
	switch {
	case a == "":
		return "is required: name the context attribute to test, for example targetingKey or email"
	case len(a) > 256:
		return "is longer than 256 characters"
	case strings.TrimSpace(a) != a:
		return fmt.Sprintf("%q has leading or trailing spaces", a)
	}
	return ""
}

func checkValue(t FlagType, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "is required"
	}
	var val any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&val); err != nil {
		return fmt.Sprintf("is not valid JSON: %v", err)
	}
	ok := false
	switch t {
	case TypeBoolean:
		_, ok = val.(bool)
	case TypeString:
		_, ok = val.(string)
	case TypeNumber:
		if n, isNum := val.(json.Number); isNum {
			f, err := n.Float64()
			ok = err == nil && !math.IsInf(f, 0)
		}
	case TypeObject:
		_, ok = val.(map[string]any)
	default:
		return "" // the type itself is reported
	}
	if !ok {
		return fmt.Sprintf("%s is not a %s value", raw, t)
	}
	return ""
}

// Validate checks the segment and returns an *Error with code EINVALID, or
// nil.
func (s *Segment) Validate() error {
	v := &validator{}
	v.key("key", s.Key)
	if len(s.Included)+len(s.Excluded) > 100000 {
		v.add("included", "included and excluded list %d keys; the limit is 100000", len(s.Included)+len(s.Excluded))
	}
	for i, r := range s.Rules {
		rf := fmt.Sprintf("rules[%d]", i)
		if len(r.Clauses) == 0 {
			v.add(rf+".clauses", "a rule needs at least one clause")
		}
		for j, c := range r.Clauses {
			cf := fmt.Sprintf("%s.clauses[%d]", rf, j)
			if c.Op.IsSegmentOp() {
				v.add(cf+".op", "segment rules cannot refer to other segments")
				continue
			}
			v.clause(cf, c, nil)
		}
	}
	return v.err(fmt.Sprintf("segment %q", s.Key))
}

// Validate checks the environment and returns an *Error with code EINVALID,
// or nil.
func (e *Environment) Validate() error {
	v := &validator{}
	v.key("key", e.Key)
	return v.err(fmt.Sprintf("environment %q", e.Key))
}

// SegmentRefs returns the keys of the segments the flag's clauses name.
func (f *Flag) SegmentRefs() []string {
	var refs []string
	for _, fe := range f.Environments {
		if fe == nil {
			continue
		}
		for _, r := range fe.Rules {
			for _, c := range r.Clauses {
				if c.Op.IsSegmentOp() {
					for _, s := range c.Values {
						if !slices.Contains(refs, s) {
							refs = append(refs, s)
						}
					}
				}
			}
		}
	}
	slices.Sort(refs)
	return refs
}

func variantKeys(f *Flag) []string {
	keys := make([]string, len(f.Variants))
	for i, v := range f.Variants {
		keys[i] = v.Key
	}
	return keys
}

func quoteList[T ~string](xs []T) string {
	if len(xs) == 0 {
		return "none"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(string(x))
	}
	return strings.Join(q, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
