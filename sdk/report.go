package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ramp-flags/ramp"
)

// Reporting policy (docs/sdk.md):
//
//   - Every Config.ReportInterval, from the first observation on (a client
//     that observes nothing starts no timer), the client sends what Observe counted
//     since its last delivered report: POST /sdk/v1/metrics with the
//     deltas per (flag, variant), at most MaxReportEntries entries a
//     request. Pairs with nothing new are left out; a report with nothing
//     to say sends nothing.
//   - Counters are cumulative and the client remembers what it delivered,
//     so a report that fails costs no memory: the next one carries its
//     counts too. Network errors, 5xx, 408 and 429 are retried that way.
//   - Any other answer (400, 401, 403, 404, 413...) would be the same next
//     time: the counts of that request are dropped and the error logged.
//   - Delivery is at least once: a report whose answer was lost (a
//     timeout after the server stored it) is counted again with the next.
//   - Close sends one last report.

// MaxReportEntries is the most (flag, variant) entries one report request
// carries. With the 65 latency buckets an entry takes up to about 1 KB of
// JSON, so a request stays near a quarter of the server's default 1 MiB
// body limit, well below the ramp.MaxCountsEntries it accepts.
const MaxReportEntries = 250

// reportLoop reports every ReportInterval from the first observation
// until Close.
func (c *Client) reportLoop() {
	defer c.wg.Done()
	select {
	case <-c.ctx.Done():
		return
	case <-c.meter.first:
	}
	for c.sleep(c.ctx, c.cfg.ReportInterval) {
		// A report that is under way when Close is called finishes (within
		// ReportTimeout) rather than being cut: cut, the server might store
		// it and the client send it again.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), ReportTimeout)
		_ = c.Flush(ctx)
		cancel()
	}
}

// Flush sends the counts Observe made since the last delivered report to
// the server now, and returns the first error. The counts of a request
// that failed in a way worth retrying stay for the next report. It is safe
// for concurrent use: reports are sent one at a time. Flush sends nothing,
// and returns nil, when there is nothing new to report; it works also with
// reporting disabled.
func (c *Client) Flush(ctx context.Context) error {
	c.reportMu.Lock()
	defer c.reportMu.Unlock()
	var (
		batch []ramp.Counts
		taken []delivery
		first error
	)
	send := func() {
		if len(batch) == 0 {
			return
		}
		err := c.postCounts(ctx, batch)
		if err == nil || !retryable(err) {
			for _, t := range taken {
				t.s.sent = t.upTo
			}
		}
		if err != nil && first == nil {
			first = err
		}
		c.reportDone(len(batch), err)
		batch, taken = batch[:0], taken[:0]
	}
	bounds := ramp.LatencyBounds()
	for _, s := range c.meter.all() {
		d, upTo := s.delta()
		if d == nil {
			continue
		}
		d.Latency.Bounds = bounds
		batch = append(batch, *d)
		taken = append(taken, delivery{s: s, upTo: upTo})
		if len(batch) == MaxReportEntries {
			send()
		}
	}
	send()
	return first
}

// delivery is a series in a report, and its counters once the report is
// delivered.
type delivery struct {
	s    *series
	upTo counters
}

// delta returns what s counted since its last delivered report, and the
// counters it will have delivered with it; nil when there is nothing new.
// Errors are held back where they would exceed the requests (an error
// counted after its request was reported); they go with a later report.
func (s *series) delta() (*ramp.Counts, counters) {
	cur := s.read()
	var d counters
	for i := range cur.buckets {
		d.buckets[i] = cur.buckets[i] - s.sent.buckets[i]
	}
	n := d.requests()
	if n == 0 {
		return nil, s.sent
	}
	errs := min(cur.errors-s.sent.errors, n)
	cur.errors = s.sent.errors + errs
	h := &ramp.Histogram{Counts: make([]float64, ramp.NumLatencyBuckets), Count: float64(n)}
	var cum uint64
	for i := range h.Counts {
		cum += d.buckets[i]
		h.Counts[i] = float64(cum)
	}
	return &ramp.Counts{Flag: s.flag, Variant: s.variant, Requests: float64(n), Errors: float64(errs), Latency: h}, cur
}

// countsReport is the body of POST /sdk/v1/metrics.
type countsReport struct {
	Counts []ramp.Counts `json:"counts"`
}

// postCounts sends one report.
func (c *Client) postCounts(ctx context.Context, counts []ramp.Counts) error {
	body, err := json.Marshal(countsReport{Counts: counts})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ep.metrics, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("User-Agent", "ramp-go-sdk")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil
	}
	return statusError(resp)
}

// retryable reports whether a failed report may succeed if sent again.
func retryable(err error) bool {
	var he *httpError
	if !errors.As(err, &he) {
		return true // the network, or a timeout
	}
	return he.status >= 500 || he.status == http.StatusRequestTimeout || he.status == http.StatusTooManyRequests
}

// reportDone logs the outcome of a report: each failure that drops
// counts, and the first failure and the recovery of a run of retried
// ones.
func (c *Client) reportDone(entries int, err error) {
	switch {
	case err == nil:
		if c.reportFailing {
			c.log.Info("ramp: reporting counts again", "url", c.ep.metrics)
		}
		c.reportFailing = false
	case !retryable(err):
		c.log.Error("ramp: the server refused a report of counts; dropping it", "url", c.ep.metrics, "entries", entries, "err", err)
	case !c.reportFailing:
		c.reportFailing = true
		c.log.Warn("ramp: cannot report counts; keeping them for the next report", "url", c.ep.metrics, "err", err)
	default:
		c.log.Debug("ramp: cannot report counts", "url", c.ep.metrics, "err", err)
	}
}
