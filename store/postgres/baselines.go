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

// SaveBaseline validates b and stores it as the baseline of its flag in
// its environment, replacing the one recorded before, in one transaction
// with its audit row (action baseline.record, kind baseline, the previous
// baseline as before). RecordedBy is c.Actor and RecordedAt the store's
// clock. It fails with EINVALID for a bad baseline and ENOTFOUND for an
// unknown flag or environment.
func (s *Store) SaveBaseline(ctx context.Context, c ramp.Change, b ramp.Baseline) (ramp.Baseline, error) {
	if err := b.Validate(); err != nil {
		return ramp.Baseline{}, err
	}
	var out ramp.Baseline
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		if _, _, err := getFlag(ctx, tx, b.Flag); err != nil {
			return err
		}
		sc, err := scope(ctx, tx)
		if err != nil {
			return err
		}
		if err := storecore.EnvironmentExists(sc, b.Environment); err != nil {
			return err
		}
		var prev *ramp.Baseline
		switch p, err := getBaseline(ctx, tx, b.Flag, b.Environment); {
		case err == nil:
			prev = &p
		case ramp.ErrorCode(err) != ramp.ENOTFOUND:
			return err
		}
		sb, err := storecore.SaveBaseline(c, b, prev, now)
		if err != nil {
			return err
		}
		n := sb.Baseline
		_, err = tx.Exec(ctx,
			`INSERT INTO baselines (flag, environment, source, figures, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)
			 ON CONFLICT (flag, environment) DO UPDATE SET source = excluded.source, figures = excluded.figures,
			 recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at`,
			n.Flag, n.Environment, n.Source, sb.Figures, n.RecordedBy, now)
		if err != nil {
			return fmt.Errorf("store baseline: %w", err)
		}
		if err := insertAudit(ctx, tx, now, sb.Audit); err != nil {
			return err
		}
		out = n
		return nil
	})
	if err != nil {
		return ramp.Baseline{}, translate("save baseline", err)
	}
	return out, nil
}

// GetBaseline returns the baseline recorded for the flag in env, or
// ENOTFOUND when none was.
func (s *Store) GetBaseline(ctx context.Context, flag, env string) (ramp.Baseline, error) {
	b, err := getBaseline(ctx, s.pool, flag, env)
	if err != nil {
		return ramp.Baseline{}, translate("get baseline", err)
	}
	return b, nil
}

func getBaseline(ctx context.Context, q querier, flag, env string) (ramp.Baseline, error) {
	var (
		b       ramp.Baseline
		figures []byte
	)
	err := q.QueryRow(ctx, "SELECT flag, environment, source, figures, recorded_by, recorded_at FROM baselines WHERE flag = $1 AND environment = $2", flag, env).
		Scan(&b.Flag, &b.Environment, &b.Source, &figures, &b.RecordedBy, &b.RecordedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, storecore.BaselineNotFound(flag, env)
	}
	if err != nil {
		return b, err
	}
	if err := storecore.DecodeBaselineFigures(&b, figures); err != nil {
		return b, err
	}
	b.RecordedAt = b.RecordedAt.UTC()
	return b, nil
}
