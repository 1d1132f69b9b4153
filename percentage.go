package ramp

import (
	"fmt"
	"strconv"
	"strings"
)

// The percentage and the kill switch are the two moves of a rollout. They
// are defined here, on the flag, so that the API, the rollout controller
// and the alert receiver make exactly the same change.

// SetPercentage turns env on and splits its fallthrough between the
// rolled-out variant, first so that its buckets grow from the start of
// the range, and the off variant with the rest. variant names the variant
// to roll out; empty picks it as RolloutVariant does. It fails with an
// EINVALID *Error for a bad percentage or variant, and leaves f unchanged
// then.
func (f *Flag) SetPercentage(env string, percent float64, variant string) error {
	buckets, ok := PercentToBuckets(percent)
	if !ok {
		return fieldErr(fmt.Sprintf("percentage of flag %q", f.Key), "percentage",
			"%v is not a percentage: use a number from 0 to 100 with at most three decimals", percent)
	}
	fe := f.envState(env)
	off := f.OffVariantKey(env)
	v, err := f.RolloutVariant(env, variant)
	if err != nil {
		return err
	}
	fe.On = true
	fe.Fallthrough = Serve{
		Split: []Allocation{
			{Variant: v, Percent: bucketsToPercent(buckets)},
			{Variant: off, Percent: bucketsToPercent(BucketCount - buckets)},
		},
		BucketBy: fe.Fallthrough.BucketBy,
	}
	return nil
}

// Rollback is the kill switch: env turns off, so that everyone gets the
// off variant at once, rules included, and its fallthrough keeps 0 % of
// the rolled-out variant so that a later SetPercentage starts from zero.
func (f *Flag) Rollback(env string) {
	fe := f.envState(env)
	off := f.OffVariantKey(env)
	fe.On = false
	if v := rolledOut(fe.Fallthrough, off); v != "" && f.Variant(v) != nil {
		fe.Fallthrough = Serve{
			Split:    []Allocation{{Variant: v, Percent: 0}, {Variant: off, Percent: 100}},
			BucketBy: fe.Fallthrough.BucketBy,
		}
	} else {
		fe.Fallthrough = Serve{Variant: off}
	}
}

// RolloutVariant returns the variant a percentage in env rolls out: asked
// if not empty; else the one the fallthrough already rolls out; else "on"
// for a boolean flag; else the only variant other than the off variant.
func (f *Flag) RolloutVariant(env, asked string) (string, error) {
	what := fmt.Sprintf("percentage of flag %q", f.Key)
	off := f.OffVariantKey(env)
	if asked != "" {
		switch {
		case f.Variant(asked) == nil:
			return "", fieldErr(what, "variant", "variant %q is not defined; the flag has %s", asked, quoteList(variantKeys(f)))
		case asked == off:
			return "", fieldErr(what, "variant", "%q is the off variant; name the variant to roll out", asked)
		}
		return asked, nil
	}
	if fe := f.Environments[env]; fe != nil {
		if v := rolledOut(fe.Fallthrough, off); v != "" && f.Variant(v) != nil {
			return v, nil
		}
	}
	if f.Type == TypeBoolean && off != "on" && f.Variant("on") != nil {
		return "on", nil
	}
	var others []string
	for _, v := range f.Variants {
		if v.Key != off {
			others = append(others, v.Key)
		}
	}
	switch len(others) {
	case 1:
		return others[0], nil
	case 0:
		return "", fieldErr(what, "variant", "the flag has no variant besides the off variant %q", off)
	}
	quoted := make([]string, len(others))
	for i, o := range others {
		quoted[i] = strconv.Quote(o)
	}
	return "", fieldErr(what, "variant", "is required: the flag has %d variants besides the off variant %q; name one of %s", len(others), off, strings.Join(quoted, ", "))
}

// RolledOut returns the variant other than the off variant that env's
// fallthrough serves, or "" if it serves none or several.
func (f *Flag) RolledOut(env string) string {
	fe := f.Environments[env]
	if fe == nil {
		return ""
	}
	return rolledOut(fe.Fallthrough, f.OffVariantKey(env))
}

func rolledOut(s Serve, off string) string {
	if s.Variant != "" {
		if s.Variant == off {
			return ""
		}
		return s.Variant
	}
	found := ""
	for _, a := range s.Split {
		switch a.Variant {
		case off, found:
		default:
			if found != "" {
				return ""
			}
			found = a.Variant
		}
	}
	return found
}

// envState returns the state of env, creating an off one if missing.
func (f *Flag) envState(env string) *FlagEnv {
	if f.Environments == nil {
		f.Environments = map[string]*FlagEnv{}
	}
	fe := f.Environments[env]
	if fe == nil {
		fe = &FlagEnv{Fallthrough: Serve{Variant: f.DefaultVariant}}
		f.Environments[env] = fe
	}
	return fe
}

// bucketsToPercent is the inverse of PercentToBuckets. Computing the off
// variant's share from buckets, not as 100 minus a float, keeps a split
// adding up to exactly 100.
func bucketsToPercent(n int) float64 { return float64(n) * 100 / BucketCount }

func fieldErr(what, field, format string, args ...any) error {
	return &Error{Code: EINVALID, Message: what + " is invalid", Fields: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}
