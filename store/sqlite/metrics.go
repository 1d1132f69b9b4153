package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// Statements over metric_counts, built once from storecore.BucketColumns.
var (
	upsertCounts, sumCounts string
)

func init() {
	cols := storecore.CountColumns()
	adds := make([]string, len(cols))
	sums := make([]string, len(cols))
	for i, c := range cols {
		adds[i] = c + " = " + c + " + excluded." + c
		sums[i] = "COALESCE(SUM(" + c + "), 0)"
	}
	upsertCounts = "INSERT INTO metric_counts (flag, environment, variant, second, " + strings.Join(cols, ", ") +
		") VALUES (?, ?, ?, ?" + strings.Repeat(", ?", len(cols)) + ")" +
		" ON CONFLICT (flag, environment, variant, second) DO UPDATE SET " + strings.Join(adds, ", ")
	sumCounts = "SELECT " + strings.Join(sums, ", ") +
		" FROM metric_counts WHERE flag = ? AND environment = ? AND variant = ? AND second >= ? AND second <= ?"
}

// AddCounts adds counts reported for env at the time at (zero: now) to the
// totals of their flag, variant and second. Adding is commutative, so
// reports from many SDKs, in any order, sum up.
//
// The counts are telemetry, not changes: AddCounts writes no audit row and
// does not call the commit hook, so it never wakes the change feed. It
// fails with EINVALID if env is not a valid key or the counts fail
// ramp.ValidateCounts (then nothing is added), and with EUNAVAILABLE when
// the database cannot be written. Empty counts are a no-op.
func (s *Store) AddCounts(ctx context.Context, env string, at time.Time, counts []ramp.Counts) error {
	if err := storecore.CheckCountsEnvironment(env); err != nil {
		return err
	}
	if err := ramp.ValidateCounts(counts); err != nil {
		return err
	}
	if len(counts) == 0 {
		return nil
	}
	err := s.writeQuiet(ctx, func(tx *sql.Tx, now time.Time) error {
		if at.IsZero() {
			at = now
		}
		stmt, err := tx.PrepareContext(ctx, upsertCounts)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer stmt.Close()
		second := at.Unix()
		args := make([]any, 0, storecore.NumCountArgs)
		for _, c := range counts {
			args = storecore.CountArgs(args, c, env, second)
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("add counts of %s/%s: %w", c.Flag, c.Variant, err)
			}
		}
		return nil
	})
	return translate("add counts", err)
}

// SumCounts returns the counts of one variant of a flag in env that
// arrived from the second of from to the second of to, both included. No
// counts is not an error: it returns zeros. The result's Latency is never
// nil: it has the bounds of ramp.LatencyBounds, and its Count is the
// number of timed requests. It fails with EINVALID when to is before from.
func (s *Store) SumCounts(ctx context.Context, flag, env, variant string, from, to time.Time) (ramp.Counts, error) {
	out, dst := storecore.SumTarget(flag, variant)
	if err := storecore.CheckWindow(from, to); err != nil {
		return *out, err
	}
	err := s.r.QueryRowContext(ctx, sumCounts, flag, env, variant, from.Unix(), to.Unix()).Scan(dst...)
	if err != nil {
		return *out, translate("sum counts", err)
	}
	return *out, nil
}

// pruneBatch is how many seconds of counts one pruning transaction
// deletes at most, so that pruning a long backlog does not hold the write
// lock for long.
const pruneBatch = 10 * 60

// PruneCounts deletes the counts that arrived before the second of
// before, in transactions of at most ten minutes of counts each, and
// returns how many rows it deleted. Like AddCounts it writes no audit row
// and does not wake the change feed.
func (s *Store) PruneCounts(ctx context.Context, before time.Time) (int64, error) {
	limit := before.Unix()
	var total int64
	for {
		var oldest sql.NullInt64
		if err := s.r.QueryRowContext(ctx, "SELECT MIN(second) FROM metric_counts").Scan(&oldest); err != nil {
			return total, translate("prune counts", err)
		}
		if !oldest.Valid || oldest.Int64 >= limit {
			return total, nil
		}
		upTo := min(limit, oldest.Int64+pruneBatch)
		err := s.writeQuiet(ctx, func(tx *sql.Tx, _ time.Time) error {
			res, err := tx.ExecContext(ctx, "DELETE FROM metric_counts WHERE second < ?", upTo)
			if err != nil {
				return fmt.Errorf("delete counts: %w", err)
			}
			n, err := res.RowsAffected()
			total += n
			return err
		})
		if err != nil {
			return total, translate("prune counts", err)
		}
	}
}
