package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
)

// AuditFilter selects audit entries in ListAudit. Zero fields do not
// filter.
type AuditFilter struct {
	// Flag selects the entries of one flag, including changes to its
	// environments.
	Flag  string
	Kind  string // flag, segment, environment, token
	Key   string
	Actor string
	Since time.Time
	Until time.Time
	// Before selects entries with an ID below it, to page back in time.
	Before int64
	// Limit caps the number of entries; zero means the server's default
	// (100). The server allows at most 1000.
	Limit int
}

// ListAudit returns the audit entries that match the filter, newest first.
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) ([]ramp.AuditEntry, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("flag", f.Flag)
	set("kind", f.Kind)
	set("key", f.Key)
	set("actor", f.Actor)
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.Before != 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Entries []ramp.AuditEntry `json:"entries"`
	}
	if _, err := c.get(ctx, "/api/v1/audit", q, &out); err != nil {
		return nil, err
	}
	return out.Entries, nil
}
