package storecore

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ramp-flags/ramp"
)

// DecodeFlag decodes a flag row; the columns win over the JSON.
func DecodeFlag(key string, data []byte, version int64, created, updated time.Time) (*ramp.Flag, error) {
	f := new(ramp.Flag)
	if err := json.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("decode flag %q: %w", key, err)
	}
	f.CreatedAt, f.UpdatedAt = created.UTC(), updated.UTC()
	f.Key, f.Version = key, version
	return f, nil
}

// NewFlag returns a copy of f ready to be stored as a new flag: with a
// salt if f has none, normalized and validated against sc, at version 1,
// created and updated at now. f itself is not changed. It fails with
// EINVALID if the flag is invalid.
func NewFlag(f *ramp.Flag, sc ramp.Scope, now time.Time) (*ramp.Flag, error) {
	nf := f.Clone()
	if nf.Salt == "" {
		nf.Salt = ramp.NewSalt()
	}
	nf.Normalize(sc.Environments)
	if err := nf.Validate(sc); err != nil {
		return nil, err
	}
	nf.Version, nf.CreatedAt, nf.UpdatedAt = 1, now, now
	return nf, nil
}

// UpdateFlag works out the update of the stored flag cur by change c:
// it checks c.IfVersion (ECONFLICT with the stored version), calls fn on a
// copy (its error comes back as a FnError), refuses a changed key, keeps
// the salt if fn cleared it, then reads the scope, normalizes and validates
// the copy and gives it the next version, updated at now. cur is not
// changed.
func UpdateFlag(c ramp.Change, cur *ramp.Flag, now time.Time, fn func(*ramp.Flag) error, scope func() (ramp.Scope, error)) (*ramp.Flag, error) {
	if err := StaleVersion("flag", cur.Key, c.IfVersion, cur.Version); err != nil {
		return nil, err
	}
	nf := cur.Clone()
	if err := fn(nf); err != nil {
		return nil, FnError{err}
	}
	if nf.Key != cur.Key {
		return nil, KeyChanged("flag", cur.Key, nf.Key)
	}
	if nf.Salt == "" {
		nf.Salt = cur.Salt
	}
	sc, err := scope()
	if err != nil {
		return nil, err
	}
	if err := finishFlag(nf, cur, sc, now); err != nil {
		return nil, err
	}
	return nf, nil
}

// finishFlag normalizes and validates nf, the next state of cur, and gives
// it cur's next version, cur's creation time and now as its update time.
func finishFlag(nf, cur *ramp.Flag, sc ramp.Scope, now time.Time) error {
	nf.Normalize(sc.Environments)
	if err := nf.Validate(sc); err != nil {
		return err
	}
	nf.Version, nf.CreatedAt, nf.UpdatedAt = cur.Version+1, cur.CreatedAt, now
	return nil
}

// FlagsUsingSegment returns the keys of the flags whose clauses name the
// segment.
func FlagsUsingSegment(flags []*ramp.Flag, segment string) []string {
	var users []string
	for _, f := range flags {
		if slices.Contains(f.SegmentRefs(), segment) {
			users = append(users, f.Key)
		}
	}
	return users
}
