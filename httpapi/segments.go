package httpapi

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ramp-flags/ramp"
)

func (s *Server) segmentRoutes() {
	s.handle("GET /api/v1/segments", accessAdmin, s.listSegments)
	s.handle("POST /api/v1/segments", accessAdmin, s.createSegment)
	s.handle("GET /api/v1/segments/{key}", accessAdmin, s.getSegment)
	s.handle("PUT /api/v1/segments/{key}", accessAdmin, s.putSegment)
	s.handle("DELETE /api/v1/segments/{key}", accessAdmin, s.deleteSegment)
}

type segmentList struct {
	Segments []*ramp.Segment `json:"segments"`
}

func (s *Server) listSegments(w http.ResponseWriter, r *http.Request) error {
	segs, err := s.store.ListSegments(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, segmentList{Segments: sortedSegments(segs)})
}

func sortedSegments(segs []*ramp.Segment) []*ramp.Segment {
	out := slices.Clone(segs)
	if out == nil {
		out = []*ramp.Segment{}
	}
	slices.SortFunc(out, func(a, b *ramp.Segment) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func writeSegment(w http.ResponseWriter, status int, sg *ramp.Segment) error {
	w.Header().Set("ETag", etag(sg.Version))
	return writeJSON(w, status, sg)
}

func (s *Server) createSegment(w http.ResponseWriter, r *http.Request) error {
	var sg ramp.Segment
	if err := s.decode(w, r, &sg); err != nil {
		return err
	}
	sg.Version, sg.CreatedAt, sg.UpdatedAt = 0, time.Time{}, time.Time{}
	c := change(r)
	c.Action = ramp.ActionSegmentCreate
	created, err := s.store.CreateSegment(r.Context(), c, &sg)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/segments/"+url.PathEscape(created.Key))
	return writeSegment(w, http.StatusCreated, created)
}

func (s *Server) getSegment(w http.ResponseWriter, r *http.Request) error {
	sg, err := s.store.GetSegment(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return writeSegment(w, http.StatusOK, sg)
}

func (s *Server) putSegment(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	var sg ramp.Segment
	if err := s.decode(w, r, &sg); err != nil {
		return err
	}
	switch sg.Key {
	case "":
		sg.Key = key
	case key:
	default:
		return fieldError(fmt.Sprintf("segment %q", key), "key", "is %q but the path names %q; a segment's key cannot change", sg.Key, key)
	}
	v, err := bodyVersion(r, sg.Version)
	if err != nil {
		return err
	}
	c := change(r)
	c.Action = ramp.ActionSegmentUpdate
	c.IfVersion = v
	updated, err := s.store.UpdateSegment(r.Context(), c, key, func(cur *ramp.Segment) error {
		next := sg
		next.Version, next.CreatedAt, next.UpdatedAt = cur.Version, cur.CreatedAt, cur.UpdatedAt
		*cur = next
		return nil
	})
	if err != nil {
		return err
	}
	return writeSegment(w, http.StatusOK, updated)
}

func (s *Server) deleteSegment(w http.ResponseWriter, r *http.Request) error {
	v, err := ifVersion(r)
	if err != nil {
		return err
	}
	c := change(r)
	c.Action = ramp.ActionSegmentDelete
	c.IfVersion = v
	if err := s.store.DeleteSegment(r.Context(), c, r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
