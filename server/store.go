package server

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdksource"
	"github.com/ramp-flags/ramp/store/postgres"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// Store is what a server needs of its database: what the admin API, the
// stream hub, the rollout controller and the SDK-counts source read and
// write, the pruning of reported counts, the leader lease, and Close.
// Every change commits with its audit row in one transaction, and
// failures are *ramp.Error values (EUNAVAILABLE while the database cannot
// be reached).
type Store interface {
	httpapi.Store
	httpapi.RolloutStore
	httpapi.CountStore
	httpapi.BaselineStore
	hub.Source
	rollout.Store
	sdksource.Store

	// PruneCounts deletes the reported counts older than before and
	// returns how many rows it deleted.
	PruneCounts(ctx context.Context, before time.Time) (int64, error)
	// AcquireLease takes the named lease for holder if it is free or has
	// expired, renews it if holder has it, and returns false if another
	// holder has it. A lease taken or renewed lasts ttl from the moment
	// the store grants it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the named lease if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error
	Close() error
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// Database kinds, as reported by ParseDB.
const (
	DBSQLite   = "sqlite"
	DBPostgres = "postgres"
)

// ParseDB splits a database setting (Config.DB) into its kind, DBSQLite or
// DBPostgres, and the path or connection string to open. An empty setting
// is the SQLite file ramp.db in dataDir. It fails with a message that
// shows the accepted forms.
func ParseDB(db, dataDir string) (kind, target string, err error) {
	switch {
	case db == "":
		return DBSQLite, filepath.Join(dataDir, "ramp.db"), nil
	case strings.HasPrefix(db, "sqlite:"):
		path := strings.TrimPrefix(db, "sqlite:")
		path = strings.TrimPrefix(path, "//") // sqlite:///abs/path
		if path == "" {
			return "", "", fmt.Errorf("database %q names no file: use sqlite:PATH, such as sqlite:ramp-data/ramp.db", db)
		}
		return DBSQLite, path, nil
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return DBPostgres, db, nil
	}
	return "", "", fmt.Errorf("database %q is not one ramp knows: use sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE", Redact(db))
}

// openStore opens and migrates the store cfg.DB names. onCommit is called
// after each commit of this process and, with Postgres, of every other
// replica.
func openStore(ctx context.Context, cfg Config, onCommit func()) (Store, string, error) {
	kind, target, err := ParseDB(cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, "", err
	}
	switch kind {
	case DBPostgres:
		st, err := postgres.Open(ctx, target, postgres.WithCommitHook(onCommit))
		if err != nil {
			return nil, "", err
		}
		return st, Redact(target), nil
	default:
		st, err := sqlite.Open(ctx, target, sqlite.WithCommitHook(onCommit))
		if err != nil {
			return nil, "", err
		}
		return st, "sqlite:" + target, nil
	}
}

// Redact hides the password of a connection string, in its user
// information or its query, for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a connection string that does not parse as a URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
