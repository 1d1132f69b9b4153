package main

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp/sdk"
)

// errDemoFailed is the failure of a synthetic request.
var errDemoFailed = errors.New("synthetic failure")

// demoTraffic is the demo's synthetic application: workers that serve
// requests to random users at a steady rate, each evaluating the demo
// flag with the SDK and telling the SDK how the request went.
type demoTraffic struct {
	app  *sdk.Client
	rps  float64
	seed uint64

	// bad makes the canary fail and slow: the injected regression.
	bad atomic.Bool

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	runs   uint64 // times the workers were started, for their seeds
	closed bool

	canary, baseline demoCounters
	// lastOn is when the canary last served a request, in Unix
	// nanoseconds.
	lastOn atomic.Int64
}

type demoCounters struct{ requests, errors atomic.Int64 }

// demoServed is what one variant served.
type demoServed struct{ requests, errors int64 }

// startDemoTraffic starts serving rps requests a second with app.
func startDemoTraffic(app *sdk.Client, rps float64, seed uint64) *demoTraffic {
	t := &demoTraffic{app: app, rps: rps, seed: seed}
	t.restart()
	return t
}

// restart (re)starts the workers, without the regression.
func (t *demoTraffic) restart() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.cancel != nil {
		return
	}
	t.bad.Store(false)
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	for i := range demoWorkers {
		// Each worker draws from its own stream of the seed, so that a
		// seed gives the same users, latencies and failures.
		rng := rand.New(rand.NewPCG(t.seed, t.runs*demoWorkers+uint64(i)))
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.work(ctx, rng, t.rps/demoWorkers)
		}()
	}
	t.runs++
}

// work serves rate requests a second until ctx ends. It paces by the
// clock, not by the ticks, so that a late tick is made up; after a stall
// of more than a second it does not make up more than a second's worth.
func (t *demoTraffic) work(ctx context.Context, rng *rand.Rand, rate float64) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	done := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds()*rate) - done
		if most := int(math.Ceil(rate)); due > most {
			done += due - most
			due = most
		}
		for range due {
			t.serve(ctx, rng)
		}
		done += due
	}
}

// serve is one request of a random user.
func (t *demoTraffic) serve(ctx context.Context, rng *rand.Rand) {
	user := "user-" + strconv.Itoa(rng.IntN(1_000_000))
	d := t.app.BoolDetail(ctx, demoFlag, sdk.EvalContext{TargetingKey: user}, false)
	latency := demoLatencyMedian * math.Exp(demoLatencySigma*rng.NormFloat64())
	failRate := demoErrorRate
	c := &t.baseline
	if d.Variant == demoCanary {
		c = &t.canary
		t.lastOn.Store(time.Now().UnixNano())
		if t.bad.Load() {
			latency *= demoBadSlowdown
			failRate = demoBadErrorRate
		}
	}
	var err error
	if rng.Float64() < failRate {
		err = errDemoFailed
		c.errors.Add(1)
	}
	c.requests.Add(1)
	t.app.Observe(demoFlag, d.Variant, time.Duration(latency*float64(time.Second)), err)
}

// stop stops the workers and waits for them.
func (t *demoTraffic) stop() {
	t.mu.Lock()
	cancel := t.cancel
	t.cancel = nil
	t.mu.Unlock()
	if cancel != nil {
		cancel()
		t.wg.Wait()
	}
}

// close stops the workers and closes the SDK client, which sends its last
// report.
func (t *demoTraffic) close() {
	t.stop()
	t.mu.Lock()
	closed := t.closed
	t.closed = true
	t.mu.Unlock()
	if !closed {
		t.app.Close()
	}
}

// served returns what the canary and the baseline served so far.
func (t *demoTraffic) served() (canary, baseline demoServed) {
	return demoServed{t.canary.requests.Load(), t.canary.errors.Load()},
		demoServed{t.baseline.requests.Load(), t.baseline.errors.Load()}
}

// lastCanary is when the canary last served a request, or zero.
func (t *demoTraffic) lastCanary() time.Time {
	if n := t.lastOn.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// checkOff evaluates the flag for users user-0 to user-(n-1) with the SDK
// until every one of them gets the off variant, for at most wait: the SDK
// hears of the rollback through its stream, a moment after it happened. It
// returns the number of users and how many did not get off at the last
// look (the canary, or the caller's default after an error).
func (t *demoTraffic) checkOff(ctx context.Context, n int, wait time.Duration) (users, notOff int) {
	deadline := time.Now().Add(wait)
	for {
		notOff = 0
		for i := range n {
			d := t.app.BoolDetail(ctx, demoFlag, sdk.EvalContext{TargetingKey: "user-" + strconv.Itoa(i)}, true)
			if d.Variant != "off" || d.Value {
				notOff++
			}
		}
		if notOff == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return n, notOff
		}
		time.Sleep(50 * time.Millisecond)
	}
}
