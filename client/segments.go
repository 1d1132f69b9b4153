package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ramp-flags/ramp"
)

// ListSegments returns every segment.
func (c *Client) ListSegments(ctx context.Context) ([]*ramp.Segment, error) {
	var out struct {
		Segments []*ramp.Segment `json:"segments"`
	}
	if _, err := c.get(ctx, "/api/v1/segments", nil, &out); err != nil {
		return nil, err
	}
	return out.Segments, nil
}

// GetSegment returns the segment with the key.
func (c *Client) GetSegment(ctx context.Context, key string) (*ramp.Segment, error) {
	return c.sendSegment(ctx, request{method: http.MethodGet, path: segmentPath(key)})
}

// CreateSegment creates s and returns it as stored.
func (c *Client) CreateSegment(ctx context.Context, s *ramp.Segment) (*ramp.Segment, error) {
	return c.sendSegment(ctx, request{method: http.MethodPost, path: "/api/v1/segments", body: s})
}

// UpdateSegment replaces the segment with s. When s.Version is non-zero
// the write only happens if the stored segment still has that version;
// otherwise it fails with a conflict *APIError.
func (c *Client) UpdateSegment(ctx context.Context, s *ramp.Segment) (*ramp.Segment, error) {
	return c.sendSegment(ctx, request{method: http.MethodPut, path: segmentPath(s.Key), body: s, ifVersion: s.Version})
}

// DeleteSegment deletes the segment with the key; it fails with a conflict
// while a flag uses the segment. A non-zero version makes the delete
// conditional on the stored version.
func (c *Client) DeleteSegment(ctx context.Context, key string, version int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: segmentPath(key), ifVersion: version})
	return err
}

func (c *Client) sendSegment(ctx context.Context, r request) (*ramp.Segment, error) {
	var s ramp.Segment
	r.out = &s
	h, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if s.Version == 0 {
		s.Version = versionFromETag(h)
	}
	return &s, nil
}

func segmentPath(key string) string { return "/api/v1/segments/" + url.PathEscape(key) }
