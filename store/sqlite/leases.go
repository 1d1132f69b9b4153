package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// AcquireLease takes the named lease for holder if it is free or expired,
// renews it if holder has it, and returns false if another holder has a
// lease that has not expired. A lease taken or renewed lasts ttl from the
// store's clock at the moment it is granted. The lease is a row of the
// database, so processes sharing the file agree on who holds it. It fails
// with EINVALID for an empty name or holder or a ttl that is not positive,
// and with EUNAVAILABLE when the database cannot be written.
//
// Leases are not changes: no audit row, no change-feed entry.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if err := storecore.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	var ok bool
	err := s.writeQuiet(ctx, func(tx *sql.Tx, now time.Time) error {
		var cur, acquired, expires string
		err := tx.QueryRowContext(ctx, "SELECT holder, acquired_at, expires_at FROM leases WHERE name = ?", name).
			Scan(&cur, &acquired, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			acquired = formatTime(now)
		case err != nil:
			return fmt.Errorf("read lease: %w", err)
		case cur == holder:
			// Renewal keeps the time it was first acquired.
		default:
			until, err := parseTime(expires)
			if err != nil {
				return err
			}
			if now.Before(until) {
				return nil // another holder's, not expired
			}
			acquired = formatTime(now)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
			name, holder, acquired, formatTime(now.Add(ttl)))
		if err != nil {
			return fmt.Errorf("write lease: %w", err)
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, translate("acquire lease", err)
	}
	return ok, nil
}

// ReleaseLease frees the named lease if holder has it, so that another
// process can take it at once instead of waiting for it to expire. It does
// nothing if holder does not have it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := storecore.CheckLease(name, holder, time.Second); err != nil {
		return err
	}
	err := s.writeQuiet(ctx, func(tx *sql.Tx, _ time.Time) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder); err != nil {
			return fmt.Errorf("delete lease: %w", err)
		}
		return nil
	})
	return translate("release lease", err)
}
