package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// ListAudit returns the audit entries that match f, newest first: at most
// f.Limit of them, 100 if f.Limit is zero or less and 1000 if it is more.
// Since is inclusive and Until exclusive.
func (s *Store) ListAudit(ctx context.Context, f ramp.AuditFilter) ([]ramp.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if len(f.Kinds) > 0 {
		add("kind = ANY(?)", f.Kinds)
	}
	if f.Key != "" {
		add("key = ?", f.Key)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	// Stored times are whole microseconds, so a bound with a finer part is
	// rounded up without changing which entries it selects.
	if !f.Since.IsZero() {
		add("time >= ?", storecore.CeilMicro(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < ?", storecore.CeilMicro(f.Until))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	limit := storecore.AuditLimit(f.Limit)
	query := "SELECT id, time, actor, action, kind, key, environment, before, after FROM audit"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate("list audit", err)
	}
	entries, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, translate("list audit", err)
	}
	if entries == nil {
		entries = []ramp.AuditEntry{}
	}
	return entries, nil
}

// Changes returns up to limit audit entries with an ID above after, oldest
// first, without their before and after states: the change feed. Audit IDs
// become visible in increasing order (change transactions are serialized
// from before they take an ID until they commit), so a reader that
// remembers the last ID it saw misses nothing.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]ramp.AuditEntry, error) {
	if limit <= 0 || limit > storecore.MaxAuditLimit {
		limit = storecore.MaxAuditLimit
	}
	rows, err := s.pool.Query(ctx,
		"SELECT id, time, actor, action, kind, key, environment FROM audit WHERE id > $1 ORDER BY id LIMIT $2", after, limit)
	if err != nil {
		return nil, translate("read changes", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ramp.AuditEntry, error) {
		var e ramp.AuditEntry
		err := row.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Environment)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, translate("read changes", err)
	}
	if entries == nil {
		entries = []ramp.AuditEntry{}
	}
	return entries, nil
}

func scanAudit(row pgx.CollectableRow) (ramp.AuditEntry, error) {
	var (
		e             ramp.AuditEntry
		before, after *string
	)
	if err := row.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Environment, &before, &after); err != nil {
		return e, err
	}
	e.Time = e.Time.UTC()
	if before != nil {
		e.Before = json.RawMessage(*before)
	}
	if after != nil {
		e.After = json.RawMessage(*after)
	}
	return e, nil
}
