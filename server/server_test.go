package server_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/server"
)

func start(t *testing.T, cfg server.Config) (*server.Server, func()) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return s, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFirstStartToken checks that the first start writes an admin token
// that works, and that later starts keep it.
func TestFirstStartToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := start(t, server.Config{DataDir: dir})
	if s.TokenFile != filepath.Join(dir, server.AdminTokenFile) {
		t.Fatalf("TokenFile = %q", s.TokenFile)
	}
	b, err := os.ReadFile(s.TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", st.Mode().Perm())
	}
	if code := get(t, s.URL()+"/api/v1/flags", token); code != 200 {
		t.Errorf("with the generated token: %d", code)
	}
	if code := get(t, s.URL()+"/api/v1/flags", ""); code != 401 {
		t.Errorf("without a token: %d", code)
	}
	if code := get(t, s.URL()+"/readyz", ""); code != 200 {
		t.Errorf("readyz: %d", code)
	}
	stop()

	s2, stop2 := start(t, server.Config{DataDir: dir})
	defer stop2()
	if s2.TokenFile != "" {
		t.Errorf("second start wrote another token file %q", s2.TokenFile)
	}
	if code := get(t, s2.URL()+"/api/v1/flags", token); code != 200 {
		t.Errorf("the first token after restart: %d", code)
	}
}

// TestBusyPortCreatesNoToken: a start that cannot listen fails before it
// creates the first admin token, so that the start that succeeds creates
// it and says so.
func TestBusyPortCreatesNoToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	if s, err := server.Open(context.Background(), server.Config{DataDir: dir, Addr: ln.Addr().String()}); err == nil {
		s.Close()
		t.Fatal("Open on a busy port succeeded")
	} else if !strings.Contains(err.Error(), "listen") {
		t.Errorf("Open on a busy port: %v; want a listen error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, server.AdminTokenFile)); !os.IsNotExist(err) {
		t.Errorf("the failed start left a token file (stat: %v)", err)
	}
	s, stop := start(t, server.Config{DataDir: dir})
	defer stop()
	if s.TokenFile == "" {
		t.Error("the first start that listens created no admin token")
	}
}

// TestGivenAdminToken checks that --admin-token writes no file and is
// accepted.
func TestGivenAdminToken(t *testing.T) {
	dir := t.TempDir()
	s, stop := start(t, server.Config{DataDir: dir, AdminToken: "given"})
	defer stop()
	if _, err := os.Stat(filepath.Join(dir, server.AdminTokenFile)); !os.IsNotExist(err) {
		t.Errorf("token file written with --admin-token: %v", err)
	}
	if code := get(t, s.URL()+"/api/v1/flags", "given"); code != 200 {
		t.Errorf("given token: %d", code)
	}
	if code := get(t, s.URL()+"/api/v1/flags", "other"); code != 401 {
		t.Errorf("other token: %d", code)
	}
}
