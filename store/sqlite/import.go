package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/dump"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// Export reads everything "ramp migrate" copies, in one read transaction,
// so that the Data is one consistent state of the store even while the
// server writes.
func (s *Store) Export(ctx context.Context) (*dump.Data, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, translate("export", err)
	}
	defer func() { _ = tx.Rollback() }()
	d := &dump.Data{}
	if d.Environments, err = exportEnvironments(ctx, tx); err != nil {
		return nil, translate("export environments", err)
	}
	if d.Segments, err = exportSegments(ctx, tx); err != nil {
		return nil, translate("export segments", err)
	}
	if d.Flags, err = listFlags(ctx, tx); err != nil {
		return nil, translate("export flags", err)
	}
	if d.Tokens, err = exportTokens(ctx, tx); err != nil {
		return nil, translate("export tokens", err)
	}
	if d.Rollouts, err = exportRollouts(ctx, tx); err != nil {
		return nil, translate("export rollouts", err)
	}
	if d.Analyses, err = exportAnalyses(ctx, tx); err != nil {
		return nil, translate("export analyses", err)
	}
	if d.Baselines, err = exportBaselines(ctx, tx); err != nil {
		return nil, translate("export baselines", err)
	}
	if d.Audit, err = exportAudit(ctx, tx); err != nil {
		return nil, translate("export audit", err)
	}
	return d, nil
}

