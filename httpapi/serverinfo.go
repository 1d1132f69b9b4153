package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Facts describe the server for GET /api/v1/server: what only the process
// that assembled it knows.
type Facts struct {
	// Version is the server binary's version.
	Version string
	// StoreDriver names the store: sqlite or postgres.
	StoreDriver string
	// DataDir is the data directory, whose free space is reported; empty
	// reports none.
	DataDir string
	// PrometheusURL is the Prometheus HTTP API rollouts read, empty when
	// none is configured.
	PrometheusURL string
	// Webhooks is the number of notification targets.
	Webhooks int
	// AlertSeverities are those the Alertmanager receiver rolls back on.
	AlertSeverities []string
}

// prometheusProbeTimeout bounds the reachability probe of GET
// /api/v1/server, so that a Prometheus that does not answer cannot hold
// the request.
const prometheusProbeTimeout = 3 * time.Second

// ServerInfo is the answer of GET /api/v1/server.
type ServerInfo struct {
	Version       string          `json:"version"`
	GoVersion     string          `json:"goVersion"`
	StartedAt     time.Time       `json:"startedAt"`
	UptimeSeconds float64         `json:"uptimeSeconds"`
	Store         StoreInfo       `json:"store"`
	Disk          *DiskInfo       `json:"disk,omitempty"`
	Memory        MemoryInfo      `json:"memory"`
	Prometheus    PrometheusInfo  `json:"prometheus"`
	Sources       []string        `json:"sources"`
	Webhooks      int             `json:"webhooks"`
	AlertReceiver AlertReceiverOf `json:"alertReceiver"`
}

// StoreInfo is the store's driver and schema.
type StoreInfo struct {
	Driver     string     `json:"driver"`
	Migrations migrations `json:"migrations"`
}

// DiskInfo is the space of the file system that holds the data directory.
type DiskInfo struct {
	Path       string `json:"path"`
	FreeBytes  uint64 `json:"freeBytes"`
	TotalBytes uint64 `json:"totalBytes"`
}

// MemoryInfo is the process's memory, and the machine's where known.
type MemoryInfo struct {
	// SysBytes is the memory the Go runtime obtained from the system.
	SysBytes uint64 `json:"sysBytes"`
	// HeapBytes is the live heap.
	HeapBytes  uint64 `json:"heapBytes"`
	Goroutines int    `json:"goroutines"`
	// AvailableBytes and TotalBytes are the machine's, 0 when unknown.
	AvailableBytes uint64 `json:"availableBytes,omitempty"`
	TotalBytes     uint64 `json:"totalBytes,omitempty"`
}

// PrometheusInfo says whether a Prometheus is configured and answers.
type PrometheusInfo struct {
	Configured bool   `json:"configured"`
	URL        string `json:"url,omitempty"`
	Reachable  bool   `json:"reachable"`
	Version    string `json:"version,omitempty"`
	Error      string `json:"error,omitempty"`
}

// AlertReceiverOf describes the Alertmanager receiver.
type AlertReceiverOf struct {
	Path       string   `json:"path"`
	Severities []string `json:"severities"`
}

func (s *Server) serverInfoRoutes() {
	s.handle("GET /api/v1/server", accessAdmin, s.serverInfo)
}

func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	now := s.now()
	info := ServerInfo{
		Version: s.facts.Version, GoVersion: runtime.Version(),
		StartedAt: s.started, UptimeSeconds: now.Sub(s.started).Seconds(),
		Store:    StoreInfo{Driver: s.facts.StoreDriver},
		Sources:  s.sourceNames(),
		Webhooks: s.facts.Webhooks,
		AlertReceiver: AlertReceiverOf{Path: "/api/v1/alerts/alertmanager",
			Severities: slices.Clone(s.facts.AlertSeverities)},
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Sources == nil {
		info.Sources = []string{}
	}
	if len(info.AlertReceiver.Severities) == 0 {
		info.AlertReceiver.Severities = slices.Clone(DefaultAlertSeverities)
	}
	cur, latest, err := s.store.MigrationStatus(r.Context())
	if err != nil {
		return err
	}
	info.Store.Migrations = migrations{Current: cur, Latest: latest}
	if s.facts.DataDir != "" {
		if free, total, err := diskSpace(s.facts.DataDir); err == nil {
			info.Disk = &DiskInfo{Path: s.facts.DataDir, FreeBytes: free, TotalBytes: total}
		} else {
			s.log.Warn("disk space of the data directory", "err", err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	info.Memory = MemoryInfo{SysBytes: ms.Sys, HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine()}
	info.Memory.AvailableBytes, info.Memory.TotalBytes = systemMemory()
	if u := s.facts.PrometheusURL; u != "" {
		info.Prometheus = PrometheusInfo{Configured: true, URL: redactURL(u)}
		ctx, cancel := context.WithTimeout(r.Context(), prometheusProbeTimeout)
		defer cancel()
		v, err := probePrometheus(ctx, u)
		if err != nil {
			info.Prometheus.Error = err.Error()
		} else {
			info.Prometheus.Reachable, info.Prometheus.Version = true, v
		}
	}
	return writeJSON(w, http.StatusOK, info)
}

// redactURL drops a password from a URL, so that credentials never leave
// the server.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// probePrometheus asks Prometheus for its build information and returns
// its version.
func probePrometheus(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/status/buildinfo", nil)
	if err != nil {
		return "", fmt.Errorf("bad Prometheus URL: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // its text repeats the URL, with any password
		}
		return "", fmt.Errorf("no answer from Prometheus at %s: %v", redactURL(base), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the Prometheus at %s answered %s", redactURL(base), resp.Status)
	}
	var bi struct {
		Status string `json:"status"`
		Data   struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &bi); err != nil || bi.Status != "success" {
		return "", fmt.Errorf("%s does not answer like a Prometheus HTTP API", redactURL(base))
	}
	return bi.Data.Version, nil
}
