// Package rampproc runs a "ramp serve" process for the load tools under
// bench/: it builds the binary when none is given, starts it on a free
// loopback port with a fresh data directory and an admin token of its own,
// waits until /readyz answers 200, and stops it again.
//
// The tools measure the server as a user runs it: a separate process,
// reached over TCP on 127.0.0.1, never an in-process handler.
package rampproc

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

// Build compiles ./cmd/ramp of the module that holds the working directory
// into dir and returns the binary's path. It fails if the go command does.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "ramp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ramp-flags/ramp/cmd/ramp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/ramp: %w\n%s", err, out)
	}
	return bin, nil
}

// Options says how to start a server.
type Options struct {
	// Bin is the ramp binary. Empty: build one into a temporary directory.
	Bin string
	// DataDir is the data directory. Empty: a new temporary directory,
	// removed by Stop.
	DataDir string
	// AdminToken is the admin token to start with. Empty: a random one.
	AdminToken string
	// CPUs, if set, runs the server under "taskset -c CPUs".
	CPUs string
	// Env is added to the server's environment (GOGC=..., GODEBUG=...).
	Env []string
	// LogLevel is passed as --log-level; empty means warn.
	LogLevel string
	// Log, if set, receives the server's stderr.
	Log io.Writer
}

// Server is a running ramp serve process.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41234.
	URL string
	// AdminToken is the admin token the server accepts.
	AdminToken string
	// DataDir is the data directory.
	DataDir string
	// Bin is the binary that runs.
	Bin string
	// Started is the moment just before the process was executed, and
	// Ready the moment /readyz first answered 200.
	Started, Ready time.Time

	cmd     *exec.Cmd
	tmp     string
	done    chan struct{}
	mu      sync.Mutex
	stderr  strings.Builder
	stopped bool
}

var servingLine = regexp.MustCompile(`serving on (http://\S+)`)

// Start starts ramp serve on 127.0.0.1 with a free port and waits until it
// is ready or ctx ends.
func Start(ctx context.Context, o Options) (*Server, error) {
	s := &Server{done: make(chan struct{}), AdminToken: o.AdminToken, DataDir: o.DataDir, Bin: o.Bin}
	var err error
	if s.Bin == "" || s.DataDir == "" {
		if s.tmp, err = os.MkdirTemp("", "ramp-bench-"); err != nil {
			return nil, err
		}
	}
	if s.Bin == "" {
		if s.Bin, err = Build(ctx, s.tmp); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	if s.DataDir == "" {
		s.DataDir = filepath.Join(s.tmp, "data")
	}
	if s.AdminToken == "" {
		s.AdminToken = RandomToken()
	}
	level := o.LogLevel
	if level == "" {
		level = "warn"
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", s.DataDir, "--admin-token", s.AdminToken, "--log-level", level}
	name := s.Bin
	if o.CPUs != "" {
		args = append([]string{"-c", o.CPUs, s.Bin}, args...)
		name = "taskset"
	}
	s.cmd = exec.Command(name, args...)
	s.cmd.Env = append(os.Environ(), o.Env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.Started = time.Now()
	if err := s.cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			if s.stderr.Len() < 1<<20 {
				s.stderr.WriteString(line + "\n")
			}
			s.mu.Unlock()
			if o.Log != nil {
				fmt.Fprintln(o.Log, line)
			}
			if m := servingLine.FindStringSubmatch(line); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
		_ = s.cmd.Wait()
		close(s.done)
	}()
	select {
	case s.URL = <-urlc:
	case <-s.done:
		s.cleanup()
		return nil, fmt.Errorf("ramp serve exited before serving:\n%s", s.Logs())
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	if s.Ready, err = WaitReady(ctx, s.URL, time.Millisecond); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// WaitReady polls base/readyz every interval until it answers 200 and
// returns that moment. It fails when ctx ends first.
func WaitReady(ctx context.Context, base string, interval time.Duration) (time.Time, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return time.Time{}, err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s/readyz not ready: %w", base, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// PID returns the process ID of ramp serve (of taskset, which execs it,
// when Options.CPUs is set: the same process).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Logs returns what the server wrote to stderr so far (its first MiB).
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// Client returns an admin API client of the server.
func (s *Server) Client() *client.Client { return client.New(s.URL, s.AdminToken) }

// Stop ends the server with SIGINT, waits up to 15 seconds before killing
// it, and removes the temporary directory. It is safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	stopped := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if stopped {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// RandomToken returns a random admin token string.
func RandomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

// SDKToken creates an SDK token for env, as "ramp token create --sdk --env
// ENV" does, and returns its secret.
func SDKToken(ctx context.Context, c *client.Client, env string) (string, error) {
	t, err := c.CreateToken(ctx, client.TokenRequest{Name: "bench-" + env + "-" + strconv.FormatInt(time.Now().UnixNano(), 36), Kind: ramp.TokenSDK, Environment: env})
	if err != nil {
		return "", fmt.Errorf("create SDK token: %w", err)
	}
	return t.Secret, nil
}

// BoolFlag returns a boolean flag with the variants on and off, off by
// default, that serves on to pct percent of users in env.
func BoolFlag(key, env string, pct float64) *ramp.Flag {
	fe := &ramp.FlagEnv{On: true, OffVariant: "off", Fallthrough: ramp.Serve{Variant: "on"}}
	if pct < 100 {
		fe.Fallthrough = ramp.Serve{Split: []ramp.Allocation{{Variant: "on", Percent: pct}, {Variant: "off", Percent: 100 - pct}}}
	}
	return &ramp.Flag{
		Key:            key,
		Name:           key,
		Type:           ramp.TypeBoolean,
		Variants:       []ramp.Variant{{Key: "on", Value: []byte("true")}, {Key: "off", Value: []byte("false")}},
		DefaultVariant: "off",
		Environments:   map[string]*ramp.FlagEnv{env: fe},
	}
}

// EnsureFlag creates f, or replaces the state of f's environments if a flag
// with its key exists.
func EnsureFlag(ctx context.Context, c *client.Client, f *ramp.Flag) error {
	_, err := c.CreateFlag(ctx, f)
	if client.IsConflict(err) {
		for env, fe := range f.Environments {
			if _, err := c.SetEnvironmentState(ctx, f.Key, env, fe); err != nil {
				return fmt.Errorf("update flag %s: %w", f.Key, err)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("create flag %s: %w", f.Key, err)
	}
	return nil
}

// ErrNotLinux is returned by RSS on systems without /proc.
var ErrNotLinux = errors.New("no /proc/PID/status")

// RSS returns the resident set size of the process pid in bytes, from
// VmRSS in /proc/PID/status.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotLinux, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("VmRSS line %q", line)
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