func exportEnvironments(ctx context.Context, q querier) ([]ramp.Environment, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, name, description, created_at FROM environments ORDER BY key")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ramp.Environment
	for rows.Next() {
		var e ramp.Environment
		var created string
		if err := rows.Scan(&e.Key, &e.Name, &e.Description, &created); err != nil {
			return nil, err
		}
		if e.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func exportSegments(ctx context.Context, q querier) ([]*ramp.Segment, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, version, data, created_at, updated_at FROM segments ORDER BY key")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ramp.Segment
	for rows.Next() {
		var (
			key, created, updated string
			data                  []byte
			version               int64
		)
		if err := rows.Scan(&key, &version, &data, &created, &updated); err != nil {
			return nil, err
		}
		seg, err := decodeSegment(key, data, version, created, updated)
		if err != nil {
			return nil, err
		}
		out = append(out, seg)
	}
	return out, rows.Err()
}

func exportTokens(ctx context.Context, q querier) ([]dump.Token, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+storecore.TokenColumns+", revoked_at FROM tokens ORDER BY created_at, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dump.Token
	for rows.Next() {
		var revoked sql.NullString
		var t dump.Token
		var err error
		t.Token, err = scanToken(func(dest ...any) error { return rows.Scan(append(dest, &revoked)...) })
		if err != nil {
			return nil, err
		}
		if revoked.Valid {
			if t.RevokedAt, err = parseTime(revoked.String); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func exportRollouts(ctx context.Context, q querier) ([]*ramp.Rollout, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+storecore.RolloutColumns+" FROM rollouts ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ramp.Rollout
	for rows.Next() {
		r, err := scanRollout(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func exportAnalyses(ctx context.Context, q querier) ([]ramp.Analysis, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, rollout_id, time, stage, decision, reason, verdicts FROM analyses ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ramp.Analysis
	for rows.Next() {
		var (
			a        ramp.Analysis
			at       string
			verdicts sql.NullString
		)
		if err := rows.Scan(&a.ID, &a.RolloutID, &at, &a.Stage, &a.Decision, &a.Reason, &verdicts); err != nil {
			return nil, err
		}
		if a.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		if verdicts.Valid {
			a.Verdicts = json.RawMessage(verdicts.String)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func exportBaselines(ctx context.Context, q querier) ([]ramp.Baseline, error) {
	rows, err := q.QueryContext(ctx, "SELECT flag, environment FROM baselines ORDER BY flag, environment")
	if err != nil {
		return nil, err
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []ramp.Baseline
	for _, k := range keys {
		b, err := getBaseline(ctx, q, k[0], k[1])
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func exportAudit(ctx context.Context, q querier) ([]ramp.AuditEntry, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, time, actor, action, kind, key, environment, before, after FROM audit ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ramp.AuditEntry
	for rows.Next() {
		var (
			e             ramp.AuditEntry
			at            string
			before, after sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Kind, &e.Key, &e.Environment, &before, &after); err != nil {
			return nil, err
		}
		if e.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Import writes d into the store in one transaction, keeping every key,
// ID, version, salt, token hash and time, and then wakes the change feed.
// The store must hold no flag, segment, token, rollout or audit entry
// unless o.Replace is set, in which case they are deleted first; the
// environments are always replaced by d's. It fails with ECONFLICT for a
// store that is not empty and EINVALID for an inconsistent d; on any error
// nothing is written.
func (s *Store) Import(ctx context.Context, d *dump.Data, o dump.Options) error {
	if err := d.Check(); err != nil {
		return &ramp.Error{Code: ramp.EINVALID, Message: "the data to import is inconsistent: " + err.Error()}
	}
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		if !o.Replace {
			for _, table := range []string{"flags", "segments", "tokens", "rollouts", "audit"} {
				var n int
				if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					return fmt.Errorf("count %s: %w", table, err)
				}
				if n > 0 {
					return dump.NotEmpty(table, n)
				}
			}
		}
		for _, table := range []string{"analyses", "rollouts", "audit", "tokens", "flags", "segments", "environments"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				return fmt.Errorf("empty %s: %w", table, err)
			}
		}
		for _, e := range d.Environments {
			if _, err := tx.ExecContext(ctx, "INSERT INTO environments (key, name, description, created_at) VALUES (?, ?, ?, ?)",
				e.Key, e.Name, e.Description, formatTime(e.CreatedAt)); err != nil {
				return fmt.Errorf("insert environment %q: %w", e.Key, err)
			}
		}
		for _, seg := range d.Segments {
			data, err := storecore.MarshalJSON(seg)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO segments (key, version, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
				seg.Key, seg.Version, data, formatTime(seg.CreatedAt), formatTime(seg.UpdatedAt)); err != nil {
				return fmt.Errorf("insert segment %q: %w", seg.Key, err)
			}
		}
		for _, f := range d.Flags {
			data, err := storecore.MarshalJSON(f)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO flags (key, version, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
				f.Key, f.Version, data, formatTime(f.CreatedAt), formatTime(f.UpdatedAt)); err != nil {
				return fmt.Errorf("insert flag %q: %w", f.Key, err)
			}
		}
		for _, t := range d.Tokens {
			var revoked sql.NullString
			if !t.RevokedAt.IsZero() {
				revoked = sql.NullString{String: formatTime(t.RevokedAt), Valid: true}
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO tokens (id, name, kind, environment, hash, created_at, created_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				t.ID, t.Name, string(t.Kind), t.Environment, t.Hash, formatTime(t.CreatedAt), t.CreatedBy, revoked); err != nil {
				return fmt.Errorf("insert token %q: %w", t.ID, err)
			}
		}
		for _, r := range d.Rollouts {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO rollouts (id, flag, environment, status, stage, plan, state, reason, version, created_by, created_at, updated_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.ID, r.Flag, r.Environment, string(r.Status), r.Stage, string(r.Plan), nullRaw(r.State), r.Reason, r.Version, r.CreatedBy,
				formatTime(r.CreatedAt), formatTime(r.UpdatedAt)); err != nil {
				return fmt.Errorf("insert rollout %d: %w", r.ID, err)
			}
		}
		for _, a := range d.Analyses {
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO analyses (id, rollout_id, time, stage, decision, reason, verdicts) VALUES (?, ?, ?, ?, ?, ?, ?)",
				a.ID, a.RolloutID, formatTime(a.Time), a.Stage, a.Decision, a.Reason, nullRaw(a.Verdicts)); err != nil {
				return fmt.Errorf("insert analysis %d: %w", a.ID, err)
			}
		}
		for _, b := range d.Baselines {
			figures, err := storecore.MarshalJSON(b.Figures)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx,
				"INSERT INTO baselines (flag, environment, source, figures, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
				b.Flag, b.Environment, b.Source, figures, b.RecordedBy, formatTime(b.RecordedAt)); err != nil {
				return fmt.Errorf("insert the baseline of %q in %q: %w", b.Flag, b.Environment, err)
			}
		}
		for _, e := range d.Audit {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO audit (id, time, actor, action, kind, key, environment, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.ID, formatTime(e.Time), e.Actor, e.Action, e.Kind, e.Key, e.Environment, nullRaw(e.Before), nullRaw(e.After)); err != nil {
				return fmt.Errorf("insert audit entry %d: %w", e.ID, err)
			}
		}
		return nil
	})
	return translate("import", err)
}
