package storecore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// DecodeSegment decodes a segment row; the columns win over the JSON.
func DecodeSegment(key string, data []byte, version int64, created, updated time.Time) (*ramp.Segment, error) {
	seg := new(ramp.Segment)
	if err := json.Unmarshal(data, seg); err != nil {
		return nil, fmt.Errorf("decode segment %q: %w", key, err)
	}
	seg.CreatedAt, seg.UpdatedAt = created.UTC(), updated.UTC()
	seg.Key, seg.Version = key, version
	return seg, nil
}

// CloneSegment returns a deep copy of seg.
func CloneSegment(seg *ramp.Segment) (*ramp.Segment, error) {
	b, err := json.Marshal(seg)
	if err != nil {
		return nil, fmt.Errorf("clone segment: %w", err)
	}
	c := new(ramp.Segment)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("clone segment: %w", err)
	}
	c.Version, c.CreatedAt, c.UpdatedAt = seg.Version, seg.CreatedAt, seg.UpdatedAt
	return c, nil
}

// NewSegment validates seg and returns a copy ready to be stored as a new
// segment: at version 1, created and updated at now. seg itself is not
// changed. It fails with EINVALID if seg is invalid.
func NewSegment(seg *ramp.Segment, now time.Time) (*ramp.Segment, error) {
	ns, err := CloneSegment(seg)
	if err != nil {
		return nil, err
	}
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	ns.Version, ns.CreatedAt, ns.UpdatedAt = 1, now, now
	return ns, nil
}

// UpdateSegment works out the update of the stored segment cur by change
// c: it checks c.IfVersion (ECONFLICT with the stored version), calls fn on
// a copy (its error comes back as a FnError), refuses a changed key, then
// validates the copy and gives it the next version, updated at now. cur is
// not changed.
func UpdateSegment(c ramp.Change, cur *ramp.Segment, now time.Time, fn func(*ramp.Segment) error) (*ramp.Segment, error) {
	if err := StaleVersion("segment", cur.Key, c.IfVersion, cur.Version); err != nil {
		return nil, err
	}
	ns, err := CloneSegment(cur)
	if err != nil {
		return nil, err
	}
	if err := fn(ns); err != nil {
		return nil, FnError{err}
	}
	if ns.Key != cur.Key {
		return nil, KeyChanged("segment", cur.Key, ns.Key)
	}
	if err := ns.Validate(); err != nil {
		return nil, err
	}
	ns.Version, ns.CreatedAt, ns.UpdatedAt = cur.Version+1, cur.CreatedAt, now
	return ns, nil
}

// SegmentInUse returns the ECONFLICT error of deleting a segment that the
// flags users refer to, or nil if there are none.
func SegmentInUse(key string, users []string) error {
	if len(users) == 0 {
		return nil
	}
	noun := "flag"
	if len(users) > 1 {
		noun = "flags"
	}
	return ramp.Errorf(ramp.ECONFLICT, "segment %q is used by %s %s; remove it from their rules first",
		key, noun, QuoteList(users))
}
