package storecore

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one file of a store's migrations/ directory, named
// NNNN_what.sql; the number is its version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the files migrations/*.sql of fsys in order of
// version, and checks that their versions run 1, 2, 3, ... without a gap.
// It fails on a name that is not NNNN_what.sql, a gap or a repeated
// version.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_what.sql", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}

// CheckNotNewer fails if the database is at a schema version above latest,
// the newest this binary knows: a newer binary migrated it, and this one
// would not know how to read it.
func CheckNotNewer(current, latest int) error {
	if current > latest {
		return fmt.Errorf("the database is at schema version %d, newer than this binary knows (%d): use a newer ramp", current, latest)
	}
	return nil
}
