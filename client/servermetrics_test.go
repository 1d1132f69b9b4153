package client_test

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/ramp-flags/ramp/client"
)

func TestServerMetrics(t *testing.T) {
	const text = "# TYPE go_info gauge\ngo_info{version=\"go1.26.8\"} 1\n"
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, text)
	})
	b, err := c.ServerMetrics(t.Context())
	if err != nil || string(b) != text {
		t.Fatalf("ServerMetrics = %q, %v", b, err)
	}

	denied := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"title":"Unauthorized","status":401,"detail":"a valid token is required"}`)
	})
	_, err = denied.ServerMetrics(t.Context())
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("ServerMetrics without a valid token: %v", err)
	}
}
