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

// ListSegments returns every segment, sorted by key.
func (s *Store) ListSegments(ctx context.Context) ([]*ramp.Segment, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, version, data, created_at, updated_at FROM segments ORDER BY key COLLATE "C"`)
	if err != nil {
		return nil, translate("list segments", err)
	}
	segs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*ramp.Segment, error) {
		var r flagRow
		if err := row.Scan(&r.key, &r.version, &r.data, &r.created, &r.updated); err != nil {
			return nil, err
		}
		return storecore.DecodeSegment(r.key, r.data, r.version, r.created, r.updated)
	})
	if err != nil {
		return nil, translate("list segments", err)
	}
	if segs == nil {
		segs = []*ramp.Segment{}
	}
	return segs, nil
}

// GetSegment returns the segment with the key, or an ENOTFOUND error.
func (s *Store) GetSegment(ctx context.Context, key string) (*ramp.Segment, error) {
	seg, _, err := getSegment(ctx, s.pool, key)
	if err != nil {
		return nil, translate("get segment", err)
	}
	return seg, nil
}

func getSegment(ctx context.Context, q querier, key string) (*ramp.Segment, string, error) {
	var r flagRow
	err := q.QueryRow(ctx, "SELECT key, version, data, created_at, updated_at FROM segments WHERE key = $1", key).
		Scan(&r.key, &r.version, &r.data, &r.created, &r.updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ramp.Errorf(ramp.ENOTFOUND, "segment %q does not exist", key)
	}
	if err != nil {
		return nil, "", err
	}
	seg, err := storecore.DecodeSegment(r.key, r.data, r.version, r.created, r.updated)
	return seg, string(r.data), err
}

// CreateSegment validates seg and stores it with version 1, timestamps and
// its audit row. seg itself is not changed. It fails with ECONFLICT if the
// key is taken and EINVALID if seg is invalid.
func (s *Store) CreateSegment(ctx context.Context, c ramp.Change, seg *ramp.Segment) (*ramp.Segment, error) {
	if seg == nil {
		return nil, ramp.Errorf(ramp.EINVALID, "a segment is required")
	}
	var out *ramp.Segment
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM segments WHERE key = $1", seg.Key).Scan(&n); err != nil {
			return fmt.Errorf("look up segment: %w", err)
		}
		if n > 0 {
			return ramp.Errorf(ramp.ECONFLICT, "segment %q already exists", seg.Key)
		}
		ns, err := storecore.NewSegment(seg, now)
		if err != nil {
			return err
		}
		data, err := storecore.MarshalJSON(ns)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO segments (key, version, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
			ns.Key, ns.Version, data, now, now)
		if err != nil {
			return fmt.Errorf("insert segment: %w", err)
		}
		if err := insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionSegmentCreate, "segment", ns.Key, "", data)); err != nil {
			return err
		}
		out, err = storecore.DecodeSegment(ns.Key, []byte(data), ns.Version, now, now)
		return err
	})
	if err != nil {
		return nil, translate("create segment", err)
	}
	return out, nil
}

// UpdateSegment reads the segment, checks c.IfVersion, calls fn on a copy,
// then validates and stores the copy with the next version and its audit
// row, all in one transaction. fn runs while the store's write lock is held
// and must not call the store. An error from fn aborts the update and is
// returned as it is. fn may not change the key.
func (s *Store) UpdateSegment(ctx context.Context, c ramp.Change, key string, fn func(*ramp.Segment) error) (*ramp.Segment, error) {
	if fn == nil {
		return nil, errors.New("update segment: fn is nil")
	}
	var out *ramp.Segment
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		cur, before, err := getSegment(ctx, tx, key)
		if err != nil {
			return err
		}
		ns, err := storecore.UpdateSegment(c, cur, now, fn)
		if err != nil {
			return err
		}
		data, err := storecore.MarshalJSON(ns)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE segments SET version = $1, data = $2, updated_at = $3 WHERE key = $4",
			ns.Version, data, now, key)
		if err != nil {
			return fmt.Errorf("update segment: %w", err)
		}
		if err := insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionSegmentUpdate, "segment", key, before, data)); err != nil {
			return err
		}
		out, err = storecore.DecodeSegment(key, []byte(data), ns.Version, ns.CreatedAt, now)
		return err
	})
	if err != nil {
		return nil, translate("update segment", err)
	}
	return out, nil
}

// DeleteSegment deletes the segment and writes its audit row. It fails with
// ENOTFOUND if there is no such segment, and with ECONFLICT if c.IfVersion
// is stale or a flag refers to the segment; the message names the flags.
func (s *Store) DeleteSegment(ctx context.Context, c ramp.Change, key string) error {
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		cur, before, err := getSegment(ctx, tx, key)
		if err != nil {
			return err
		}
		if err := storecore.StaleVersion("segment", key, c.IfVersion, cur.Version); err != nil {
			return err
		}
		users, err := flagsUsingSegment(ctx, tx, key)
		if err != nil {
			return err
		}
		if err := storecore.SegmentInUse(key, users); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM segments WHERE key = $1", key); err != nil {
			return fmt.Errorf("delete segment: %w", err)
		}
		return insertAudit(ctx, tx, now, storecore.ChangeAudit(c, ramp.ActionSegmentDelete, "segment", key, before, ""))
	})
	return translate("delete segment", err)
}

// flagsUsingSegment returns the keys of the flags whose clauses name the
// segment. The text search only picks candidates: a key is a slug, which
// JSON does not escape, so every flag naming it holds it in quotes.
func flagsUsingSegment(ctx context.Context, q querier, key string) ([]string, error) {
	rows, err := q.Query(ctx,
		`SELECT key, version, data, created_at, updated_at FROM flags
		 WHERE strpos(data::text, '"' || $1::text || '"') > 0 ORDER BY key COLLATE "C"`, key)
	if err != nil {
		return nil, fmt.Errorf("find flags using segment: %w", err)
	}
	flags, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*ramp.Flag, error) {
		var r flagRow
		if err := row.Scan(&r.key, &r.version, &r.data, &r.created, &r.updated); err != nil {
			return nil, err
		}
		return r.decode()
	})
	if err != nil {
		return nil, err
	}
	return storecore.FlagsUsingSegment(flags, key), nil
}
