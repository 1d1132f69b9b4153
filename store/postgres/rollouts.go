package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

func scanRollout(row pgx.CollectableRow) (*ramp.Rollout, error) {
	var (
		r            ramp.Rollout
		status       string
		plan, state  []byte
		stage        int32
		created, upd time.Time
	)
	if err := row.Scan(&r.ID, &r.Flag, &r.Environment, &status, &stage, &plan, &state, &r.Reason, &r.Version, &r.CreatedBy, &created, &upd); err != nil {
		return nil, err
	}
	r.Status = ramp.RolloutStatus(status)
	r.Stage = int(stage)
	r.Plan = json.RawMessage(plan)
	if state != nil {
		r.State = json.RawMessage(state)
	}
	r.CreatedAt, r.UpdatedAt = created.UTC(), upd.UTC()
	return &r, nil
}

func getRollout(ctx context.Context, q querier, id int64) (*ramp.Rollout, error) {
	rows, err := q.Query(ctx, "SELECT "+storecore.RolloutColumns+" FROM rollouts WHERE id = $1", id)
	if err != nil {
		return nil, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRollout)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storecore.RolloutNotFound(id)
	}
	return r, err
}

// CreateRollout stores a new rollout of an existing flag in an existing
// environment, with its audit row. It fails with ECONFLICT while the flag
// has another active rollout in the environment, and ENOTFOUND for an
// unknown flag or environment. The flag itself is not changed: the
// controller applies the first stage.
func (s *Store) CreateRollout(ctx context.Context, c ramp.Change, r *ramp.Rollout) (*ramp.Rollout, error) {
	if err := storecore.CheckRolloutPlan(r); err != nil {
		return nil, err
	}
	var out *ramp.Rollout
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		f, _, err := getFlag(ctx, tx, r.Flag)
		if err != nil {
			return err
		}
		sc, err := scope(ctx, tx)
		if err != nil {
			return err
		}
		if err := storecore.EnvironmentExists(sc, r.Environment); err != nil {
			return err
		}
		var active int64
		err = tx.QueryRow(ctx, "SELECT id FROM rollouts WHERE flag = $1 AND environment = $2 AND status IN ('pending', 'running', 'paused')", r.Flag, r.Environment).Scan(&active)
		switch {
		case err == nil:
			return storecore.ActiveRolloutExists(r.Flag, r.Environment, active)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		n := storecore.NewRollout(c, r, now)
		err = tx.QueryRow(ctx,
			`INSERT INTO rollouts (flag, environment, status, stage, plan, state, reason, version, created_by, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			n.Flag, n.Environment, string(n.Status), n.Stage, string(n.Plan), nullRaw(n.State), n.Reason, n.Version, n.CreatedBy, now, now).Scan(&n.ID)
		if err != nil {
			return fmt.Errorf("insert rollout: %w", err)
		}
		a, err := storecore.NewRolloutAudit(c, &n, f)
		if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, now, a); err != nil {
			return err
		}
		out = &n
		return nil
	})
	if err != nil {
		return nil, translate("create rollout", err)
	}
	return out, nil
}

// GetRollout returns the rollout with the ID, or ENOTFOUND.
func (s *Store) GetRollout(ctx context.Context, id int64) (*ramp.Rollout, error) {
	r, err := getRollout(ctx, s.pool, id)
	if err != nil {
		return nil, translate("get rollout", err)
	}
	return r, nil
}

// ListRollouts returns the rollouts f selects, newest first (at most
// f.Limit, default 100).
func (s *Store) ListRollouts(ctx context.Context, f ramp.RolloutFilter) ([]*ramp.Rollout, error) {
	var (
		where []string
		args  []any
	)
	if f.Flag != "" {
		args = append(args, f.Flag)
		where = append(where, "flag = $"+strconv.Itoa(len(args)))
	}
	if f.Environment != "" {
		args = append(args, f.Environment)
		where = append(where, "environment = $"+strconv.Itoa(len(args)))
	}
	if f.Active {
		where = append(where, "status IN ('pending', 'running', 'paused')")
	}
	limit := f.Limit
	if limit <= 0 || limit > storecore.MaxAuditLimit {
		limit = storecore.DefaultAuditLimit
	}
	q := "SELECT " + storecore.RolloutColumns + " FROM rollouts"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, q+" ORDER BY id DESC LIMIT $"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, translate("list rollouts", err)
	}
	out, err := pgx.CollectRows(rows, scanRollout)
	if err != nil {
		return nil, translate("list rollouts", err)
	}
	if out == nil {
		out = []*ramp.Rollout{}
	}
	return out, nil
}

// UpdateRollout reads the rollout and its flag, checks c.IfVersion
// against the rollout's version, calls fn on copies of both, and writes
// them back in one transaction with one audit row (kind "rollout"): the
// rollout with the next version, and the flag, validated and with its next
// version, if fn changed it. fn returns the audit action, which may depend
// on what it found; empty means c.Action. fn runs under the write lock and
// must not call the store; its error aborts the update and is returned as
// it is. fn may not change the rollout's ID, flag or environment.
func (s *Store) UpdateRollout(ctx context.Context, c ramp.Change, id int64, fn func(*ramp.Rollout, *ramp.Flag) (string, error)) (*ramp.Rollout, *ramp.Flag, error) {
	var (
		outR *ramp.Rollout
		outF *ramp.Flag
	)
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		cur, err := getRollout(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := storecore.StaleVersion("rollout", fmt.Sprint(id), c.IfVersion, cur.Version); err != nil {
			return err
		}
		f, fdata, err := getFlag(ctx, tx, cur.Flag)
		if err != nil {
			return err
		}
		u, err := storecore.UpdateRollout(c, cur, f, fdata, now, fn, func() (ramp.Scope, error) { return scope(ctx, tx) })
		if err != nil {
			return err
		}
		if u.FlagChanged {
			if _, err := putFlag(ctx, tx, u.Flag); err != nil {
				return err
			}
		}
		nr := u.Rollout
		_, err = tx.Exec(ctx,
			"UPDATE rollouts SET status = $1, stage = $2, plan = $3, state = $4, reason = $5, version = $6, updated_at = $7 WHERE id = $8",
			string(nr.Status), nr.Stage, string(nr.Plan), nullRaw(nr.State), nr.Reason, nr.Version, now, id)
		if err != nil {
			return fmt.Errorf("update rollout: %w", err)
		}
		if err := insertAudit(ctx, tx, now, u.Audit); err != nil {
			return err
		}
		outR, outF = nr, u.Flag
		return nil
	})
	if err != nil {
		return nil, nil, translate("update rollout", err)
	}
	return outR, outF, nil
}

// abortRollouts ends the active rollouts of the flag (in env, or in every
// environment if env is empty) with status aborted and the reason, each
// with its audit row: the kill switch and deletions win over rollouts.
// before and after are the flag around the change that aborts them, for
// the audit rows; either may be nil.
func abortRollouts(ctx context.Context, tx pgx.Tx, now time.Time, actor, flag, env, reason string, before, after *ramp.Flag) error {
	q := "SELECT " + storecore.RolloutColumns + " FROM rollouts WHERE flag = $1 AND status IN ('pending', 'running', 'paused')"
	args := []any{flag}
	if env != "" {
		q += " AND environment = $2"
		args = append(args, env)
	}
	rows, err := tx.Query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return fmt.Errorf("find active rollouts: %w", err)
	}
	active, err := pgx.CollectRows(rows, scanRollout)
	if err != nil {
		return fmt.Errorf("find active rollouts: %w", err)
	}
	for _, r := range active {
		n, a, err := storecore.AbortRollout(actor, reason, r, before, after, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE rollouts SET status = $1, reason = $2, version = $3, updated_at = $4 WHERE id = $5",
			string(n.Status), n.Reason, n.Version, now, n.ID); err != nil {
			return fmt.Errorf("abort rollout %d: %w", n.ID, err)
		}
		if err := insertAudit(ctx, tx, now, a); err != nil {
			return err
		}
	}
	return nil
}

// AddAnalysis records one analysis of a rollout. It is not audited: the
// audit log records the transitions analyses lead to.
func (s *Store) AddAnalysis(ctx context.Context, a ramp.Analysis) (ramp.Analysis, error) {
	if a.Verdicts != nil && !json.Valid(a.Verdicts) {
		return a, ramp.Errorf(ramp.EINVALID, "the verdicts are not JSON")
	}
	err := s.write(ctx, func(tx pgx.Tx, now time.Time) error {
		if a.Time.IsZero() {
			a.Time = now
		}
		err := tx.QueryRow(ctx, "INSERT INTO analyses (rollout_id, time, stage, decision, reason, verdicts) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
			a.RolloutID, a.Time, a.Stage, a.Decision, a.Reason, nullRaw(a.Verdicts)).Scan(&a.ID)
		if err != nil {
			return fmt.Errorf("insert analysis: %w", err)
		}
		return nil
	})
	if err != nil {
		return a, translate("add analysis", err)
	}
	return a, nil
}

// ListAnalyses returns the analyses of a rollout, oldest first, at most
// limit of them counted from the newest (default 1000).
func (s *Store) ListAnalyses(ctx context.Context, rolloutID int64, limit int) ([]ramp.Analysis, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx,
		`SELECT id, rollout_id, time, stage, decision, reason, verdicts FROM
		 (SELECT * FROM analyses WHERE rollout_id = $1 ORDER BY id DESC LIMIT $2) AS newest ORDER BY id`, rolloutID, limit)
	if err != nil {
		return nil, translate("list analyses", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ramp.Analysis, error) {
		var (
			a        ramp.Analysis
			stage    int32
			verdicts []byte
		)
		if err := row.Scan(&a.ID, &a.RolloutID, &a.Time, &stage, &a.Decision, &a.Reason, &verdicts); err != nil {
			return a, err
		}
		a.Stage = int(stage)
		a.Time = a.Time.UTC()
		if verdicts != nil {
			a.Verdicts = json.RawMessage(verdicts)
		}
		return a, nil
	})
	if err != nil {
		return nil, translate("list analyses", err)
	}
	if out == nil {
		out = []ramp.Analysis{}
	}
	return out, nil
}

// nullRaw returns nil for a nil message, for a NULL json column.
func nullRaw(b json.RawMessage) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
