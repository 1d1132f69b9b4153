package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_class WHERE relname = 'marker'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStartGivesFreshDatabases checks that each database starts empty:
// a table made in one is not in the next.
func TestStartGivesFreshDatabases(t *testing.T) {
	a := pgtest.Start(t)
	conn, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE TABLE marker (x int)"); err != nil {
		t.Fatal(err)
	}
	if n := query(t, a); n != 1 {
		t.Fatalf("marker table in its own database: %d", n)
	}
	if n := query(t, pgtest.Start(t)); n != 0 {
		t.Errorf("a new database holds the marker table of another")
	}
}

// TestRestart checks that a private server keeps its data across a
// restart and a crash, and refuses connections while stopped.
func TestRestart(t *testing.T) {
	srv := pgtest.New(t)
	dsn := srv.CreateDB(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE marker (x int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	srv.Stop(t)
	if c, err := pgx.Connect(t.Context(), dsn); err == nil {
		c.Close(context.Background())
		t.Fatal("connected to a stopped server")
	}
	srv.Start(t)
	if n := query(t, dsn); n != 1 {
		t.Errorf("after restart: marker table count %d, want 1", n)
	}
	srv.Kill(t)
	srv.Start(t)
	if n := query(t, dsn); n != 1 {
		t.Errorf("after crash: marker table count %d, want 1", n)
	}
}

// TestStartFrom checks that databases copied from a template hold what
// prepare made, that prepare runs once, and that the copies are
// independent of each other.
func TestStartFrom(t *testing.T) {
	prepared := 0
	prepare := func(dsn string) error {
		prepared++
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), "CREATE TABLE marker (x int)")
		return err
	}
	a := pgtest.StartFrom(t, "marked", prepare)
	b := pgtest.StartFrom(t, "marked", prepare)
	if prepared != 1 {
		t.Errorf("prepare ran %d times for two copies, want once", prepared)
	}
	if query(t, a) != 1 || query(t, b) != 1 {
		t.Fatal("a copy of the template lacks the table prepare made")
	}
	conn, err := pgx.Connect(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "DROP TABLE marker"); err != nil {
		t.Fatal(err)
	}
	if query(t, b) != 1 {
		t.Error("dropping the table in one copy dropped it in another")
	}
}
