package httpapi

import (
	"net/http"

	"github.com/ramp-flags/ramp"
)

func (s *Server) healthRoutes() {
	s.handle("GET /healthz", accessOpen, s.healthz)
	s.handle("GET /readyz", accessOpen, s.readyz)
}

// healthz answers while the process serves HTTP at all; it checks nothing
// else, so that a slow database does not get the process restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type migrations struct {
	Current int `json:"current"`
	Latest  int `json:"latest"`
}

type readiness struct {
	Status     string     `json:"status"`
	Migrations migrations `json:"migrations"`
}

// readyz answers 200 when the store is reachable and its schema is the one
// this binary expects, so that a load balancer sends traffic only then.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.Ping(r.Context()); err != nil {
		return &ramp.Error{Code: ramp.EUNAVAILABLE, Message: "the store is not reachable", Err: err}
	}
	current, latest, err := s.store.MigrationStatus(r.Context())
	switch {
	case err != nil:
		return &ramp.Error{Code: ramp.EUNAVAILABLE, Message: "the schema version cannot be read", Err: err}
	case current < latest:
		return ramp.Errorf(ramp.EUNAVAILABLE, "the database schema is at version %d; this server needs version %d", current, latest)
	case current > latest:
		return ramp.Errorf(ramp.EUNAVAILABLE, "the database schema is at version %d, newer than this server's %d; upgrade the server", current, latest)
	}
	return writeJSON(w, http.StatusOK, readiness{Status: "ready", Migrations: migrations{Current: current, Latest: latest}})
}
