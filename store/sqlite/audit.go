package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

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
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Kinds)), ", ")+")")
		for _, k := range f.Kinds {
			args = append(args, k)
		}
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
		add("time >= ?", formatTime(storecore.CeilMicro(f.Since)))
	}
	if !f.Until.IsZero() {
		add("time < ?", formatTime(storecore.CeilMicro(f.Until)))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	limit := storecore.AuditLimit(f.Limit)
	query := "SELECT id, time, actor, action, kind, key, environment, before, after FROM audit"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)

	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate("list audit", err)
	}
	defer rows.Close()
	entries := []ramp.AuditEntry{}
	for rows.Next() {
		var (
			e             ramp.AuditEntry
			at            string
			before, after sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Environment, &before, &after); err != nil {
			return nil, translate("list audit", err)
		}
		if e.Time, err = parseTime(at); err != nil {
			return nil, translate("list audit", err)
		}
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list audit", err)
	}
	return entries, nil
}

// Changes returns up to limit audit entries with an ID above after, oldest
// first, without their before and after states: the change feed. Audit IDs
// grow with every committed change, so a reader that remembers the last ID
// it saw misses nothing.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]ramp.AuditEntry, error) {
	if limit <= 0 || limit > storecore.MaxAuditLimit {
		limit = storecore.MaxAuditLimit
	}
	rows, err := s.r.QueryContext(ctx,
		"SELECT id, time, actor, action, kind, key, environment FROM audit WHERE id > ? ORDER BY id LIMIT ?", after, limit)
	if err != nil {
		return nil, translate("read changes", err)
	}
	defer rows.Close()
	entries := []ramp.AuditEntry{}
	for rows.Next() {
		var (
			e  ramp.AuditEntry
			at string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Environment); err != nil {
			return nil, translate("read changes", err)
		}
		if e.Time, err = parseTime(at); err != nil {
			return nil, translate("read changes", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("read changes", err)
	}
	return entries, nil
}
