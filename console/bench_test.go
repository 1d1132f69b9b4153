package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ramp-flags/ramp/console"
	"github.com/ramp-flags/ramp/httpapi"
)

// nopAPI answers every request with 204, so that a benchmark measures the
// console's routing alone.
type nopAPI struct{}

func (nopAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }

func (nopAPI) AuthenticateToken(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{}, nil
}

// BenchmarkRouteToAPI measures what the console in front of the API adds
// to an API request: the evaluation and stream paths, and one that goes
// through the console's mux.
func BenchmarkRouteToAPI(b *testing.B) {
	c := console.New(console.Config{API: nopAPI{}, Sessions: console.NewSessions(console.SessionConfig{})})
	for _, path := range []string{"/ofrep/v1/evaluate/flags/checkout-v2", "/healthz"} {
		b.Run(path, func(b *testing.B) {
			r := httptest.NewRequest("GET", path, nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.ServeHTTP(w, r)
			}
		})
	}
}
