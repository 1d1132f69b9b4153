package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/hub"
)

// eventsRolloutPoll is how often the events stream reads a watched
// rollout: analyses are not changes, so the change feed does not carry
// them.
const eventsRolloutPoll = 500 * time.Millisecond

// eventsMaxEntries bounds the audit entries one change event lists.
const eventsMaxEntries = 100

func (s *Server) eventRoutes() {
	if s.live == nil {
		return
	}
	s.handle("GET /api/v1/events", accessAdmin, s.events)
}

// changeEvent is the data of an events stream's change event.
type changeEvent struct {
	Seq int64 `json:"seq"`
	// Entries are the audit entries after the previous event, oldest
	// first, without their before and after documents.
	Entries []ramp.AuditEntry `json:"entries"`
	// Truncated says that more entries were committed than listed.
	Truncated bool `json:"truncated,omitempty"`
}

// events streams what an admin screen shows as Server-Sent Events: a
// change event for every change of the flags, with its audit entries, and,
// for ?rollout=ID, the rollout with its latest analysis whenever either
// changes. It follows the change feed through a hub subscription, so that
// it ends with the hub when the server stops.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "rollout")
	if err != nil {
		return err
	}
	ctx := r.Context()
	var rid int64
	env := ""
	if v, ok := q["rollout"]; ok {
		if s.rolloutStore == nil {
			return ramp.Errorf(ramp.ENOTFOUND, "this server runs no rollouts")
		}
		if rid, err = strconv.ParseInt(v, 10, 64); err != nil || rid < 1 {
			return ramp.Errorf(ramp.EBADREQUEST, "rollout=%q is not a rollout id (a positive integer)", v)
		}
		ro, err := s.rolloutStore.GetRollout(ctx, rid)
		if err != nil {
			return err
		}
		env = ro.Environment
	}
	if env == "" {
		envs, err := s.store.ListEnvironments(ctx)
		if err != nil {
			return err
		}
		if len(envs) == 0 {
			return ramp.Errorf(ramp.ENOTFOUND, "there is no environment to follow: create one first")
		}
		env = slices.MinFunc(envs, func(a, b ramp.Environment) int { return cmp.Compare(a.Key, b.Key) }).Key
	}
	seq := s.live.Seq()
	sub, err := s.live.Subscribe(env, seq)
	if err != nil {
		return err
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		b, err := marshal(v)
		if err != nil {
			s.log.Error("encode event", "event", event, "err", err)
			return true
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil
	}
	if !send("ready", struct {
		Seq int64 `json:"seq"`
	}{seq}) {
		return nil
	}

	var lastVersion, lastAnalysis int64
	pollRollout := func() bool {
		if rid == 0 {
			return true
		}
		ro, err := s.rolloutStore.GetRollout(ctx, rid)
		if err != nil {
			return ramp.ErrorCode(err) == ramp.EUNAVAILABLE // try again later
		}
		v := rolloutView{Rollout: ro}
		last, err := s.rolloutStore.ListAnalyses(ctx, rid, 1)
		if err != nil {
			return ctx.Err() == nil
		}
		var aid int64
		if len(last) == 1 {
			v.Latest = &last[0]
			aid = last[0].ID
		}
		if ro.Version == lastVersion && aid == lastAnalysis {
			return true
		}
		lastVersion, lastAnalysis = ro.Version, aid
		return send("rollout", v)
	}
	if !pollRollout() {
		return nil
	}

	wait := s.heartbeat
	if rid != 0 {
		wait = min(wait, eventsRolloutPoll)
	}
	idle := time.Duration(0)
	for {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ev, err := sub.Next(wctx)
		cancel()
		switch {
		case err == nil && ev.Seq <= seq:
			// A snapshot of what the stream has announced: a subscription
			// from the start of the feed begins with one.
		case err == nil:
			idle = 0
			ce, err := s.changesAfter(ctx, seq, ev.Seq)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("events: read audit log", "err", err)
			}
			seq = ev.Seq
			if !send("change", ce) || !pollRollout() {
				return nil
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			if !pollRollout() {
				return nil
			}
			if idle += wait; idle >= s.heartbeat {
				idle = 0
				if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
					return nil
				}
			}
		case errors.Is(err, hub.ErrEnded):
			return nil // the server stops, or the environment was deleted: the client reconnects
		default:
			return nil // the client left
		}
	}
}

// changesAfter lists the audit entries after seq up to upTo, oldest first
// and without their documents.
func (s *Server) changesAfter(ctx context.Context, seq, upTo int64) (changeEvent, error) {
	ce := changeEvent{Seq: upTo, Entries: []ramp.AuditEntry{}}
	entries, err := s.store.ListAudit(ctx, ramp.AuditFilter{Before: upTo + 1, Limit: eventsMaxEntries})
	if err != nil {
		return ce, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.ID <= seq {
			continue
		}
		e.Before, e.After = nil, nil
		ce.Entries = append(ce.Entries, e)
	}
	ce.Truncated = len(entries) == eventsMaxEntries && len(ce.Entries) > 0 && ce.Entries[0].ID > seq+1
	return ce, nil
}
