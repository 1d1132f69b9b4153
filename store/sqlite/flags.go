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

// ListFlags returns every flag, sorted by key, in one query.
func (s *Store) ListFlags(ctx context.Context) ([]*ramp.Flag, error) {
	flags, err := listFlags(ctx, s.r)
	if err != nil {
		return nil, translate("list flags", err)
	}
	return flags, nil
}

// listFlags reads every flag in one query, decoding rows in parallel while
// the next rows are read.
func listFlags(ctx context.Context, q querier) ([]*ramp.Flag, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, version, data, created_at, updated_at FROM flags ORDER BY key")
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
	created, updated string
}

func (r flagRow) decode() (*ramp.Flag, error) {
	return decodeFlag(r.key, r.data, r.version, r.created, r.updated)
}

// GetFlag returns the flag with the key, or an ENOTFOUND error.
func (s *Store) GetFlag(ctx context.Context, key string) (*ramp.Flag, error) {
	f, _, err := getFlag(ctx, s.r, key)
	if err != nil {
		return nil, translate("get flag", err)
	}
	return f, nil
}

// getFlag returns the flag and its stored JSON.
func getFlag(ctx context.Context, q querier, key string) (*ramp.Flag, string, error) {
	var (
		k, data, created, updated string
		version                   int64
	)
	err := q.QueryRowContext(ctx, "SELECT key, version, data, created_at, updated_at FROM flags WHERE key = ?", key).
		Scan(&k, &version, &data, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", ramp.Errorf(ramp.ENOTFOUND, "flag %q does not exist", key)
	}
	if err != nil {
		return nil, "", err
	}
	f, err := decodeFlag(k, []byte(data), version, created, updated)
	return f, data, err
}

func scanFlag(rows *sql.Rows) (*ramp.Flag, error) {
	var (
		key, created, updated string
		data                  sql.RawBytes
		version               int64
	)
	if err := rows.Scan(&key, &version, &data, &created, &updated); err != nil {
		return nil, err
	}
	return decodeFlag(key, data, version, created, updated)
}

// decodeFlag decodes a flag row; the columns win over the JSON.
func decodeFlag(key string, data []byte, version int64, created, updated string) (*ramp.Flag, error) {
	c, err := parseTime(created)
	if err != nil {
		return nil, fmt.Errorf("decode flag %q: %w", key, err)
	}
	u, err := parseTime(updated)
	if err != nil {
		return nil, fmt.Errorf("decode flag %q: %w", key, err)
	}
	return storecore.DecodeFlag(key, data, version, c, u)
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
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM flags WHERE key = ?", f.Key).Scan(&n); err != nil {
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
		_, err = tx.ExecContext(ctx, "INSERT INTO flags (key, version, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
			nf.Key, nf.Version, data, formatTime(now), formatTime(now))
		if err != nil {
			return fmt.Errorf("insert flag: %w", err)
		}
		if err := insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionFlagCreate, "flag", nf.Key, "", data)); err != nil {
			return err
		}
		out, err = decodeFlag(nf.Key, []byte(data), nf.Version, formatTime(now), formatTime(now))
		return err
	})
	if err != nil {
		return nil, translate("create flag", err)
	}
	return out, nil
}

// UpdateFlag reads the flag, checks c.IfVersion, calls fn on a copy, then
// normalizes, validates and stores the copy with the next version and its
// audit row, all in one transaction, so concurrent updates never lose one
// another's change. fn runs while the store's write lock is held and must
// not call the store. An error from fn aborts the update and is returned as
// it is. fn may not change the key; a salt it clears is kept.
func (s *Store) UpdateFlag(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Flag) error) (*ramp.Flag, error) {
	if fn == nil {
		return nil, errors.New("update flag: fn is nil")
	}
	var out *ramp.Flag
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		cur, before, err := getFlag(ctx, tx, key)
		if err != nil {
			return err
		}
		nf, err := storecore.UpdateFlag(c, cur, now, fn, func() (ramp.Scope, error) { return scope(ctx, tx) })
		if err != nil {
			return err
		}
		data, err := putFlag(ctx, tx, nf)
		if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionFlagUpdate, "flag", key, before, data)); err != nil {
			return err
		}
		if c.Action == ramp.ActionFlagRollback {
			// The kill switch wins over a rollout in progress.
			if err := abortRollouts(ctx, tx, now, c.Actor, key, c.Environment, "kill switch by "+c.Actor, cur, nf); err != nil {
				return err
			}
		}
		out, err = decodeFlag(key, []byte(data), nf.Version, formatTime(nf.CreatedAt), formatTime(now))
		return err
	})
	if err != nil {
		return nil, translate("update flag", err)
	}
	return out, nil
}

const updateFlagSQL = "UPDATE flags SET version = ?, data = ?, updated_at = ? WHERE key = ?"

// putFlag overwrites the stored flag with f and returns its JSON.
func putFlag(ctx context.Context, tx *sql.Tx, f *ramp.Flag) (string, error) {
	data, err := storecore.MarshalJSON(f)
	if err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx, updateFlagSQL, f.Version, data, formatTime(f.UpdatedAt), f.Key)
	if err != nil {
		return "", fmt.Errorf("update flag %q: %w", f.Key, err)
	}
	return data, nil
}

// DeleteFlag deletes the flag and writes its audit row. It fails with
// ENOTFOUND if there is no such flag and ECONFLICT if c.IfVersion is stale.
func (s *Store) DeleteFlag(ctx context.Context, c ramp.Change, key string) error {
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
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
		if _, err := tx.ExecContext(ctx, "DELETE FROM flags WHERE key = ?", key); err != nil {
			return fmt.Errorf("delete flag: %w", err)
		}
		return insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionFlagDelete, "flag", key, before, ""))
	})
	return translate("delete flag", err)
}
