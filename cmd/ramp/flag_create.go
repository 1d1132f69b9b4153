package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
)

func newFlagCreateCmd(a *app) *cobra.Command {
	var (
		typ      string
		variants []string
		def      string
		f        ramp.Flag
	)
	cmd := &cobra.Command{
		Use:   "create KEY --type boolean|string|number|object",
		Short: "Create a flag",
		Long: `Create a flag. It starts off in every environment, serving its default
variant to everyone; use "ramp set" to roll it out.

A boolean flag without --variant gets the variants on (true) and off (false),
default off. Other types need --variant KEY=VALUE for each variant, with the
value in JSON; for string flags a bare word (--variant blue=blue) is taken as
that string. --default names the default variant: off for boolean flags, the
first variant otherwise.`,
		Example: `  ramp flag create checkout-v2 --type boolean --owner payments --tag checkout
  ramp flag create button-color --type string --variant blue=blue --variant green=green --default blue
  ramp flag create max-items --type number --variant low=10 --variant high=50
  ramp flag create layout --type object --variant v1='{"columns":2}' --variant v2='{"columns":3}'`,
		Args: argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Key = args[0]
			if err := buildFlag(&f, typ, variants, def); err != nil {
				return err
			}
			created, err := a.client().CreateFlag(cmd.Context(), &f)
			if err != nil {
				return err
			}
			return a.render(created, func(w io.Writer) {
				fmt.Fprintf(w, "created flag %s (%s: %s; default %s)\n",
					created.Key, created.Type, describeVariants(created), created.DefaultVariant)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "value type: boolean, string, number or object (required)")
	fl.StringArrayVar(&variants, "variant", nil, "variant as KEY=JSONVALUE; repeat for each variant")
	fl.StringVar(&def, "default", "", "default variant (default off for boolean flags, else the first variant)")
	fl.StringVar(&f.Name, "name", "", "human-readable name")
	fl.StringVar(&f.Description, "description", "", "what the flag is for")
	fl.StringVar(&f.Owner, "owner", "", "team or person who owns the flag")
	fl.StringSliceVar(&f.Tags, "tag", nil, "tag; repeat or separate with commas")
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

// buildFlag fills in the type, variants and default variant of f from the
// command line, or returns a usage error.
func buildFlag(f *ramp.Flag, typ string, specs []string, def string) error {
	if msg := ramp.CheckKey(f.Key); msg != "" {
		return usageErrorf("flag key %s", trimIs(msg))
	}
	f.Type = ramp.FlagType(typ)
	switch f.Type {
	case ramp.TypeBoolean, ramp.TypeString, ramp.TypeNumber, ramp.TypeObject:
	default:
		return usageErrorf("--type %q is not a flag type: use boolean, string, number or object", typ)
	}
	for _, spec := range specs {
		v, err := parseVariant(f.Type, spec)
		if err != nil {
			return err
		}
		if f.Variant(v.Key) != nil {
			return usageErrorf("--variant %s is given twice", v.Key)
		}
		f.Variants = append(f.Variants, v)
	}
	if len(f.Variants) == 0 {
		if f.Type != ramp.TypeBoolean {
			return usageErrorf("%s flags need --variant KEY=VALUE for each variant, for example %s", f.Type, variantExample(f.Type))
		}
		f.Variants = []ramp.Variant{
			{Key: "on", Value: json.RawMessage("true")},
			{Key: "off", Value: json.RawMessage("false")},
		}
	}
	switch {
	case def != "":
		if f.Variant(def) == nil {
			return usageErrorf("--default %q is not a variant; the flag has %s", def, strings.Join(variantKeyList(f), ", "))
		}
		f.DefaultVariant = def
	case f.Type == ramp.TypeBoolean && f.Variant("off") != nil:
		f.DefaultVariant = "off"
	default:
		f.DefaultVariant = f.Variants[0].Key
	}
	return nil
}

// parseVariant parses KEY=VALUE. VALUE is JSON of the flag's type; for
// string flags text that is not a JSON string is taken as the string.
func parseVariant(t ramp.FlagType, spec string) (ramp.Variant, error) {
	key, raw, ok := strings.Cut(spec, "=")
	if !ok {
		return ramp.Variant{}, usageErrorf("--variant %q: use KEY=VALUE, for example %s", spec, variantExample(t))
	}
	key = strings.TrimSpace(key)
	if msg := ramp.CheckKey(key); msg != "" {
		return ramp.Variant{}, usageErrorf("--variant %q: the key %s", spec, trimIs(msg))
	}
	var val any
	isJSON := json.Unmarshal([]byte(raw), &val) == nil
	if t == ramp.TypeString {
		if s, isStr := val.(string); isJSON && isStr {
			raw = s
		}
		b, _ := json.Marshal(raw)
		return ramp.Variant{Key: key, Value: b}, nil
	}
	if !isJSON {
		return ramp.Variant{}, usageErrorf("--variant %s: %q is not valid JSON; %s flags take values like %s", key, raw, t, variantExample(t))
	}
	okType := false
	switch val.(type) {
	case bool:
		okType = t == ramp.TypeBoolean
	case float64:
		okType = t == ramp.TypeNumber
	case map[string]any:
		okType = t == ramp.TypeObject
	}
	if !okType {
		return ramp.Variant{}, usageErrorf("--variant %s: %s is not a %s value; use values like %s", key, raw, t, variantExample(t))
	}
	return ramp.Variant{Key: key, Value: json.RawMessage(strings.TrimSpace(raw))}, nil
}

func variantExample(t ramp.FlagType) string {
	switch t {
	case ramp.TypeBoolean:
		return "--variant on=true --variant off=false"
	case ramp.TypeString:
		return "--variant blue=blue --variant green=green"
	case ramp.TypeNumber:
		return "--variant low=10 --variant high=50"
	}
	return `--variant v1='{"columns":2}'`
}

func variantKeyList(f *ramp.Flag) []string {
	keys := make([]string, len(f.Variants))
	for i, v := range f.Variants {
		keys[i] = v.Key
	}
	return keys
}

func describeVariants(f *ramp.Flag) string {
	parts := make([]string, len(f.Variants))
	for i, v := range f.Variants {
		parts[i] = v.Key + "=" + string(v.Value)
	}
	return strings.Join(parts, ", ")
}
