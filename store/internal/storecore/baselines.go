package storecore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// BaselineNotFound returns the ENOTFOUND error of a flag with no baseline
// in env, saying how to record one.
func BaselineNotFound(flag, env string) error {
	return ramp.Errorf(ramp.ENOTFOUND, "flag %q has no baseline in %s; record one with: ramp baseline %s --env %s --record", flag, env, flag, env)
}

// DecodeBaselineFigures decodes the figures column of a baseline row into b.
func DecodeBaselineFigures(b *ramp.Baseline, figures []byte) error {
	if err := json.Unmarshal(figures, &b.Figures); err != nil {
		return fmt.Errorf("decode baseline figures: %w", err)
	}
	return nil
}

// SavedBaseline is a baseline ready to be stored by a change, with its
// figures and audit row encoded.
type SavedBaseline struct {
	Baseline ramp.Baseline
	Figures  string
	Audit    Audit
}

// SaveBaseline returns baseline b recorded by change c at now, replacing
// prev (nil if there was none), with its audit row.
func SaveBaseline(c ramp.Change, b ramp.Baseline, prev *ramp.Baseline, now time.Time) (SavedBaseline, error) {
	before := ""
	if prev != nil {
		var err error
		if before, err = MarshalJSON(*prev); err != nil {
			return SavedBaseline{}, err
		}
	}
	b.RecordedBy, b.RecordedAt = c.Actor, now
	figures, err := MarshalJSON(b.Figures)
	if err != nil {
		return SavedBaseline{}, err
	}
	after, err := MarshalJSON(b)
	if err != nil {
		return SavedBaseline{}, err
	}
	return SavedBaseline{
		Baseline: b,
		Figures:  figures,
		Audit: Audit{Actor: c.Actor, Action: ActionOr(c, ramp.ActionBaselineRecord), Kind: "baseline",
			Key: b.Flag, Environment: b.Environment, Before: before, After: after},
	}, nil
}
