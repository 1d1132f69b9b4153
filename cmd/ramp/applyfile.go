package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp"
)

// applyFile is the document "ramp apply" reads. Its field names are the
// YAML names of the domain types; variant values are plain YAML values
// (true, blue, 3.5, {columns: 2}).
type applyFile struct {
	Environments []*yamlEnvironment `yaml:"environments,omitempty"`
	Segments     []*yamlSegment     `yaml:"segments,omitempty"`
	Flags        []*yamlFlag        `yaml:"flags,omitempty"`
}

// yamlFlag is ramp.Flag as written in YAML. It mirrors every YAML field of
// ramp.Flag (a test keeps the two in step) except that a variant's value
// is a YAML value rather than JSON text.
type yamlFlag struct {
	Key            string                   `yaml:"key"`
	Name           string                   `yaml:"name,omitempty"`
	Description    string                   `yaml:"description,omitempty"`
	Owner          string                   `yaml:"owner,omitempty"`
	Tags           []string                 `yaml:"tags,omitempty"`
	Type           ramp.FlagType            `yaml:"type"`
	Variants       []yamlVariant            `yaml:"variants"`
	DefaultVariant string                   `yaml:"defaultVariant"`
	Salt           string                   `yaml:"salt,omitempty"`
	Environments   map[string]*ramp.FlagEnv `yaml:"environments,omitempty"`

	// ignoredFields lets the output of "ramp flag get -o yaml" be applied.
	ignoredFields `yaml:",inline"`
}

// ignoredFields are fields the server sets. A file may carry them (copied
// from -o yaml output); apply ignores them.
type ignoredFields struct {
	Version   any `yaml:"version,omitempty"`
	CreatedAt any `yaml:"createdAt,omitempty"`
	UpdatedAt any `yaml:"updatedAt,omitempty"`
}

type yamlVariant struct {
	Key         string    `yaml:"key"`
	Value       yaml.Node `yaml:"value"`
	Description string    `yaml:"description,omitempty"`
}

type yamlSegment struct {
	ramp.Segment  `yaml:",inline"`
	ignoredFields `yaml:",inline"`
}

type yamlEnvironment struct {
	ramp.Environment `yaml:",inline"`
	CreatedAt        any `yaml:"createdAt,omitempty"`
}

// parseApplyFile reads one or more YAML documents of flags, segments and
// environments. Unknown fields, values JSON cannot hold and keys given
// twice are errors.
func parseApplyFile(r io.Reader) (envs []ramp.Environment, segs []*ramp.Segment, flags []*ramp.Flag, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	docs := 0
	for {
		var f applyFile
		err := dec.Decode(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, nil, cleanYAMLError(err)
		}
		docs++
		for _, e := range f.Environments {
			if e == nil {
				return nil, nil, nil, errors.New("environments: an item is empty")
			}
			envs = append(envs, e.Environment)
		}
		for _, s := range f.Segments {
			if s == nil {
				return nil, nil, nil, errors.New("segments: an item is empty")
			}
			seg := s.Segment
			segs = append(segs, &seg)
		}
		for _, yf := range f.Flags {
			if yf == nil {
				return nil, nil, nil, errors.New("flags: an item is empty")
			}
			fl, err := yf.toFlag()
			if err != nil {
				return nil, nil, nil, err
			}
			flags = append(flags, fl)
		}
	}
	if docs == 0 {
		return nil, nil, nil, errors.New("the file is empty: list flags under \"flags\" and segments under \"segments\"")
	}
	if err := checkDuplicates("environment", envs, func(e ramp.Environment) string { return e.Key }); err != nil {
		return nil, nil, nil, err
	}
	if err := checkDuplicates("segment", segs, func(s *ramp.Segment) string { return s.Key }); err != nil {
		return nil, nil, nil, err
	}
	if err := checkDuplicates("flag", flags, func(f *ramp.Flag) string { return f.Key }); err != nil {
		return nil, nil, nil, err
	}
	return envs, segs, flags, nil
}

// cleanYAMLError drops the type names of this package from yaml's messages
// about unknown fields.
func cleanYAMLError(err error) error {
	msg := err.Error()
	for _, t := range []string{"main.yamlFlag", "main.yamlSegment", "main.yamlEnvironment", "main.yamlVariant", "main.applyFile"} {
		msg = strings.ReplaceAll(msg, " in type "+t, "")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return errors.New(msg)
}

func checkDuplicates[T any](kind string, xs []T, key func(T) string) error {
	seen := map[string]bool{}
	for _, x := range xs {
		k := key(x)
		if seen[k] {
			return fmt.Errorf("%s %q is listed twice", kind, k)
		}
		seen[k] = true
	}
	return nil
}

// toFlag converts the YAML form to the domain type, turning each variant's
// YAML value into JSON.
func (yf *yamlFlag) toFlag() (*ramp.Flag, error) {
	f := &ramp.Flag{
		Key: yf.Key, Name: yf.Name, Description: yf.Description, Owner: yf.Owner, Tags: yf.Tags,
		Type: yf.Type, DefaultVariant: yf.DefaultVariant, Salt: yf.Salt, Environments: yf.Environments,
	}
	for _, yv := range yf.Variants {
		v := ramp.Variant{Key: yv.Key, Description: yv.Description}
		if yv.Value.Kind != 0 {
			raw, err := nodeToJSON(&yv.Value)
			if err != nil {
				return nil, fmt.Errorf("flag %q, variant %q: %w", yf.Key, yv.Key, err)
			}
			v.Value = raw
		}
		f.Variants = append(f.Variants, v)
	}
	return f, nil
}

// flagToYAML converts a flag to its YAML form, variant values as YAML
// values.
func flagToYAML(f *ramp.Flag) (*yamlFlag, error) {
	yf := &yamlFlag{
		Key: f.Key, Name: f.Name, Description: f.Description, Owner: f.Owner, Tags: f.Tags,
		Type: f.Type, DefaultVariant: f.DefaultVariant, Salt: f.Salt, Environments: f.Environments,
	}
	for _, v := range f.Variants {
		yv := yamlVariant{Key: v.Key, Description: v.Description}
		raw := v.Value
		if len(bytes.TrimSpace(raw)) == 0 {
			raw = json.RawMessage("null")
		}
		n, err := jsonToNode(raw)
		if err != nil {
			return nil, fmt.Errorf("flag %q, variant %q: value %s: %w", f.Key, v.Key, v.Value, err)
		}
		yv.Value = *n
		yf.Variants = append(yf.Variants, yv)
	}
	return yf, nil
}

// canonicalJSON rewrites a JSON value so that equal values have equal
// text: object keys sorted, numbers in one notation, no spaces. Text that
// is not JSON comes back unchanged.
func canonicalJSON(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	var buf bytes.Buffer
	if err := writeJSONValue(&buf, v); err != nil {
		return raw
	}
	return buf.Bytes()
}

// sortedSet returns the sorted distinct strings of xs, nil if there are
// none.
func sortedSet(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return slices.Compact(s)
}
