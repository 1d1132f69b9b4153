package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// ListEnvironments returns every environment, sorted by key.
func (s *Store) ListEnvironments(ctx context.Context) ([]ramp.Environment, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, name, description, created_at FROM environments ORDER BY key COLLATE "C"`)
	if err != nil {
		return nil, translate("list environments", err)
	}
	envs, err := pgx.CollectRows(rows, scanEnvironment)
	if err != nil {
		return nil, translate("list environments", err)
	}
	if envs == nil {
		envs = []ramp.Environment{}
	}
	return envs, nil
}

func scanEnvironment(row pgx.CollectableRow) (ramp.Environment, error) {
	var e ramp.Environment
	err := row.Scan(&e.Key, &e.Name, &e.Description, &e.CreatedAt)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, err
}

// CreateEnvironment validates e and stores it with its creation time, gives
// every flag an off state in it (each flag's version goes up by one), and
// writes one audit row, all in one transaction. It fails with ECONFLICT if
// the key is taken and EINVALID if e is invalid.
func (s *Store) CreateEnvironment(ctx context.Context, c ramp.Change, e ramp.Environment) (ramp.Environment, error) {
	if err := storecore.CheckEnvironment(e); err != nil {
		return ramp.Environment{}, err
	}
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM environments WHERE key = $1", e.Key).Scan(&n); err != nil {
			return fmt.Errorf("look up environment: %w", err)
		}
		if n > 0 {
			return ramp.Errorf(ramp.ECONFLICT, "environment %q already exists", e.Key)
		}
		e.CreatedAt = now
		_, err := tx.Exec(ctx, "INSERT INTO environments (key, name, description, created_at) VALUES ($1, $2, $3, $4)",
			e.Key, e.Name, e.Description, now)
		if err != nil {
			return fmt.Errorf("insert environment: %w", err)
		}
		envs, err := keys(ctx, tx, `SELECT key FROM environments ORDER BY key COLLATE "C"`)
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
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		rows, err := tx.Query(ctx, "SELECT key, name, description, created_at FROM environments WHERE key = $1", key)
		if err != nil {
			return fmt.Errorf("look up environment: %w", err)
		}
		e, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
		if errors.Is(err, pgx.ErrNoRows) {
			return ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", key)
		}
		if err != nil {
			return fmt.Errorf("look up environment: %w", err)
		}
		tokens, err := keys(ctx, tx,
			`SELECT CASE name WHEN '' THEN id ELSE name || ' (' || id || ')' END FROM tokens
			 WHERE environment = $1 AND kind = 'sdk' AND revoked_at IS NULL ORDER BY created_at, id COLLATE "C"`, key)
		if err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		if err := storecore.EnvironmentHasTokens(key, tokens); err != nil {
			return err
		}
		if err := rewriteFlags(ctx, tx, now, storecore.RemoveEnvironment(key)); err != nil {
			return err
		}
		flags, err := keys(ctx, tx, `SELECT flag FROM rollouts WHERE environment = $1 AND status IN ('pending', 'running', 'paused') GROUP BY flag ORDER BY flag COLLATE "C"`, key)
		if err != nil {
			return err
		}
		for _, f := range flags {
			if err := abortRollouts(ctx, tx, now, c.Actor, f, key, "the environment was deleted by "+c.Actor, nil, nil); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM environments WHERE key = $1", key); err != nil {
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
// each flag for which it returns true, in one batch.
func rewriteFlags(ctx context.Context, tx pgx.Tx, now time.Time, change func(*ramp.Flag) bool) error {
	flags, err := listFlags(ctx, tx)
	if err != nil {
		return fmt.Errorf("list flags: %w", err)
	}
	var b pgx.Batch
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
		b.Queue(updateFlagSQL, f.Version, data, now, f.Key)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("update flags: %w", err)
	}
	return nil
}
