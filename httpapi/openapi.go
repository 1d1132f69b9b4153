package httpapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openapiYAML describes every route of the API; a test keeps it in step
// with the routes registered.
//
//go:embed openapi.yaml
var openapiYAML []byte

func (s *Server) openapiRoutes() {
	s.handle("GET /api/v1/openapi.yaml", accessAdmin, s.openapi)
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(openapiYAML)))
	_, _ = w.Write(openapiYAML)
	return nil
}
