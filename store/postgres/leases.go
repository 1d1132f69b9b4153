package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// AcquireLease takes the named lease for holder if it is free or expired,
// renews it if holder has it, and returns false if another holder has a
// lease that has not expired. A lease taken or renewed lasts ttl from the
// moment the database grants it: expiry is judged by the database's clock,
// not this replica's, so replicas whose clocks disagree still agree on who
// holds it. It fails with EINVALID for an empty name or holder or a ttl
// that is not positive, and with EUNAVAILABLE when the database cannot be
// reached; the caller must then assume it does not hold the lease.
//
// Leases are not changes: no audit row, no change-feed entry.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := storecore.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	// The row is written only when it is free, expired or holder's; the
	// statement takes the row's lock, so of two replicas racing for an
	// expired lease one wins and the other sees the winner's row.
	var got string
	err := s.pool.QueryRow(ctx,
		`INSERT INTO leases AS l (name, holder, acquired_at, expires_at)
		 VALUES ($1, $2, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::float8))
		 ON CONFLICT (name) DO UPDATE SET
			holder = excluded.holder,
			acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END,
			expires_at = excluded.expires_at
		 WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
		 RETURNING holder`,
		name, holder, ttl.Seconds()).Scan(&got)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, translate("acquire lease", err)
	}
	return got == holder, nil
}

// ReleaseLease frees the named lease if holder has it, so that another
// replica can take it at once instead of waiting for it to expire. It does
// nothing if holder does not have it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := storecore.CheckLease(name, holder, time.Second); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder); err != nil {
		return translate("release lease", fmt.Errorf("delete lease: %w", err))
	}
	return nil
}
