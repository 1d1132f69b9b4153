// Package e2e holds black-box tests: they build the ramp binary, start
// "ramp serve" on a free port with a temporary data directory, and drive it
// with the ramp command line and the HTTP API, as a user would.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/client"
)

// rampBin is the path of the binary built once for all tests.
var rampBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ramp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rampBin = filepath.Join(dir, "ramp")
	build := exec.Command("go", "build", "-o", rampBin, "../cmd/ramp")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ramp:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running "ramp serve" process.
type server struct {
	t       testing.TB
	dataDir string
	token   string
	url     string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	log     bytes.Buffer
}

var servingLine = regexp.MustCompile(`serving on (http://\S+)`)

// startServer runs ramp serve on a free port with dataDir and the admin
// token (none: let ramp create one) and waits until it is ready.
func startServer(t testing.TB, dataDir, token string) *server {
	t.Helper()
	return startServerAt(t, "127.0.0.1:0", dataDir, token)
}

// startServerAt is startServer on a given address, for a restart that
// clients must find where they left it, with extra arguments to ramp serve
// (later ones win over the defaults).
func startServerAt(t testing.TB, addr, dataDir, token string, extra ...string) *server {
	t.Helper()
	s, err := launchServer(t, addr, dataDir, token, 30*time.Second, extra...)
	if err != nil {
		t.Fatal(err)
	}
	if s.token == "" {
		b, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
		if err != nil {
			t.Fatalf("read admin token: %v", err)
		}
		s.token = strings.TrimSpace(string(b))
	}
	return s
}

// launchServer starts ramp serve as startServerAt does and waits up to
// wait for it to serve, but neither reads a token file nor fails t: it
// returns what went wrong, so that it may run on any goroutine. The server
// is stopped when the test ends, even if it failed to start serving.
func launchServer(t testing.TB, addr, dataDir, token string, wait time.Duration, extra ...string) (*server, error) {
	args := []string{"serve", "--addr", addr, "--data", dataDir, "--log-level", "warn"}
	if token != "" {
		args = append(args, "--admin-token", token)
	}
	args = append(args, extra...)
	s := &server{t: t, dataDir: dataDir, token: token, done: make(chan struct{})}
	s.cmd = exec.Command(rampBin, args...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := servingLine.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
			}
		}
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	select {
	case s.url = <-urlc:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("ramp serve exited before serving:\n%s", s.logs())
	case <-time.After(wait):
		return nil, fmt.Errorf("ramp serve did not start within %v:\n%s", wait, s.logs())
	}
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop ends the server with SIGTERM and waits for it.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("ramp serve did not stop on SIGINT within 15s")
	}
}

// kill ends the server with SIGKILL, as a crash would.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *server) client() *client.Client { return client.New(s.url, s.token) }

// result is the outcome of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// ramp runs the CLI against s with stdin (may be nil) and returns what it
// printed and its exit code.
func (s *server) ramp(stdin io.Reader, args ...string) result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rampBin, args...)
	cmd.Env = append(os.Environ(), "RAMP_SERVER="+s.url, "RAMP_TOKEN="+s.token)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("run ramp %v: %v", args, err)
	}
	return r
}

// mustRamp runs the CLI and fails the test unless it exits 0.
func (s *server) mustRamp(args ...string) string {
	s.t.Helper()
	r := s.ramp(nil, args...)
	if r.code != 0 {
		s.t.Fatalf("ramp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
