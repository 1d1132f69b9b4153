package storecore

import (
	"time"

	"github.com/ramp-flags/ramp"
)

// Audit listing limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// Audit is one row of the audit table. Before and After are JSON, or empty
// for none.
type Audit struct {
	Actor       string
	Action      string
	Kind        string
	Key         string
	Environment string
	Before      string
	After       string
}

// ChangeAudit returns the audit row of change c to the thing of the kind
// and key: c's actor and environment, c's action or def if it names none,
// and the JSON before and after the change ("" for none).
func ChangeAudit(c ramp.Change, def, kind, key, before, after string) Audit {
	return Audit{
		Actor: c.Actor, Action: ActionOr(c, def), Kind: kind, Key: key,
		Environment: c.Environment, Before: before, After: after,
	}
}

// AuditLimit returns the number of audit entries a listing asking for
// limit returns: DefaultAuditLimit for zero or less, at most MaxAuditLimit.
func AuditLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultAuditLimit
	case limit > MaxAuditLimit:
		return MaxAuditLimit
	}
	return limit
}

// CeilMicro rounds t up to a whole microsecond. Stored times are whole
// microseconds, so a bound rounded up selects the same entries.
func CeilMicro(t time.Time) time.Time {
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}

// CreationAudit returns the audit row of change c creating v, the thing of
// the kind and key, in env: c's action or def, and v's JSON as after.
func CreationAudit(c ramp.Change, def, kind, key, env string, v any) (Audit, error) {
	after, err := MarshalJSON(v)
	if err != nil {
		return Audit{}, err
	}
	return Audit{Actor: c.Actor, Action: ActionOr(c, def), Kind: kind, Key: key, Environment: env, After: after}, nil
}

// RemovalAudit returns the audit row of change c deleting or revoking v,
// the thing of the kind and key, in env: c's action or def, and v's JSON
// as before.
func RemovalAudit(c ramp.Change, def, kind, key, env string, v any) (Audit, error) {
	before, err := MarshalJSON(v)
	if err != nil {
		return Audit{}, err
	}
	return Audit{Actor: c.Actor, Action: ActionOr(c, def), Kind: kind, Key: key, Environment: env, Before: before}, nil
}
