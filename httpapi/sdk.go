package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/hub"
)

// Live is the in-memory state of the flags, kept current by the change
// feed: what SDK delivery and OFREP serve.
type Live interface {
	// Env returns the current state of the environment, or nil.
	Env(env string) *hub.State
	// Subscribe starts a stream of the environment's events after lastSeq
	// (0: start with a snapshot).
	Subscribe(env string, lastSeq int64) (*hub.Subscription, error)
	// Seq returns the position of the change feed: it moves on with every
	// committed change, tokens included.
	Seq() int64
}

func (s *Server) sdkRoutes() {
	s.handle("GET /sdk/v1/flags", accessSDK, s.sdkFlags)
	s.handle("GET /sdk/v1/stream", accessSDK, s.sdkStream)
	s.sdkMetricsRoutes()
}

// environmentOf returns the environment a request reads: the SDK token's,
// or for an admin token the one named by the query parameter environment.
func environmentOf(r *http.Request) (string, error) {
	p, _ := PrincipalFromContext(r.Context())
	q := r.URL.Query().Get("environment")
	if p.Kind == ramp.TokenSDK {
		if q != "" && q != p.Environment {
			return "", ramp.Errorf(ramp.EFORBIDDEN, "this SDK token reads environment %q, not %q", p.Environment, q)
		}
		return p.Environment, nil
	}
	if q == "" {
		return "", ramp.Errorf(ramp.EBADREQUEST, "an admin token must name the environment: add ?environment=production (SDK tokens name it themselves)")
	}
	return q, nil
}

// liveEnv returns the live state of the request's environment.
func (s *Server) liveEnv(r *http.Request) (*hub.State, error) {
	env, err := environmentOf(r)
	if err != nil {
		return nil, err
	}
	st := s.live.Env(env)
	if st == nil {
		return nil, ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", env)
	}
	return st, nil
}

// sdkFlags answers the environment document, or 304 if the client has it.
func (s *Server) sdkFlags(w http.ResponseWriter, r *http.Request) error {
	st, err := s.liveEnv(r)
	if err != nil {
		return err
	}
	etag := `"` + strconv.FormatInt(st.Seq, 10) + `"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	doc := st.Document()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	_, _ = w.Write(doc)
	return nil
}

// etagMatch reports whether an If-None-Match header lists etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// sdkStream streams the environment's events as Server-Sent Events until
// the client goes away or the hub ends the subscription.
func (s *Server) sdkStream(w http.ResponseWriter, r *http.Request) error {
	env, err := environmentOf(r)
	if err != nil {
		return err
	}
	var last int64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if last, err = strconv.ParseInt(id, 10, 64); err != nil || last < 0 {
			return ramp.Errorf(ramp.EBADREQUEST, "Last-Event-ID %q is not a sequence number", id)
		}
	}
	sub, err := s.live.Subscribe(env, last)
	if err != nil {
		return err
	}
	defer sub.Close()
	return s.streamEvents(w, r, sub, func(ev hub.Event) []byte {
		return fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, ev.Data)
	})
}

// streamEvents writes the SSE preamble, then each event of sub as format
// renders it, with a keep-alive comment whenever the stream is idle for
// the heartbeat interval. It returns nil when the client or the hub ends
// the stream.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, format func(hub.Event) []byte) error {
	rc := http.NewResponseController(w)
	// Streams outlive the server's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	ctx := r.Context()
	for {
		wait, cancel := context.WithTimeout(ctx, s.heartbeat)
		ev, err := sub.Next(wait)
		cancel()
		var out []byte
		switch {
		case err == nil:
			out = format(ev)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			out = []byte(": ping\n\n")
		default:
			return nil // the client left, or the hub ended the stream
		}
		if _, err := w.Write(out); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
