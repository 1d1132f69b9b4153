// Package pgtest gives tests a real PostgreSQL server: the one named by
// $RAMP_TEST_POSTGRES, or a private one that it creates with initdb in a
// temporary directory and runs on a Unix socket there, so that tests never
// touch a server that happens to run on the machine.
//
// A test binary shares one server: Start creates a fresh database on it
// for each test and drops it when the test ends. Tests that stop or
// restart the server get a server of their own from New. A package that
// uses the shared server calls Main from its TestMain, which stops the
// server when the tests are done.
//
// When the PostgreSQL binaries are not installed, Start and New skip the
// test with a loud message, except under CI=true, where they fail it: CI
// must not pass by skipping what it was meant to run. ./test.sh installs
// the Debian package postgresql.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvDSN names the environment variable with the connection string of a
// server to use instead of a private one. Its user must be allowed to
// create databases.
const EnvDSN = "RAMP_TEST_POSTGRES"

// superuser is the name of the superuser of a private server.
const superuser = "postgres"

// Server is a PostgreSQL server for tests. Its methods are safe for
// concurrent use.
type Server struct {
	// external is the connection string of a server given by $RAMP_TEST_POSTGRES;
	// empty for a private server.
	external string

	dir  string // private: the temporary directory, holding data/ and the socket
	bin  string // private: the directory of the binaries
	cred *syscall.Credential

	mu      sync.Mutex
	durable bool

	templates   map[string]func() (string, error)
	dropAtClose []string // template databases

	cmd     *exec.Cmd
	exited  chan struct{}
	log     *bytes.Buffer
	stopped bool
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error

	durableOnce sync.Once
	durable     *Server
	durableErr  error

	dbSeq atomic.Int64
)

// Main runs the tests of a package that uses Start, then stops the shared
// server, if one was started, and exits. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	if durable != nil {
		durable.close()
	}
	os.Exit(code)
}

// StartDurable is Start on a second shared server that syncs every commit
// to disk (see Durable), for benchmarks whose numbers must be those of a
// production server. With $RAMP_TEST_POSTGRES it is that server, as
// configured there.
func StartDurable(t testing.TB) string {
	t.Helper()
	durableOnce.Do(func() {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			durable, durableErr = &Server{external: dsn}, nil
			return
		}
		bin, missing := findBinaries()
		if missing != "" {
			durableErr = errMissing(missing)
			return
		}
		durable, durableErr = newPrivate(bin, Durable())
	})
	if durableErr != nil {
		fail(t, durableErr)
	}
	return durable.CreateDB(t)
}

// Start returns the connection string of a new, empty database on the
// test binary's shared server, which it starts on first use, and drops
// the database when t ends.
func Start(t testing.TB) string {
	t.Helper()
	srv := Shared(t)
	return srv.CreateDB(t)
}

// Shared returns the test binary's shared server, starting it on first
// use. Tests must not stop or restart it: use New for that.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			shared, sharedErr = &Server{external: dsn}, nil
			return
		}
		bin, missing := findBinaries()
		if missing != "" {
			sharedErr = errMissing(missing)
			return
		}
		shared, sharedErr = newPrivate(bin)
	})
	if sharedErr != nil {
		fail(t, sharedErr)
	}
	return shared
}

// Option configures New.
type Option func(*Server)

// Durable makes the server sync every commit to disk, as a production
// server does, for benchmarks. By default a test server does not: fsync,
// full_page_writes and synchronous_commit are off, which makes it faster
// and no less correct unless the machine loses power.
func Durable() Option { return func(s *Server) { s.durable = true } }

// New starts a private server for t alone, whatever $RAMP_TEST_POSTGRES
// says, so that t can stop and restart it. It is removed when t ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, missing := findBinaries()
	if missing != "" {
		fail(t, errMissing(missing))
	}
	srv, err := newPrivate(bin, opts...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: server log:\n%s", srv.Log())
		}
		srv.close()
	})
	return srv
}

type missingError string

func (e missingError) Error() string { return string(e) }

