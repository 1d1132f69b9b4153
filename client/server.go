package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ServerInfo is what GET /api/v1/server says of the server.
type ServerInfo struct {
	Version       string    `json:"version"`
	GoVersion     string    `json:"goVersion"`
	StartedAt     time.Time `json:"startedAt"`
	UptimeSeconds float64   `json:"uptimeSeconds"`
	Store         struct {
		Driver     string `json:"driver"`
		Migrations struct {
			Current int `json:"current"`
			Latest  int `json:"latest"`
		} `json:"migrations"`
	} `json:"store"`
	// Disk is nil when the server cannot measure it.
	Disk *struct {
		Path       string `json:"path"`
		FreeBytes  uint64 `json:"freeBytes"`
		TotalBytes uint64 `json:"totalBytes"`
	} `json:"disk,omitempty"`
	Memory struct {
		SysBytes       uint64 `json:"sysBytes"`
		HeapBytes      uint64 `json:"heapBytes"`
		Goroutines     int    `json:"goroutines"`
		AvailableBytes uint64 `json:"availableBytes,omitempty"`
		TotalBytes     uint64 `json:"totalBytes,omitempty"`
	} `json:"memory"`
	Prometheus struct {
		Configured bool   `json:"configured"`
		URL        string `json:"url,omitempty"`
		Reachable  bool   `json:"reachable"`
		Version    string `json:"version,omitempty"`
		Error      string `json:"error,omitempty"`
	} `json:"prometheus"`
	// Sources are the metric sources rollout plans may name.
	Sources       []string `json:"sources"`
	Webhooks      int      `json:"webhooks"`
	AlertReceiver struct {
		Path       string   `json:"path"`
		Severities []string `json:"severities"`
	} `json:"alertReceiver"`
}

// ServerInfo returns the server's version, uptime, store, disk, memory,
// Prometheus, webhooks and alert receiver.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	var s ServerInfo
	if _, err := c.get(ctx, "/api/v1/server", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// KillSwitchPlan is what the kill switch would do, from RollbackDryRun.
type KillSwitchPlan struct {
	DryRun      bool       `json:"dryRun"`
	Flag        string     `json:"flag"`
	Environment string     `json:"environment"`
	WouldChange bool       `json:"wouldChange"`
	Before      EnvServing `json:"before"`
	After       EnvServing `json:"after"`
	// AbortsRollout is the active rollout the kill switch would abort.
	AbortsRollout *int64   `json:"abortsRollout,omitempty"`
	Actions       []string `json:"actions"`
}

// EnvServing is what a flag serves in one environment.
type EnvServing struct {
	On         bool    `json:"on"`
	Percentage float64 `json:"percentage"`
	Variant    string  `json:"variant,omitempty"`
	OffVariant string  `json:"offVariant"`
}

// RollbackDryRun checks the kill switch of the flag in env without pulling
// it: the server validates the change and says what it would do.
func (c *Client) RollbackDryRun(ctx context.Context, flag, env string) (*KillSwitchPlan, error) {
	var p KillSwitchPlan
	_, err := c.do(ctx, request{method: http.MethodPost,
		path:  "/api/v1/flags/" + url.PathEscape(flag) + "/environments/" + url.PathEscape(env) + "/rollback",
		query: url.Values{"dry_run": {"true"}}, out: &p})
	if err != nil {
		return nil, err
	}
	return &p, nil
}
