package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// BenchmarkApplyChange measures what a streaming client spends on one
// change event, the cost a kill switch pays in every client: the event's
// data decoded, the flag compiled, the next snapshot published and the
// OnChange callback run. The change flips one boolean flag between 0 %
// and 100 % in an environment of 1 and of 1,000 flags.
//
// Besides the wall time it reports cpu-ns/op, the CPU time of the whole
// process (the callback's goroutine and the garbage collector included)
// per change: what 10,000 clients in one process multiply, and a figure
// that a loaded machine disturbs less than the wall time.
func BenchmarkApplyChange(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			c := benchApplyClient(b)
			flags := []*ramp.Flag{testFlag("kill-switch", 100, "")}
			for i := 1; i < n; i++ {
				flags = append(flags, testFlag(fmt.Sprintf("flag-%d", i), 5, ""))
			}
			snap, err := json.Marshal(document{Environment: "production", Seq: 1, Flags: flags})
			if err != nil {
				b.Fatal(err)
			}
			c.handle(sseEvent{typ: "snapshot", id: "1", data: snap})
			if c.Seq() != 1 {
				b.Fatal("the snapshot was not applied")
			}

			// The change event's data, split around its seq.
			var tmpl [2][2][]byte
			for i, pct := range []float64{0, 100} {
				data, err := json.Marshal(change{Seq: 1 << 40, Flags: []*ramp.Flag{testFlag("kill-switch", pct, "")}})
				if err != nil {
					b.Fatal(err)
				}
				at := len(`{"seq":`)
				tmpl[i] = [2][]byte{data[:at], data[at+len(strconv.FormatInt(1<<40, 10)):]}
			}

			heard := make(chan struct{}, 1)
			c.OnChange(func(ChangeEvent) { heard <- struct{}{} })
			var data []byte
			seq := int64(1)
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				seq++
				t := tmpl[seq%2]
				data = append(strconv.AppendInt(append(data[:0], t[0]...), seq, 10), t[1]...)
				c.handle(sseEvent{typ: "change", id: strconv.FormatInt(seq, 10), data: data})
				<-heard
			}
			if cpu1, _ := processCPU(); cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			if c.Seq() != seq {
				b.Fatalf("seq = %d after the changes, want %d", c.Seq(), seq)
			}
		})
	}
}

// benchApplyClient returns a client that is not connected to any server,
// with its callbacks running: events are fed to it by hand.
func benchApplyClient(b *testing.B) *Client {
	b.Helper()
	c := &Client{
		cfg:       Config{URL: "http://127.0.0.1:1"},
		log:       slog.New(slog.DiscardHandler),
		comp:      compiler{seed: maphash.MakeSeed(), keySeed: 7},
		ready:     make(chan struct{}),
		wake:      make(chan struct{}, 1),
		cacheKick: make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.dispatch()
	b.Cleanup(func() {
		c.cancel()
		c.wg.Wait()
	})
	return c
}

// BenchmarkApplySnapshot measures a client taking a snapshot of an
// environment of 10,000 flags, as it does when it reconnects after a gap
// or is resynchronised: the event decoded, every flag fingerprinted, the
// one flag that changed compiled (the others keep their compiled form),
// the snapshot published. The flags carry what the server writes (times,
// version, salt, a rule and a split).
func BenchmarkApplySnapshot(b *testing.B) {
	c := benchApplyClient(b)
	at := time.Date(2026, 11, 26, 4, 3, 23, 612866000, time.UTC)
	flags := make([]*ramp.Flag, 10000)
	for i := range flags {
		f := testFlag(fmt.Sprintf("flag-%d", i), 5, "")
		f.Environments["production"].Rules = []ramp.Rule{{ID: "staff", Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@example.com"}}}, Serve: ramp.Serve{Variant: "on"}}}
		f.Version, f.CreatedAt, f.UpdatedAt = 3, at, at.Add(time.Duration(i)*time.Second)
		flags[i] = f
	}
	var seq int64
	events := make([][]byte, 2) // alternate, so that each is a change
	for i := range events {
		flags[0].Version = int64(4 + i)
		data, err := json.Marshal(document{Environment: "production", Seq: int64(i + 1), Flags: flags, Segments: []*ramp.Segment{}})
		if err != nil {
			b.Fatal(err)
		}
		events[i] = data
	}
	b.SetBytes(int64(len(events[0])))
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	for b.Loop() {
		seq++
		c.handle(sseEvent{typ: "snapshot", id: strconv.FormatInt(seq, 10), data: events[seq%2]})
	}
	if cpu1, _ := processCPU(); cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
	if s := c.snap.Load(); s == nil || len(s.keys()) != len(flags) {
		b.Fatal("the snapshot was not applied")
	}
}
