package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/dump"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// Export reads everything "ramp migrate" copies in one read-only
// transaction at repeatable read, so that the Data is one consistent state
// of the database even while replicas write.
func (s *Store) Export(ctx context.Context) (*dump.Data, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, translate("export", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	d := &dump.Data{}
	rows, err := tx.Query(ctx, "SELECT key, name, description, created_at FROM environments ORDER BY key COLLATE \"C\"")
	if err == nil {
		d.Environments, err = pgx.CollectRows(rows, scanEnvironment)
	}
	if err != nil {
		return nil, translate("export environments", err)
	}
	rows, err = tx.Query(ctx, `SELECT key, version, data, created_at, updated_at FROM segments ORDER BY key COLLATE "C"`)
	if err == nil {
		d.Segments, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*ramp.Segment, error) {
			var r flagRow
			if err := row.Scan(&r.key, &r.version, &r.data, &r.created, &r.updated); err != nil {
				return nil, err
			}
			return storecore.DecodeSegment(r.key, r.data, r.version, r.created, r.updated)
		})
	}
	if err != nil {
		return nil, translate("export segments", err)
	}
	if d.Flags, err = listFlags(ctx, tx); err != nil {
		return nil, translate("export flags", err)
	}
	rows, err = tx.Query(ctx, "SELECT "+storecore.TokenColumns+", revoked_at FROM tokens ORDER BY created_at, id")
	if err == nil {
		d.Tokens, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (dump.Token, error) {
			var t dump.Token
			var kind string
			var revoked *time.Time
			if err := row.Scan(&t.ID, &t.Name, &kind, &t.Environment, &t.Hash, &t.CreatedAt, &t.CreatedBy, &revoked); err != nil {
				return t, err
			}
			t.Kind, t.CreatedAt = ramp.TokenKind(kind), t.CreatedAt.UTC()
			if revoked != nil {
				t.RevokedAt = revoked.UTC()
			}
			return t, nil
		})
	}
	if err != nil {
		return nil, translate("export tokens", err)
	}
	rows, err = tx.Query(ctx, "SELECT "+storecore.RolloutColumns+" FROM rollouts ORDER BY id")
	if err == nil {
		d.Rollouts, err = pgx.CollectRows(rows, scanRollout)
	}
	if err != nil {
		return nil, translate("export rollouts", err)
	}
	rows, err = tx.Query(ctx, "SELECT id, rollout_id, time, stage, decision, reason, verdicts FROM analyses ORDER BY id")
	if err == nil {
		d.Analyses, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ramp.Analysis, error) {
			var a ramp.Analysis
			var stage int32
			var verdicts *string
			if err := row.Scan(&a.ID, &a.RolloutID, &a.Time, &stage, &a.Decision, &a.Reason, &verdicts); err != nil {
				return a, err
			}
			a.Stage, a.Time = int(stage), a.Time.UTC()
			if verdicts != nil {
				a.Verdicts = json.RawMessage(*verdicts)
			}
			return a, nil
		})
	}
	if err != nil {
		return nil, translate("export analyses", err)
	}
	rows, err = tx.Query(ctx, `SELECT flag, environment FROM baselines ORDER BY flag COLLATE "C", environment COLLATE "C"`)
	if err == nil {
		var keys [][2]string
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
			var k [2]string
			return k, row.Scan(&k[0], &k[1])
		})
		for i := 0; err == nil && i < len(keys); i++ {
			var b ramp.Baseline
			if b, err = getBaseline(ctx, tx, keys[i][0], keys[i][1]); err == nil {
				d.Baselines = append(d.Baselines, b)
			}
		}
	}
	if err != nil {
		return nil, translate("export baselines", err)
	}
	rows, err = tx.Query(ctx, "SELECT id, time, actor, action, kind, key, environment, before, after FROM audit ORDER BY id")
	if err == nil {
		d.Audit, err = pgx.CollectRows(rows, scanAudit)
	}
	if err != nil {
		return nil, translate("export audit", err)
	}
	return d, nil
}