func errMissing(what string) error {
	return missingError(fmt.Sprintf("PostgreSQL is not installed (%s): install the Debian package postgresql "+
		"(apt-get install postgresql; ./test.sh does it), or set $%s to the connection string of a server "+
		"whose user may create databases", what, EnvDSN))
}

func fail(t testing.TB, err error) {
	t.Helper()
	var me missingError
	if errors.As(err, &me) && os.Getenv("CI") != "true" {
		t.Skip("SKIPPED, NOT RUN: " + err.Error())
	}
	t.Fatalf("pgtest: %v", err)
}

// findBinaries returns the directory holding initdb and postgres: that of
// initdb on $PATH, else the newest /usr/lib/postgresql/*/bin. It says what
// is missing if neither has them.
func findBinaries() (dir, missing string) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, ""
		}
	}
	return "", "no initdb and postgres on $PATH or in /usr/lib/postgresql/*/bin"
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// newPrivate creates a cluster in a new temporary directory and starts it.
func newPrivate(bin string, opts ...Option) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ramp-pg-")
	if err != nil {
		return nil, err
	}
	srv := &Server{dir: dir, bin: bin, cred: cred, log: new(bytes.Buffer), stopped: true}
	for _, o := range opts {
		o(srv)
	}
	if cred != nil {
		// initdb and postgres refuse to run as root: they run as an
		// unprivileged user, who must own the directory.
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("hand the data directory to uid %d: %w", cred.Uid, err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", srv.dataDir(), "-U", superuser, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = sysProcAttr(cred)
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := srv.start(); err != nil {
		srv.close()
		return nil, err
	}
	return srv, nil
}

// credential returns the user to run PostgreSQL as when this process is
// root, or nil to run it as ourselves.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and there is no user postgres or nobody to run PostgreSQL as (it refuses to run as root)")
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// start runs postgres and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		return nil
	}
	args := []string{
		"-D", s.dataDir(),
		"-k", s.dir,
		"-p", "5432",
		"-c", "listen_addresses=",
		"-c", "max_connections=200",
	}
	if !s.durable {
		// A test server need not survive a power loss.
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.SysProcAttr = sysProcAttr(s.cred)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout = lockedWriter{&s.mu, s.log}
	cmd.Stderr = lockedWriter{&s.mu, s.log}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.stopped = cmd, exited, false

	// The lock is not held while waiting: postgres's output is copied
	// into the log under it.
	s.mu.Unlock()
	err := s.waitReady(exited)
	if err != nil {
		cmd.Process.Kill()
		<-exited
	}
	s.mu.Lock()
	if err != nil {
		s.stopped = true
		return fmt.Errorf("%w\n%s", err, s.log.String())
	}
	return nil
}

func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN(superuser))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			return errors.New("postgres exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within a minute: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

// Write is called by exec's copying goroutine, never under s.mu.
func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// stop shuts postgres down: fast (SIGINT) or immediate (SIGQUIT).
func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.stopped = true
	s.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		return errors.New("postgres did not stop within 30s; killed")
	}
}

func (s *Server) close() {
	if s.external != "" {
		s.mu.Lock()
		dbs := s.dropAtClose
		s.mu.Unlock()
		for _, db := range dbs {
			s.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)")
		}
		return
	}
	s.stop(syscall.SIGQUIT)
	os.RemoveAll(s.dir)
}

// Log returns what a private server has logged so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// Stop shuts a private server down (a fast shutdown: open connections are
// closed) and waits until it has exited.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mustPrivate(t)
	if err := s.stop(syscall.SIGINT); err != nil {
		t.Fatalf("pgtest: stop: %v", err)
	}
}

// Kill stops a private server at once, as a crash would (an immediate
// shutdown: no checkpoint, crash recovery at the next start).
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mustPrivate(t)
	if err := s.stop(syscall.SIGQUIT); err != nil {
		t.Fatalf("pgtest: kill: %v", err)
	}
}

