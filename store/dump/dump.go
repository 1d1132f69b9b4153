// Package dump is the store-neutral form of everything a ramp store holds
// that "ramp migrate" copies from one store to another: environments,
// segments, flags, tokens, rollouts with their analyses, baselines, and the
// audit log.
// Each store exports into a Data and imports from one; the rows keep their
// keys, IDs, versions, salts, hashes and times, so that a flag buckets the
// same users and a token authenticates the same way after a migration.
//
// The counts SDKs report (telemetry kept for two weeks) are not part of a
// dump.
package dump

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// Data is the content of a store.
type Data struct {
	Environments []ramp.Environment
	Segments     []*ramp.Segment
	Flags        []*ramp.Flag
	// Tokens include revoked ones, so that the audit log's references to
	// them stay meaningful.
	Tokens    []Token
	Rollouts  []*ramp.Rollout
	Analyses  []ramp.Analysis
	Baselines []ramp.Baseline
	// Audit is the whole audit log, oldest first, with its IDs: the change
	// feed position of every replica and SDK continues from the last one.
	Audit []ramp.AuditEntry
}

// Token is a stored token with its hash and, if it was revoked, when.
type Token struct {
	ramp.Token
	RevokedAt time.Time
}

// Counts is the number of rows of each kind in a Data.
type Counts struct {
	Environments int `json:"environments"`
	Segments     int `json:"segments"`
	Flags        int `json:"flags"`
	Tokens       int `json:"tokens"`
	Rollouts     int `json:"rollouts"`
	Analyses     int `json:"analyses"`
	Baselines    int `json:"baselines"`
	Audit        int `json:"audit"`
}

// Count returns the number of rows of each kind in d.
func (d *Data) Count() Counts {
	return Counts{
		Environments: len(d.Environments),
		Segments:     len(d.Segments),
		Flags:        len(d.Flags),
		Tokens:       len(d.Tokens),
		Rollouts:     len(d.Rollouts),
		Analyses:     len(d.Analyses),
		Baselines:    len(d.Baselines),
		Audit:        len(d.Audit),
	}
}

// Total returns the number of rows of every kind together.
func (c Counts) Total() int {
	return c.Environments + c.Segments + c.Flags + c.Tokens + c.Rollouts + c.Analyses + c.Baselines + c.Audit
}

// Options says how a store imports a Data.
type Options struct {
	// Replace allows importing into a store that already holds data: what
	// it holds is deleted first, in the same transaction. Without it, an
	// import into a store with any flag, segment, token, rollout or audit
	// entry fails with ECONFLICT. The environments a new store starts with
	// are replaced either way.
	Replace bool
}

// NotEmpty returns the ECONFLICT error of an import into a store whose
// table holds n rows.
func NotEmpty(table string, n int) error {
	what := table
	if table == "audit" {
		what = "audit entries"
	}
	return ramp.Errorf(ramp.ECONFLICT,
		"the target store is not empty: it holds %d %s; migrate into a new database, or replace what it holds with --replace", n, what)
}

// Check reports the first inconsistency of d that would make an import
// fail half-way or leave dangling references: a rollout of an unknown flag
// or environment, an analysis of an unknown rollout, duplicate keys or IDs.
func (d *Data) Check() error {
	envs := map[string]bool{}
	for _, e := range d.Environments {
		if envs[e.Key] {
			return fmt.Errorf("environment %q appears twice", e.Key)
		}
		envs[e.Key] = true
	}
	segs := map[string]bool{}
	for _, s := range d.Segments {
		if segs[s.Key] {
			return fmt.Errorf("segment %q appears twice", s.Key)
		}
		segs[s.Key] = true
	}
	flags := map[string]bool{}
	for _, f := range d.Flags {
		if flags[f.Key] {
			return fmt.Errorf("flag %q appears twice", f.Key)
		}
		if f.Version < 1 {
			return fmt.Errorf("flag %q has version %d; versions start at 1", f.Key, f.Version)
		}
		flags[f.Key] = true
	}
	toks := map[string]bool{}
	for _, t := range d.Tokens {
		if toks[t.ID] {
			return fmt.Errorf("token %q appears twice", t.ID)
		}
		toks[t.ID] = true
	}
	rollouts := map[int64]bool{}
	for _, r := range d.Rollouts {
		if rollouts[r.ID] {
			return fmt.Errorf("rollout %d appears twice", r.ID)
		}
		if !envs[r.Environment] {
			return fmt.Errorf("rollout %d is in environment %q, which is not in the dump", r.ID, r.Environment)
		}
		rollouts[r.ID] = true
	}
	for _, a := range d.Analyses {
		if !rollouts[a.RolloutID] {
			return fmt.Errorf("analysis %d is of rollout %d, which is not in the dump", a.ID, a.RolloutID)
		}
	}
	for _, b := range d.Baselines {
		if !flags[b.Flag] || !envs[b.Environment] {
			return fmt.Errorf("the baseline of flag %q in %q has no flag or environment in the dump", b.Flag, b.Environment)
		}
	}
	var last int64
	for _, e := range d.Audit {
		if e.ID <= last {
			return fmt.Errorf("audit entry %d is out of order (after %d)", e.ID, last)
		}
		last = e.ID
	}
	return nil
}
