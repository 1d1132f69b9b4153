package httpapi

import (
	"context"

	"github.com/ramp-flags/ramp"
)

// Store is what the API needs of storage. Every method that changes
// something commits the change and its audit row in one transaction, and
// reports failures as *ramp.Error (ENOTFOUND, ECONFLICT with the current
// version, EINVALID with field errors, EUNAVAILABLE).
type Store interface {
	Ping(ctx context.Context) error
	// MigrationStatus returns the schema version applied and the latest one
	// this binary knows.
	MigrationStatus(ctx context.Context) (current, latest int, err error)

	ListEnvironments(ctx context.Context) ([]ramp.Environment, error)
	CreateEnvironment(ctx context.Context, c ramp.Change, e ramp.Environment) (ramp.Environment, error)
	DeleteEnvironment(ctx context.Context, c ramp.Change, key string) error

	ListFlags(ctx context.Context) ([]*ramp.Flag, error)
	GetFlag(ctx context.Context, key string) (*ramp.Flag, error)
	// CreateFlag normalizes and validates f, sets its salt if empty,
	// version 1 and timestamps, and stores it.
	CreateFlag(ctx context.Context, c ramp.Change, f *ramp.Flag) (*ramp.Flag, error)
	// UpdateFlag reads the flag, checks c.IfVersion, calls fn on a copy,
	// then normalizes, validates and stores the copy with the next version,
	// all in one transaction. An error from fn aborts and is returned.
	UpdateFlag(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Flag) error) (*ramp.Flag, error)
	DeleteFlag(ctx context.Context, c ramp.Change, key string) error

	ListSegments(ctx context.Context) ([]*ramp.Segment, error)
	GetSegment(ctx context.Context, key string) (*ramp.Segment, error)
	CreateSegment(ctx context.Context, c ramp.Change, s *ramp.Segment) (*ramp.Segment, error)
	UpdateSegment(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Segment) error) (*ramp.Segment, error)
	// DeleteSegment fails with ECONFLICT while a flag refers to the segment.
	DeleteSegment(ctx context.Context, c ramp.Change, key string) error

	// CreateToken stores t (ID, Kind, Hash set by the caller).
	CreateToken(ctx context.Context, c ramp.Change, t ramp.Token) (ramp.Token, error)
	GetToken(ctx context.Context, id string) (ramp.Token, error)
	ListTokens(ctx context.Context) ([]ramp.Token, error)
	RevokeToken(ctx context.Context, c ramp.Change, id string) error

	// ListAudit returns matching entries, newest first.
	ListAudit(ctx context.Context, f ramp.AuditFilter) ([]ramp.AuditEntry, error)
}
