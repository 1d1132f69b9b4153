package sdk

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults and fixed timings of the client. They follow docs/stream.md:
// the server pings every 15 seconds, so 45 seconds of silence means the
// connection is dead even if the socket does not say so.
const (
	// DefaultStartTimeout is how long New waits for the first snapshot.
	DefaultStartTimeout = 5 * time.Second
	// DefaultPollInterval is how often a client that cannot stream polls.
	DefaultPollInterval = 30 * time.Second
	// IdleTimeout is how long a connection may stay silent (no event, no
	// ping) before the client drops it and reconnects.
	IdleTimeout = 45 * time.Second
	// MinBackoff and MaxBackoff bound the reconnection delay: the ceiling
	// starts at MinBackoff (or the server's retry field), doubles with each
	// failed attempt up to MaxBackoff, and the delay is drawn uniformly
	// from [ceiling/10, ceiling): jitter over the whole window, with a
	// floor that keeps a client out of a tight reconnection loop.
	MinBackoff = 500 * time.Millisecond
	MaxBackoff = 30 * time.Second
	// StreamRetryInterval is how long a client that fell back to polling
	// polls before it tries the stream again.
	StreamRetryInterval = 5 * time.Minute
	// DefaultReportInterval is how often a client reports what Observe
	// counted.
	DefaultReportInterval = 10 * time.Second
	// MinReportInterval is the shortest report interval a client accepts.
	MinReportInterval = 100 * time.Millisecond
	// ReportTimeout bounds each report request, and the last report Close
	// sends.
	ReportTimeout = 10 * time.Second
)

// Config configures a Client. URL and Token are required; every other
// field has a default.
type Config struct {
	// URL is the base URL of the ramp server, for example
	// "https://ramp.example.com". The SDK appends /sdk/v1/stream,
	// /sdk/v1/flags and /sdk/v1/metrics to its path.
	URL string
	// Token is an SDK token (ramp token create --sdk --env ENV), which
	// names the environment, or an admin token together with Environment.
	Token string
	// Environment names the environment to read. It is needed only with
	// an admin token; with an SDK token it must be empty or the token's.
	Environment string
	// CacheFile, if set, is where the client keeps the last good snapshot
	// (written atomically, mode 0600, after each applied change) and what
	// it boots from when the server cannot be reached at start. The file
	// holds the environment document of docs/stream.md, so the answer of
	// GET /sdk/v1/flags saved to a file is a valid cache file.
	CacheFile string
	// StartTimeout bounds how long New waits for the first snapshot.
	// Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// PollInterval is how often the client polls when it cannot stream:
	// at least one second. Zero means DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives connection problems, malformed events and flags that
	// fail to compile. Nil discards.
	Logger *slog.Logger
	// HTTPClient makes the requests. Its Timeout must be zero: the stream
	// is a request that lasts as long as the client; the SDK bounds each
	// request by its own idle timeout instead. Nil means a client with the
	// default transport.
	HTTPClient *http.Client
	// Clock is the source of time for backoff, idle detection, polling,
	// StartTimeout, reporting and the durations Middleware measures. Nil
	// means the system clock; tests inject a fake one.
	Clock Clock
	// ReportInterval is how often the client sends the counts Observe
	// made since its last report to the server (POST /sdk/v1/metrics),
	// where guarded rollouts read them. Zero means DefaultReportInterval;
	// a negative value disables reporting (Observe still counts, for Stats
	// and the sdk/promexport collector). A positive value must be at least
	// MinReportInterval.
	ReportInterval time.Duration
}

// Clock is a source of time and timers. Its methods must be safe for
// concurrent use.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock, like *time.Timer: C delivers
// the time once the duration has passed, unless Stop is called first.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// endpoints are the URLs a client calls, derived from Config once.
type endpoints struct {
	stream  string
	flags   string
	metrics string
}

// check validates cfg and fills in its defaults.
func (cfg *Config) check() (endpoints, error) {
	var ep endpoints
	if cfg.URL == "" {
		return ep, errors.New("sdk: Config.URL is required (the base URL of the ramp server)")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ep, fmt.Errorf("sdk: Config.URL %q is not an http:// or https:// URL", cfg.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return ep, fmt.Errorf("sdk: Config.URL %q must not have a query or a fragment", cfg.URL)
	}
	if cfg.Token == "" {
		return ep, errors.New("sdk: Config.Token is required (create one with: ramp token create --sdk --env ENV)")
	}
	if strings.HasPrefix(cfg.Token, "ramp_admin_") && cfg.Environment == "" {
		return ep, errors.New("sdk: an admin token needs Config.Environment; an SDK token names its environment itself")
	}
	if cfg.StartTimeout < 0 {
		return ep, fmt.Errorf("sdk: Config.StartTimeout %v is negative", cfg.StartTimeout)
	}
	if cfg.PollInterval < 0 || (cfg.PollInterval > 0 && cfg.PollInterval < time.Second) {
		return ep, fmt.Errorf("sdk: Config.PollInterval %v is below one second", cfg.PollInterval)
	}
	if cfg.ReportInterval > 0 && cfg.ReportInterval < MinReportInterval {
		return ep, fmt.Errorf("sdk: Config.ReportInterval %v is below %v; use a negative value to disable reporting", cfg.ReportInterval, MinReportInterval)
	}
	if cfg.HTTPClient != nil && cfg.HTTPClient.Timeout != 0 {
		return ep, errors.New("sdk: Config.HTTPClient must have no Timeout: it would cut the stream; the SDK detects dead connections itself")
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = DefaultReportInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	base := strings.TrimSuffix(u.Path, "/")
	q := ""
	if cfg.Environment != "" {
		q = "?" + url.Values{"environment": {cfg.Environment}}.Encode()
	}
	for _, p := range []struct {
		dst  *string
		path string
	}{{&ep.stream, "/sdk/v1/stream"}, {&ep.flags, "/sdk/v1/flags"}, {&ep.metrics, "/sdk/v1/metrics"}} {
		v := *u
		v.Path = base + p.path
		v.RawPath = ""
		*p.dst = v.String() + q
	}
	return ep, nil
}
