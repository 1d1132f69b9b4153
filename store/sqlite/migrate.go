package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"sync"
	"time"

	"github.com/ramp-flags/ramp/store/internal/storecore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations reads the embedded migrations in order, checked once.
var loadMigrations = sync.OnceValues(func() ([]storecore.Migration, error) {
	return storecore.LoadMigrations(migrationFS)
})

// migrate applies the migrations the database lacks, each in its own
// transaction together with its schema_migrations row. Two processes that
// open the same new file at once apply each migration once: the write lock
// is taken before the applied version is read.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	) STRICT`)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := checkNotNewer(ctx, s.w, len(ms)); err != nil {
		return err
	}
	current, err := appliedVersion(ctx, s.w)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if current >= m.Version {
			continue // checked again under the write lock when a migration is due
		}
		err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
			current, err := appliedVersion(ctx, tx)
			if err != nil {
				return err
			}
			if current >= m.Version {
				return nil // another process applied it meanwhile
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, formatTime(now))
			if err != nil {
				return fmt.Errorf("record migration %s: %w", m.Name, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkNotNewer fails if a newer binary migrated the database: this one
// would not know how to read it.
func checkNotNewer(ctx context.Context, q querier, latest int) error {
	current, err := appliedVersion(ctx, q)
	if err != nil {
		return err
	}
	return storecore.CheckNotNewer(current, latest)
}

func appliedVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
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
	current, err = appliedVersion(ctx, s.r)
	if err != nil {
		return 0, 0, translate("migration status", err)
	}
	return current, len(ms), nil
}
