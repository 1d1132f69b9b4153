package postgres

import (
	"context"
	"embed"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations reads the embedded migrations in order, checked once.
var loadMigrations = sync.OnceValues(func() ([]storecore.Migration, error) {
	return storecore.LoadMigrations(migrationFS)
})

// migrate applies the migrations the database lacks, each in its own
// transaction together with its schema_migrations row. Replicas that start
// at once apply each migration once: every transaction takes the migration
// lock before it reads the applied version.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for {
		done := false
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
				return fmt.Errorf("take the migration lock: %w", err)
			}
			_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL
			)`)
			if err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			current, err := appliedVersion(ctx, tx)
			if err != nil {
				return err
			}
			if err := storecore.CheckNotNewer(current, len(ms)); err != nil {
				return err
			}
			if current == len(ms) {
				done = true
				return nil
			}
			m := ms[current]
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, s.clock())
			if err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
			return nil
		})
		if err != nil || done {
			return err
		}
	}
}

func appliedVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// MigrationStatus returns the schema version of the database and the latest
// version this binary knows. After a successful Open they are equal.
func (s *Store) MigrationStatus(ctx context.Context) (current, latest int, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, 0, err
	}
	current, err = appliedVersion(ctx, s.pool)
	if err != nil {
		return 0, 0, translate("migration status", err)
	}
	return current, len(ms), nil
}
