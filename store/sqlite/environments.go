package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// ListEnvironments returns every environment, sorted by key.
func (s *Store) ListEnvironments(ctx context.Context) ([]ramp.Environment, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT key, name, description, created_at FROM environments ORDER BY key")
	if err != nil {
		return nil, translate("list environments", err)
	}
	defer rows.Close()
	envs := []ramp.Environment{}
	for rows.Next() {
		var e ramp.Environment
		var created string
		if err := rows.Scan(&e.Key, &e.Name, &e.Description, &created); err != nil {
			return nil, translate("list environments", err)
		}
		if e.CreatedAt, err = parseTime(created); err != nil {
			return nil, translate("list environments", err)
		}
		envs = append(envs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list environments", err)
	}
	return envs, nil
}

// CreateEnvironment validates e and stores it with its creation time, gives
// every flag an off state in it (each flag's version goes up by one), and
// writes one audit row, all in one transaction. It fails with ECONFLICT if
// the key is taken and EINVALID if e is invalid.
func (s *Store) CreateEnvironment(ctx context.Context, c ramp.Change, e ramp.Environment) (ramp.Environment, error) {
	if err := storecore.CheckEnvironment(e); err != nil {
		return ramp.Environment{}, err
	}
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM environments WHERE key = ?", e.Key).Scan(&n); err != nil {
			return fmt.Errorf("look up environment: %w", err)
		}
		if n > 0 {
			return ramp.Errorf(ramp.ECONFLICT, "environment %q already exists", e.Key)
		}
		e.CreatedAt = now
		_, err := tx.ExecContext(ctx, "INSERT INTO environments (key, name, description, created_at) VALUES (?, ?, ?, ?)",
			e.Key, e.Name, e.Description, formatTime(now))
		if err != nil {
			return fmt.Errorf("insert environment: %w", err)
		}
		envs, err := keys(ctx, tx, "SELECT key FROM environments ORDER BY key")
		if err != nil {
			return fmt.Errorf("list environments: %w", err)
		}
		if err := rewriteFlags(ctx, tx, now, storecore.AddEnvironment(e.Key, envs)); err != nil {
			return err
		}
		a, err := storecore.CreationAudit(c, ramp.ActionEnvironmentCreate, "environment", e.Key, e.Key, e)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, now, a)
	})
	if err != nil {
		return ramp.Environment{}, translate("create environment", err)
	}
	return e, nil
}

// DeleteEnvironment deletes the environment and every flag's state in it
// (each flag's version goes up by one), and writes one audit row, all in one
// transaction. It fails with ENOTFOUND if there is no such environment and
// with ECONFLICT while an SDK token that is not revoked is scoped to it.
func (s *Store) DeleteEnvironment(ctx context.Context, c ramp.Change, key string) error {
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		var e ramp.Environment
		var created string
		err := tx.QueryRowContext(ctx, "SELECT key, name, description, created_at FROM environments WHERE key = ?", key).
			Scan(&e.Key, &e.Name, &e.Description, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", key)
		}
		if err != nil {
			return fmt.Errorf("look up environment: %w", err)
		}
		if e.CreatedAt, err = parseTime(created); err != nil {
			return err
		}
		tokens, err := keys(ctx, tx,
			`SELECT CASE name WHEN '' THEN id ELSE name || ' (' || id || ')' END FROM tokens
			 WHERE environment = ? AND kind = 'sdk' AND revoked_at IS NULL ORDER BY created_at, id`, key)
		if err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		if err := storecore.EnvironmentHasTokens(key, tokens); err != nil {
			return err
		}
		if err := rewriteFlags(ctx, tx, now, storecore.RemoveEnvironment(key)); err != nil {
			return err
		}
		flags, err := keys(ctx, tx, "SELECT DISTINCT flag FROM rollouts WHERE environment = ? AND status IN ('pending', 'running', 'paused')", key)
		if err != nil {
			return err
		}
		for _, f := range flags {
			if err := abortRollouts(ctx, tx, now, c.Actor, f, key, "the environment was deleted by "+c.Actor, nil, nil); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM environments WHERE key = ?", key); err != nil {
			return fmt.Errorf("delete environment: %w", err)
		}
		a, err := storecore.RemovalAudit(c, ramp.ActionEnvironmentDelete, "environment", key, key, e)
		if err != nil {
			return err
		}
		return insertAudit(ctx, tx, now, a)
	})
	return translate("delete environment", err)
}

// rewriteFlags calls change on every flag and stores, with the next version,
// each flag for which it returns true.
func rewriteFlags(ctx context.Context, tx *sql.Tx, now time.Time, change func(*ramp.Flag) bool) error {
	flags, err := listFlags(ctx, tx)
	if err != nil {
		return fmt.Errorf("list flags: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, updateFlagSQL)
	if err != nil {
		return fmt.Errorf("prepare flag update: %w", err)
	}
	defer stmt.Close()
	for _, f := range flags {
		if !change(f) {
			continue
		}
		f.Version++
		f.UpdatedAt = now
		data, err := storecore.MarshalJSON(f)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, f.Version, data, formatTime(now), f.Key); err != nil {
			return fmt.Errorf("update flag %q: %w", f.Key, err)
		}
	}
	return nil
}
