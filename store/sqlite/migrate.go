package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one file of migrations/, named NNNN_what.sql; the number is
// its version.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations in order, and checks that
// their versions run 1, 2, 3, ... without a gap.
var loadMigrations = sync.OnceValues(func() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_what.sql", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.name, m.version, i+1)
		}
	}
	return ms, nil
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
		if current >= m.version {
			continue // checked again under the write lock when a migration is due
		}
		err := s.write(ctx, func(tx *sql.Tx, now time.Time) error {
			current, err := appliedVersion(ctx, tx)
			if err != nil {
				return err
			}
			if current >= m.version {
				return nil // another process applied it meanwhile
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, formatTime(now))
			if err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
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
	if current > latest {
		return fmt.Errorf("the database is at schema version %d, newer than this binary knows (%d): use a newer ramp", current, latest)
	}
	return nil
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
