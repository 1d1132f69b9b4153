package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

func boolFlag(key string) *ramp.Flag {
	return &ramp.Flag{
		Key: key, Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
	}
}

// TestConcurrentWriters has 20 writers read-modify-write one flag through
// the API with If-Match, retrying on 409, each adding its own tag. Every
// write must survive: no lost update.
func TestConcurrentWriters(t *testing.T) {
	s := startServer(t, t.TempDir(), "admin")
	c := s.client()
	ctx := context.Background()
	if _, err := c.CreateFlag(ctx, boolFlag("contended")); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	var conflicts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprintf("writer-%02d", i)
			for attempt := 0; attempt < 200; attempt++ {
				f, err := c.GetFlag(ctx, "contended")
				if err != nil {
					errs <- err
					return
				}
				f.Tags = append(f.Tags, tag)
				_, err = c.UpdateFlag(ctx, f) // sends If-Match: "version"
				var apiErr *client.APIError
				if errors.As(err, &apiErr) && apiErr.Status == 409 {
					conflicts.Add(1)
					continue
				}
				if err != nil {
					errs <- err
				}
				return
			}
			errs <- fmt.Errorf("%s gave up after 200 conflicts", tag)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f, err := c.GetFlag(ctx, "contended")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(f.Tags)
	if len(f.Tags) != writers || f.Version != writers+1 {
		t.Fatalf("after %d writers: version %d, tags %v (lost updates)", writers, f.Version, f.Tags)
	}
	t.Logf("%d writers, %d conflicts retried, final version %d", writers, conflicts.Load(), f.Version)
	if conflicts.Load() == 0 {
		t.Log("no conflicts happened: the writers did not overlap this run")
	}
}

// TestDurabilityKill9 kills the server with SIGKILL in the middle of a
// burst of writes. Every write the server acknowledged must be there after
// a restart on the same data directory.
func TestDurabilityKill9(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "admin")
	c := s.client()
	ctx := context.Background()

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("burst-%d-%d", w, i)
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := c.CreateFlag(rctx, boolFlag(key))
				cancel()
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
		}()
	}
	// Let the burst run, then crash the server while writes are in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged before the kill; the burst did not run", len(acked))
	}

	s2 := startServer(t, dir, "admin")
	flags, err := s2.client().ListFlags(ctx, client.FlagFilter{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range flags {
		have[f.Key] = true
	}
	missing := 0
	for _, k := range acked {
		if !have[k] {
			missing++
			t.Errorf("acknowledged write %s is lost", k)
		}
	}
	t.Logf("%d acknowledged writes before kill -9, %d stored after restart, %d missing", len(acked), len(flags), missing)
	audit, err := s2.client().ListAudit(ctx, client.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != len(flags) {
		t.Errorf("%d flags but %d audit rows: a change and its audit row must commit together", len(flags), len(audit))
	}
}