// Start starts a stopped private server again, on the same data and
// socket, and waits until it accepts connections. It does nothing if the
// server runs.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	s.mustPrivate(t)
	if err := s.start(); err != nil {
		t.Fatalf("pgtest: start: %v", err)
	}
}

// Restart stops a private server and starts it again.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

func (s *Server) mustPrivate(t testing.TB) {
	t.Helper()
	if s.external != "" {
		t.Fatalf("pgtest: the server of $%s cannot be stopped or started by a test; use pgtest.New", EnvDSN)
	}
}

// DSN returns the connection string of the database db on the server.
func (s *Server) DSN(db string) string {
	if s.external != "" {
		return withDatabase(s.external, db)
	}
	q := url.Values{}
	q.Set("host", s.dir)
	q.Set("port", "5432")
	q.Set("sslmode", "disable")
	return (&url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + db, RawQuery: q.Encode()}).String()
}

// withDatabase returns the connection string dsn, a URL or key=value
// pairs, naming the database db instead.
func withDatabase(dsn, db string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + db
			u.RawPath = ""
			return u.String()
		}
	}
	// In key=value form a later key wins.
	return dsn + " dbname=" + db
}

// adminDSN is the connection string for creating and dropping databases.
func (s *Server) adminDSN() string {
	if s.external != "" {
		return s.external
	}
	return s.DSN(superuser)
}

// CreateDB creates a new, empty database, drops it when t ends, and
// returns its connection string.
func (s *Server) CreateDB(t testing.TB) string {
	t.Helper()
	return s.createDB(t, "template1")
}

// StartFrom is Start with a database copied from the template database
// name, which prepare fills (with a schema, say) the first time the test
// binary asks for it. Copying a prepared database is faster than preparing
// each one.
func StartFrom(t testing.TB, name string, prepare func(dsn string) error) string {
	t.Helper()
	return Shared(t).CreateDBFrom(t, name, prepare)
}

// CreateDBFrom is CreateDB with a database copied from the template
// database name, which prepare fills the first time it is asked for on
// this server. prepare must close its connections before it returns.
func (s *Server) CreateDBFrom(t testing.TB, name string, prepare func(dsn string) error) string {
	t.Helper()
	tmpl, err := s.template(name, prepare)
	if err != nil {
		t.Fatalf("pgtest: template %s: %v", name, err)
	}
	return s.createDB(t, tmpl)
}

// template returns the database name of the template name, creating and
// preparing it on first use.
func (s *Server) template(name string, prepare func(dsn string) error) (string, error) {
	s.mu.Lock()
	if s.templates == nil {
		s.templates = map[string]func() (string, error){}
	}
	get, ok := s.templates[name]
	if !ok {
		db := fmt.Sprintf("ramp_template_%d_%d", os.Getpid(), dbSeq.Add(1))
		get = sync.OnceValues(func() (string, error) {
			if err := s.createDatabase(db, "template1"); err != nil {
				return "", err
			}
			if err := prepare(s.DSN(db)); err != nil {
				s.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)")
				return "", err
			}
			s.mu.Lock()
			s.dropAtClose = append(s.dropAtClose, db)
			s.mu.Unlock()
			return db, nil
		})
		s.templates[name] = get
	}
	s.mu.Unlock()
	return get()
}

func (s *Server) createDB(t testing.TB, template string) string {
	t.Helper()
	name := fmt.Sprintf("ramp_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.createDatabase(name, template); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := s.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil && s.running() {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// createDatabase creates name as a copy of template. With fsync off,
// copying the files (PostgreSQL 15 and later) is faster than the default
// of copying through the WAL.
func (s *Server) createDatabase(name, template string) error {
	err := s.exec("CREATE DATABASE " + name + " TEMPLATE " + template + " STRATEGY FILE_COPY")
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42601" || pe.Code == "42704") { // before PostgreSQL 15: no STRATEGY
		err = s.exec("CREATE DATABASE " + name + " TEMPLATE " + template)
	}
	return err
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.external != "" || !s.stopped
}

func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminDSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
