package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRolloutWatchOnTerminal checks that on a terminal --watch redraws in
// place every refresh, even when nothing changed, with a footer that says
// how to stop.
func TestRolloutWatchOnTerminal(t *testing.T) {
	control, tty := openPTY(t)
	e := newRolloutEnv(t)
	e.ramp(exitOK, "rollout", "start", "checkout", "--template", "standard")

	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := control.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var errOut strings.Builder
	env := map[string]string{"RAMP_SERVER": e.url, "RAMP_TOKEN": "test-token"}
	code := run(ctx, []string{"rollout", "status", "checkout", "--watch", "--refresh", "100ms"}, strings.NewReader(""), tty, &errOut, func(k string) string { return env[k] })
	if code != exitFailure || !strings.Contains(errOut.String(), "it is still running") {
		t.Errorf("exit %d, stderr %s", code, errOut.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if n := strings.Count(got, clearScreen); n >= 2 && strings.Contains(got, "watching every 100ms; Ctrl-C stops") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal did not get at least 2 redraws with a footer:\n%q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