// Import writes d into the database in one change transaction, keeping
// every key, ID, version, salt, token hash and time, moves the ID
// sequences past the imported IDs, and notifies the replicas. The
// database must hold no flag, segment, token, rollout or audit entry
// unless o.Replace is set, in which case they are deleted first; the
// environments are always replaced by d's. It fails with ECONFLICT for a
// database that is not empty and EINVALID for an inconsistent d; on any
// error nothing is written.
func (s *Store) Import(ctx context.Context, d *dump.Data, o dump.Options) error {
	if err := d.Check(); err != nil {
		return &ramp.Error{Code: ramp.EINVALID, Message: "the data to import is inconsistent: " + err.Error()}
	}
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		if !o.Replace {
			for _, table := range []string{"flags", "segments", "tokens", "rollouts", "audit"} {
				var n int
				if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					return fmt.Errorf("count %s: %w", table, err)
				}
				if n > 0 {
					return dump.NotEmpty(table, n)
				}
			}
		}
		for _, table := range []string{"analyses", "rollouts", "audit", "tokens", "flags", "segments", "environments"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table); err != nil {
				return fmt.Errorf("empty %s: %w", table, err)
			}
		}
		var b pgx.Batch
		for _, e := range d.Environments {
			b.Queue("INSERT INTO environments (key, name, description, created_at) VALUES ($1, $2, $3, $4)",
				e.Key, e.Name, e.Description, e.CreatedAt)
		}
		for _, seg := range d.Segments {
			data, err := storecore.MarshalJSON(seg)
			if err != nil {
				return err
			}
			b.Queue("INSERT INTO segments (key, version, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
				seg.Key, seg.Version, data, seg.CreatedAt, seg.UpdatedAt)
		}
		for _, f := range d.Flags {
			data, err := storecore.MarshalJSON(f)
			if err != nil {
				return err
			}
			b.Queue("INSERT INTO flags (key, version, data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
				f.Key, f.Version, data, f.CreatedAt, f.UpdatedAt)
		}
		for _, t := range d.Tokens {
			var revoked *time.Time
			if !t.RevokedAt.IsZero() {
				revoked = &t.RevokedAt
			}
			b.Queue("INSERT INTO tokens (id, name, kind, environment, hash, created_at, created_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				t.ID, t.Name, string(t.Kind), t.Environment, t.Hash, t.CreatedAt, t.CreatedBy, revoked)
		}
		for _, r := range d.Rollouts {
			b.Queue(`INSERT INTO rollouts (id, flag, environment, status, stage, plan, state, reason, version, created_by, created_at, updated_at)
				OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				r.ID, r.Flag, r.Environment, string(r.Status), r.Stage, string(r.Plan), nullRaw(r.State), r.Reason, r.Version, r.CreatedBy, r.CreatedAt, r.UpdatedAt)
		}
		for _, a := range d.Analyses {
			b.Queue(`INSERT INTO analyses (id, rollout_id, time, stage, decision, reason, verdicts)
				OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				a.ID, a.RolloutID, a.Time, a.Stage, a.Decision, a.Reason, nullRaw(a.Verdicts))
		}
		for _, bl := range d.Baselines {
			figures, err := storecore.MarshalJSON(bl.Figures)
			if err != nil {
				return err
			}
			b.Queue("INSERT INTO baselines (flag, environment, source, figures, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
				bl.Flag, bl.Environment, bl.Source, figures, bl.RecordedBy, bl.RecordedAt)
		}
		for _, e := range d.Audit {
			b.Queue(`INSERT INTO audit (id, time, actor, action, kind, key, environment, before, after)
				OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				e.ID, e.Time, e.Actor, e.Action, e.Kind, e.Key, e.Environment, nullRaw(e.Before), nullRaw(e.After))
		}
		// The identity sequences continue after the imported IDs (and
		// never go back, so that replicas following the feed by ID miss
		// nothing after a replacing import).
		for _, table := range []string{"rollouts", "analyses", "audit"} {
			b.Queue(fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), GREATEST(
				(SELECT COALESCE(max(id), 0) FROM %[1]s),
				COALESCE(pg_sequence_last_value(pg_get_serial_sequence('%[1]s', 'id')::regclass), 0)) + 1, false)`, table))
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	})
	return translate("import", err)
}
