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

// ListFlags returns every flag, sorted by key, in one query.
func (s *Store) ListFlags(ctx context.Context) ([]*ramp.Flag, error) {
	flags, err := listFlags(ctx, s.pool)
	if err != nil {
		return nil, translate("list flags", err)
	}
	return flags, nil
}

// listFlags reads every flag in one query, decoding rows in parallel while
// the next rows are read.
func listFlags(ctx context.Context, q querier) ([]*ramp.Flag, error) {
	rows, err := q.Query(ctx, `SELECT key, version, data, created_at, updated_at FROM flags ORDER BY key COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	dec := storecore.NewParallelDecoder(flagRow.decode)
	for rows.Next() {
		var r flagRow
		if err = rows.Scan(&r.key, &r.version, &r.data, &r.created, &r.updated); err != nil {
			break
		}
		dec.Add(r)
	}
	rows.Close()
	flags, decErr := dec.Finish()
	if err == nil {
		err = rows.Err()
	}
	if err == nil {
		err = decErr
	}
	if err != nil {
		return nil, err
	}
	return flags, nil
}

// flagRow is a row of the flags table, not yet decoded.
type flagRow struct {
	key              string
	version          int64
	data             []byte
	created, updated time.Time
}

func (r flagRow) decode() (*ramp.Flag, error) {
	return storecore.DecodeFlag(r.key, r.data, r.version, r.created, r.updated)
}

// GetFlag returns the flag with the key, or an ENOTFOUND error.
func (s *Store) GetFlag(ctx context.Context, key string) (*ramp.Flag, error) {
	f, _, err := getFlag(ctx, s.pool, key)
	if err != nil {
		return nil, translate("get flag", err)
	}
	return f, nil
}

const getFlagSQL = "SELECT key, version, data, created_at, updated_at FROM flags WHERE key = $1"

// getFlag returns the flag and its stored JSON.
func getFlag(ctx context.Context, q querier, key string) (*ramp.Flag, string, error) {
	var r flagRow
	err := q.QueryRow(ctx, getFlagSQL, key).Scan(&r.key, &r.version, &r.data, &r.created, &r.updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ramp.Errorf(ramp.ENOTFOUND, "flag %q does not exist", key)
	}
	if err != nil {
		return nil, "", err
	}
	f, err := r.decode()
	return f, string(r.data), err
}

// getFlagAndScope is getFlag and scope in one round trip.
func getFlagAndScope(ctx context.Context, tx pgx.Tx, key string) (*ramp.Flag, string, ramp.Scope, error) {
	var b pgx.Batch
	b.Queue(getFlagSQL, key)
	b.Queue(scopeSQL)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	var r flagRow
	err := br.QueryRow().Scan(&r.key, &r.version, &r.data, &r.created, &r.updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ramp.Scope{}, ramp.Errorf(ramp.ENOTFOUND, "flag %q does not exist", key)
	}
	if err != nil {
		return nil, "", ramp.Scope{}, err
	}
	f, err := r.decode()
	if err != nil {
		return nil, "", ramp.Scope{}, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, "", ramp.Scope{}, fmt.Errorf("list environments and segments: %w", err)
	}
	sc, err := readScope(rows)
	if err != nil {
		return nil, "", ramp.Scope{}, err
	}
	return f, string(r.data), sc, br.Close()
}

// CreateFlag normalizes and validates f against the environments and
// segments that exist, sets its salt if empty, version 1 and timestamps, and
// stores it with its audit row. f itself is not changed. It fails with
// ECONFLICT if the key is taken and EINVALID if f is invalid.
func (s *Store) CreateFlag(ctx context.Context, c ramp.Change, f *ramp.Flag) (*ramp.Flag, error) {
	if f == nil {
		return nil, ramp.Errorf(ramp.EINVALID, "a flag is required")
	}
	var out *ramp.Flag
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM flags WHERE key = $1", f.Key).Scan(&n); err != nil {
			return fmt.Errorf("look up flag: %w", err)
		}
		if n > 0 {
			return ramp.Errorf(ramp.ECONFLICT, "flag %q already exists", f.Key)
		}
		sc, err := scope(ctx, tx)
		if err != nil {
			return err
		}
		nf, err := storecore.NewFlag(f, sc, now)
		if err != nil {
			return err
		}
		data, err := storecore.MarshalJSON(nf)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO flags (key, version, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
			nf.Key, nf.Version, data, now, now)
		if err != nil {
			return fmt.Errorf("insert flag: %w", err)
		}
		if err := insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionFlagCreate, "flag", nf.Key, "", data)); err != nil {
			return err
		}
		out, err = storecore.DecodeFlag(nf.Key, []byte(data), nf.Version, now, now)
		return err
	})
	if err != nil {
		return nil, translate("create flag", err)
	}
	return out, nil
}

// UpdateFlag reads the flag, checks c.IfVersion, calls fn on a copy, then
// normalizes, validates and stores the copy with the next version and its
// audit row, all in one transaction, so concurrent updates, also from other
// replicas, never lose one another's change. fn runs while the store's
// write lock is held and must not call the store. An error from fn aborts
// the update and is returned as it is. fn may not change the key; a salt it
// clears is kept.
func (s *Store) UpdateFlag(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Flag) error) (*ramp.Flag, error) {
	if fn == nil {
		return nil, errors.New("update flag: fn is nil")
	}
	var out *ramp.Flag
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		cur, before, sc, err := getFlagAndScope(ctx, tx, key)
		if err != nil {
			return err
		}
		nf, err := storecore.UpdateFlag(c, cur, now, fn, func() (ramp.Scope, error) { return sc, nil })
		if err != nil {
			return err
		}
		data, err := storecore.MarshalJSON(nf)
		if err != nil {
			return err
		}
		// The flag and its audit row in one round trip.
		var b pgx.Batch
		b.Queue(updateFlagSQL, nf.Version, data, now, key)
		b.Queue(insertAuditSQL, auditArgs(storecore.ChangeAudit(c, ramp.ActionFlagUpdate, "flag", key, before, data), now)...)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("update flag %q: %w", key, err)
		}
		if c.Action == ramp.ActionFlagRollback {
			// The kill switch wins over a rollout in progress.
			if err := abortRollouts(ctx, tx, now, c.Actor, key, c.Environment, "kill switch by "+c.Actor, cur, nf); err != nil {
				return err
			}
		}
		out, err = storecore.DecodeFlag(key, []byte(data), nf.Version, nf.CreatedAt, now)
		return err
	})
	if err != nil {
		return nil, translate("update flag", err)
	}
	return out, nil
}

const updateFlagSQL = "UPDATE flags SET version = $1, data = $2, updated_at = $3 WHERE key = $4"

// putFlag overwrites the stored flag with f and returns its JSON.
func putFlag(ctx context.Context, tx pgx.Tx, f *ramp.Flag) (string, error) {
	data, err := storecore.MarshalJSON(f)
	if err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, updateFlagSQL, f.Version, data, f.UpdatedAt, f.Key); err != nil {
		return "", fmt.Errorf("update flag %q: %w", f.Key, err)
	}
	return data, nil
}

// DeleteFlag deletes the flag and writes its audit row. It fails with
// ENOTFOUND if there is no such flag and ECONFLICT if c.IfVersion is stale.
func (s *Store) DeleteFlag(ctx context.Context, c ramp.Change, key string) error {
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		cur, before, err := getFlag(ctx, tx, key)
		if err != nil {
			return err
		}
		if err := storecore.StaleVersion("flag", key, c.IfVersion, cur.Version); err != nil {
			return err
		}
		if err := abortRollouts(ctx, tx, now, c.Actor, key, "", "the flag was deleted by "+c.Actor, cur, nil); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM flags WHERE key = $1", key); err != nil {
			return fmt.Errorf("delete flag: %w", err)
		}
		return insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionFlagDelete, "flag", key, before, ""))
	})
	return translate("delete flag", err)
}
