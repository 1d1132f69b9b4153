package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/server"
	"github.com/ramp-flags/ramp/store/dump"
	"github.com/ramp-flags/ramp/store/postgres"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// migrateSource is a store ramp migrate reads.
type migrateSource interface {
	Export(ctx context.Context) (*dump.Data, error)
	Close() error
}

// migrateTarget is a store ramp migrate writes.
type migrateTarget interface {
	Import(ctx context.Context, d *dump.Data, o dump.Options) error
	Close() error
}

var (
	_ migrateSource = (*sqlite.Store)(nil)
	_ migrateTarget = (*sqlite.Store)(nil)
	_ migrateSource = (*postgres.Store)(nil)
	_ migrateTarget = (*postgres.Store)(nil)
)

// migrateResult is what ramp migrate reports.
type migrateResult struct {
	From     string      `json:"from"`
	To       string      `json:"to"`
	Copied   dump.Counts `json:"copied"`
	Replaced bool        `json:"replaced"`
	Duration string      `json:"duration"`
}

func newMigrateCmd(a *app) *cobra.Command {
	var from, to string
	var replace bool
	cmd := &cobra.Command{
		Use:   "migrate --from DB --to DB",
		Short: "Copy everything from one database to another, such as SQLite to PostgreSQL",
		Long: `Copy environments, segments, flags, tokens, rollouts with their analyses,
baselines and the audit log from the database --from to the database --to, keeping every key,
ID, version, salt and time: flags bucket the same users, tokens keep working
(only their hashes are stored and copied), and the audit log continues.

Databases are written as for ramp serve --db: sqlite:PATH, or
postgres://USER:PASSWORD@HOST:PORT/DATABASE (postgresql:// also works). Both
are brought to this binary's schema first.

The copy is one transaction on the target: it is written whole or not at all.
A target that holds flags, segments, tokens, rollouts or audit entries is
refused unless --replace is given, which deletes what it holds first (in the
same transaction). The counts SDKs report for guarded rollouts are telemetry
and are not copied: a rollout running at the time of the copy sees its
counts start again from the copy.

Stop the servers writing to --from first (or accept that changes made during
the copy are not in it), then start the servers on --to.`,
		Example: `  ramp migrate --from sqlite:ramp-data/ramp.db --to postgres://ramp:s3cret@db.internal/ramp
  ramp serve --db postgres://ramp:s3cret@db.internal/ramp     # then run the replicas on it

  # Back to SQLite, replacing what the file holds:
  ramp migrate --from postgres://ramp@db.internal/ramp --to sqlite:/var/lib/ramp/ramp.db --replace -o json`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return usageErrorf("ramp migrate needs --from and --to, such as --from sqlite:ramp-data/ramp.db --to postgres://HOST/DATABASE")
			}
			fromKind, fromTarget, err := server.ParseDB(from, "")
			if err != nil {
				return usageErrorf("--from: %v", err)
			}
			toKind, toTarget, err := server.ParseDB(to, "")
			if err != nil {
				return usageErrorf("--to: %v", err)
			}
			if fromKind == toKind && fromTarget == toTarget {
				return usageErrorf("--from and --to name the same database; give the database to copy to")
			}
			if fromKind == server.DBSQLite {
				// Opening creates a missing file: a typo would copy an
				// empty store.
				if _, err := os.Stat(fromTarget); err != nil {
					return fmt.Errorf("--from %s: %w", from, err)
				}
			}
			ctx := cmd.Context()
			start := time.Now()
			src, err := openMigrateStore(ctx, fromKind, fromTarget)
			if err != nil {
				return fmt.Errorf("open --from: %w", err)
			}
			defer src.Close()
			d, err := src.(migrateSource).Export(ctx)
			if err != nil {
				return fmt.Errorf("read --from: %w", err)
			}
			dst, err := openMigrateStore(ctx, toKind, toTarget)
			if err != nil {
				return fmt.Errorf("open --to: %w", err)
			}
			defer dst.Close()
			if err := dst.(migrateTarget).Import(ctx, d, dump.Options{Replace: replace}); err != nil {
				return fmt.Errorf("write --to: %w", err)
			}
			res := migrateResult{
				From: redactDB(fromKind, fromTarget), To: redactDB(toKind, toTarget),
				Copied: d.Count(), Replaced: replace, Duration: time.Since(start).Round(time.Millisecond).String(),
			}
			return a.render(res, func(w io.Writer) {
				c := res.Copied
				row(w, "KIND", "COPIED")
				for _, r := range []struct {
					kind string
					n    int
				}{
					{"environments", c.Environments}, {"segments", c.Segments}, {"flags", c.Flags}, {"tokens", c.Tokens},
					{"rollouts", c.Rollouts}, {"analyses", c.Analyses}, {"baselines", c.Baselines}, {"audit entries", c.Audit},
				} {
					row(w, r.kind, fmt.Sprint(r.n))
				}
				fmt.Fprintf(w, "copied %d rows from %s to %s in %s\n", c.Total(), res.From, res.To, res.Duration)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "database to copy from: sqlite:PATH or postgres://...")
	f.StringVar(&to, "to", "", "database to copy to: sqlite:PATH or postgres://...")
	f.BoolVar(&replace, "replace", false, "delete what the target holds before copying, instead of refusing a target that is not empty")
	return cmd
}

// openMigrateStore opens (and migrates) a store of either kind.
func openMigrateStore(ctx context.Context, kind, target string) (io.Closer, error) {
	switch kind {
	case server.DBSQLite:
		return sqlite.Open(ctx, target)
	case server.DBPostgres:
		return postgres.Open(ctx, target)
	}
	return nil, errors.New("unknown database kind " + kind)
}

// redactDB names a database for the report, without its password.
func redactDB(kind, target string) string {
	if kind == server.DBSQLite {
		return "sqlite:" + target
	}
	return server.Redact(target)
}
