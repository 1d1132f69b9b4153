package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

func scanRollout(scan func(...any) error) (*ramp.Rollout, error) {
	var (
		r                         ramp.Rollout
		status, plan, created, up string
		state                     sql.NullString
	)
	if err := scan(&r.ID, &r.Flag, &r.Environment, &status, &r.Stage, &plan, &state, &r.Reason, &r.Version, &r.CreatedBy, &created, &up); err != nil {
		return nil, err
	}
	r.Status = ramp.RolloutStatus(status)
	r.Plan = json.RawMessage(plan)
	if state.Valid {
		r.State = json.RawMessage(state.String)
	}
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if r.UpdatedAt, err = parseTime(up); err != nil {
		return nil, err
	}
	return &r, nil
}

func getRollout(ctx context.Context, q querier, id int64) (*ramp.Rollout, error) {
	r, err := scanRollout(q.QueryRowContext(ctx, "SELECT "+storecore.RolloutColumns+" FROM rollouts WHERE id = ?", id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
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
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
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
		err = tx.QueryRowContext(ctx, "SELECT id FROM rollouts WHERE flag = ? AND environment = ? AND status IN ('pending', 'running', 'paused')", r.Flag, r.Environment).Scan(&active)
		switch {
		case err == nil:
			return storecore.ActiveRolloutExists(r.Flag, r.Environment, active)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		n := storecore.NewRollout(c, r, now)
		res, err := tx.ExecContext(ctx,
			`INSERT INTO rollouts (flag, environment, status, stage, plan, state, reason, version, created_by, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.Flag, n.Environment, string(n.Status), n.Stage, string(n.Plan), nullRaw(n.State), n.Reason, n.Version, n.CreatedBy, formatTime(now), formatTime(now))
		if err != nil {
			return fmt.Errorf("insert rollout: %w", err)
		}
		if n.ID, err = res.LastInsertId(); err != nil {
			return err
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
	r, err := getRollout(ctx, s.r, id)
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
		where, args = append(where, "flag = ?"), append(args, f.Flag)
	}
	if f.Environment != "" {
		where, args = append(where, "environment = ?"), append(args, f.Environment)
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
	rows, err := s.r.QueryContext(ctx, q+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, translate("list rollouts", err)
	}
	defer rows.Close()
	out := []*ramp.Rollout{}
	for rows.Next() {
		r, err := scanRollout(rows.Scan)
		if err != nil {
			return nil, translate("list rollouts", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list rollouts", err)
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
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
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
		_, err = tx.ExecContext(ctx,
			"UPDATE rollouts SET status = ?, stage = ?, plan = ?, state = ?, reason = ?, version = ?, updated_at = ? WHERE id = ?",
			string(nr.Status), nr.Stage, string(nr.Plan), nullRaw(nr.State), nr.Reason, nr.Version, formatTime(now), id)
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
func abortRollouts(ctx context.Context, tx *sql.Tx, now time.Time, actor, flag, env, reason string, before, after *ramp.Flag) error {
	q := "SELECT " + storecore.RolloutColumns + " FROM rollouts WHERE flag = ? AND status IN ('pending', 'running', 'paused')"
	args := []any{flag}
	if env != "" {
		q += " AND environment = ?"
		args = append(args, env)
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("find active rollouts: %w", err)
	}
	var active []*ramp.Rollout
	for rows.Next() {
		r, err := scanRollout(rows.Scan)
		if err != nil {
			rows.Close()
			return err
		}
		active = append(active, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range active {
		n, a, err := storecore.AbortRollout(actor, reason, r, before, after, now)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE rollouts SET status = ?, reason = ?, version = ?, updated_at = ? WHERE id = ?",
			string(n.Status), n.Reason, n.Version, formatTime(now), n.ID); err != nil {
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
	err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
		if a.Time.IsZero() {
			a.Time = now
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO analyses (rollout_id, time, stage, decision, reason, verdicts) VALUES (?, ?, ?, ?, ?, ?)",
			a.RolloutID, formatTime(a.Time), a.Stage, a.Decision, a.Reason, nullRaw(a.Verdicts))
		if err != nil {
			return fmt.Errorf("insert analysis: %w", err)
		}
		a.ID, err = res.LastInsertId()
		return err
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
	rows, err := s.r.QueryContext(ctx,
		"SELECT id, rollout_id, time, stage, decision, reason, verdicts FROM (SELECT * FROM analyses WHERE rollout_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id", rolloutID, limit)
	if err != nil {
		return nil, translate("list analyses", err)
	}
	defer rows.Close()
	out := []ramp.Analysis{}
	for rows.Next() {
		var (
			a        ramp.Analysis
			at       string
			verdicts sql.NullString
		)
		if err := rows.Scan(&a.ID, &a.RolloutID, &at, &a.Stage, &a.Decision, &a.Reason, &verdicts); err != nil {
			return nil, translate("list analyses", err)
		}
		if a.Time, err = parseTime(at); err != nil {
			return nil, translate("list analyses", err)
		}
		if verdicts.Valid {
			a.Verdicts = json.RawMessage(verdicts.String)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list analyses", err)
	}
	return out, nil
}

func nullRaw(b json.RawMessage) sql.NullString {
	if b == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}
