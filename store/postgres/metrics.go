package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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
	params := make([]string, 4+len(cols))
	for i := range params {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	for i, c := range cols {
		adds[i] = c + " = metric_counts." + c + " + excluded." + c
		sums[i] = "COALESCE(SUM(" + c + "), 0)"
	}
	upsertCounts = "INSERT INTO metric_counts (flag, environment, variant, second, " + strings.Join(cols, ", ") +
		") VALUES (" + strings.Join(params, ", ") + ")" +
		" ON CONFLICT (flag, environment, variant, second) DO UPDATE SET " + strings.Join(adds, ", ")
	sumCounts = "SELECT " + strings.Join(sums, ", ") +
		" FROM metric_counts WHERE flag = $1 AND environment = $2 AND variant = $3 AND second >= $4 AND second <= $5"
}

// AddCounts adds counts reported for env at the time at (zero: now) to the
// totals of their flag, variant and second. Adding is commutative, so
// reports from many SDKs and replicas, in any order, sum up.
//
// The counts are telemetry, not changes: AddCounts writes no audit row,
// takes no write lock and does not call the commit hook, so it never wakes
// the change feed. It fails with EINVALID if env is not a valid key or the
// counts fail ramp.ValidateCounts (then nothing is added), and with
// EUNAVAILABLE when the database cannot be written. Empty counts are a
// no-op.
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
	// Concurrent reports lock their rows in one order, so that two of them
	// cannot deadlock.
	sorted := slices.Clone(counts)
	slices.SortStableFunc(sorted, func(a, b ramp.Counts) int {
		return cmp.Or(strings.Compare(a.Flag, b.Flag), strings.Compare(a.Variant, b.Variant))
	})
	err := s.writeQuiet(ctx, func(tx pgx.Tx, now time.Time) error {
		if at.IsZero() {
			at = now
		}
		second := at.Unix()
		var b pgx.Batch
		for _, c := range sorted {
			args := storecore.CountArgs(make([]any, 0, storecore.NumCountArgs), c, env, second)
			b.Queue(upsertCounts, args...)
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("add counts: %w", err)
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
	err := s.pool.QueryRow(ctx, sumCounts, flag, env, variant, from.Unix(), to.Unix()).Scan(dst...)
	if err != nil {
		return *out, translate("sum counts", err)
	}
	return *out, nil
}

// pruneBatch is how many seconds of counts one pruning transaction
// deletes at most, so that pruning a long backlog holds its row locks
// briefly.
const pruneBatch = 10 * 60

// PruneCounts deletes the counts that arrived before the second of
// before, in transactions of at most ten minutes of counts each, and
// returns how many rows it deleted. Like AddCounts it writes no audit row
// and does not wake the change feed.
func (s *Store) PruneCounts(ctx context.Context, before time.Time) (int64, error) {
	limit := before.Unix()
	var total int64
	for {
		var oldest *int64
		if err := s.pool.QueryRow(ctx, "SELECT MIN(second) FROM metric_counts").Scan(&oldest); err != nil {
			return total, translate("prune counts", err)
		}
		if oldest == nil || *oldest >= limit {
			return total, nil
		}
		upTo := min(limit, *oldest+pruneBatch)
		tag, err := s.pool.Exec(ctx, "DELETE FROM metric_counts WHERE second < $1", upTo)
		if err != nil {
			return total, translate("prune counts", err)
		}
		total += tag.RowsAffected()
	}
}
