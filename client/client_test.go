package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

func newServer(t *testing.T, h http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return client.New(srv.URL, "tok")
}

func TestProblemIsAPIError(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{
  "type": "urn:ramp:problem:invalid",
  "title": "Invalid input",
  "status": 422,
  "detail": "flag \"checkout\" is invalid",
  "errors": [
    {"field": "environments.production.fallthrough.split", "message": "percentages add up to 95; they must add up to 100"},
    {"field": "defaultVariant", "message": "is required"}
  ]
}`)
	})
	_, err := c.CreateFlag(context.Background(), &ramp.Flag{Key: "checkout"})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %T %v, want *client.APIError", err, err)
	}
	if apiErr.Status != 422 || apiErr.Code() != ramp.EINVALID || apiErr.Title != "Invalid input" || len(apiErr.Errors) != 2 {
		t.Errorf("decoded %+v", apiErr)
	}
	want := `flag "checkout" is invalid
  environments.production.fallthrough.split: percentages add up to 95; they must add up to 100
  defaultVariant: is required`
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
}

func TestConflictCarriesCurrentVersion(t *testing.T) {
	var ifMatch string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		ifMatch = r.Header.Get("If-Match")
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"type":"urn:ramp:problem:conflict","title":"Conflict","status":409,"detail":"flag \"f\" has version 5, not 3","currentVersion":5}`)
	})
	_, err := c.UpdateFlag(context.Background(), &ramp.Flag{Key: "f", Version: 3})
	if ifMatch != `"3"` {
		t.Errorf("If-Match %q, want \"3\"", ifMatch)
	}
	if !client.IsConflict(err) || client.IsNotFound(err) {
		t.Errorf("IsConflict(%v) = false", err)
	}
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.CurrentVersion != 5 {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "current version 5") {
		t.Errorf("Error() = %q does not name the current version", err)
	}
}

func TestErrorWithoutProblemDocument(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "upstream connect error\nmore detail")
	})
	err := c.Health(context.Background())
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Code() != ramp.EUNAVAILABLE {
		t.Fatalf("error %#v", err)
	}
	if want := "the server answered 502 Bad Gateway: upstream connect error"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestNotFound(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"type":"urn:ramp:problem:not_found","title":"Not found","status":404,"detail":"flag \"x\" does not exist"}`)
	})
	_, err := c.GetFlag(context.Background(), "x")
	if !client.IsNotFound(err) || err.Error() != `flag "x" does not exist` {
		t.Errorf("error %v", err)
	}
}

func TestConnectionErrorHint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	_, err = client.New(url, "").ListFlags(context.Background(), client.FlagFilter{})
	var ce *client.ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v, want *client.ConnectionError", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"cannot reach the ramp server at " + url, "connection refused",
		"is ramp serve running at " + url + "? set --server or $RAMP_SERVER"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not contain %q", msg, want)
		}
	}
}

func TestCanceledContextIsNotAConnectionError(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.ListFlags(ctx, client.FlagFilter{})
	var ce *client.ConnectionError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ce) {
		t.Errorf("error %v, want the context's error", err)
	}
}

// TestRequests checks method, path, query, headers and body of each call
// against docs/api.md.
func TestRequests(t *testing.T) {
	type seen struct {
		method, path, query, ifMatch, auth, body string
	}
	var got seen
	answer := "{}"
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("If-Match"), r.Header.Get("Authorization"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"9"`)
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		io.WriteString(w, answer)
	})
	ctx := context.Background()
	since := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		call func() error
		want seen
	}{
		{"list flags", func() error {
			_, err := c.ListFlags(ctx, client.FlagFilter{Tag: "a b", Owner: "o", Query: "q"})
			return err
		}, seen{method: "GET", path: "/api/v1/flags", query: "owner=o&q=q&tag=a+b"}},
		{"get flag", func() error {
			f, err := c.GetFlag(ctx, "f")
			if err == nil && f.Version != 9 {
				t.Errorf("version %d, want 9 from the ETag", f.Version)
			}
			return err
		}, seen{method: "GET", path: "/api/v1/flags/f"}},
		{"update flag unconditionally", func() error {
			_, err := c.UpdateFlag(ctx, &ramp.Flag{Key: "f"})
			return err
		}, seen{method: "PUT", path: "/api/v1/flags/f", body: `{"key":"f","type":"","variants":null,"defaultVariant":""}`}},
		{"delete flag", func() error { return c.DeleteFlag(ctx, "f", 2) },
			seen{method: "DELETE", path: "/api/v1/flags/f", ifMatch: `"2"`}},
		{"percentage", func() error {
			_, err := c.SetPercentage(ctx, "f", "production", 12.5, "on")
			return err
		}, seen{method: "POST", path: "/api/v1/flags/f/environments/production/percentage", body: `{"percentage":12.5,"variant":"on"}`}},
		{"rollback", func() error {
			_, err := c.Rollback(ctx, "f", "staging")
			return err
		}, seen{method: "POST", path: "/api/v1/flags/f/environments/staging/rollback"}},
		{"env state", func() error {
			_, err := c.SetEnvironmentState(ctx, "f", "staging", &ramp.FlagEnv{Fallthrough: ramp.Serve{Variant: "off"}})
			return err
		}, seen{method: "PUT", path: "/api/v1/flags/f/environments/staging", body: `{"on":false,"fallthrough":{"variant":"off"}}`}},
		{"status", func() error {
			_, err := c.FlagStatus(ctx, "f")
			return err
		}, seen{method: "GET", path: "/api/v1/flags/f/status"}},
		{"snapshot", func() error {
			_, err := c.Snapshot(ctx, "production")
			return err
		}, seen{method: "GET", path: "/api/v1/environments/production/snapshot"}},
		{"create environment", func() error {
			_, err := c.CreateEnvironment(ctx, ramp.Environment{Key: "qa"})
			return err
		}, seen{method: "POST", path: "/api/v1/environments", body: `{"key":"qa"}`}},
		{"update segment", func() error {
			_, err := c.UpdateSegment(ctx, &ramp.Segment{Key: "s", Version: 4})
			return err
		}, seen{method: "PUT", path: "/api/v1/segments/s", ifMatch: `"4"`, body: `{"key":"s","version":4}`}},
		{"audit", func() error {
			_, err := c.ListAudit(ctx, client.AuditFilter{Flag: "f", Actor: "alice", Since: since, Limit: 5})
			return err
		}, seen{method: "GET", path: "/api/v1/audit", query: "actor=alice&flag=f&limit=5&since=2025-01-31T12%3A00%3A00Z"}},
		{"create token", func() error {
			_, err := c.CreateToken(ctx, client.TokenRequest{Name: "web", Kind: ramp.TokenSDK, Environment: "production"})
			return err
		}, seen{method: "POST", path: "/api/v1/tokens", body: `{"name":"web","kind":"sdk","environment":"production"}`}},
		{"revoke token", func() error { return c.RevokeToken(ctx, "id/1") },
			seen{method: "DELETE", path: "/api/v1/tokens/id%2F1"}},
	}
	for _, tt := range tests {
		got = seen{}
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		tt.want.auth = "Bearer tok"
		if got != tt.want {
			t.Errorf("%s: sent\n%+v\nwant\n%+v", tt.name, got, tt.want)
		}
	}

	answer = `{"token":"ramp_sdk_x","id":"abc","name":"web","kind":"sdk","environment":"production"}`
	tok, err := c.CreateToken(ctx, client.TokenRequest{Name: "web", Kind: ramp.TokenSDK, Environment: "production"})
	if err != nil || tok.Secret != "ramp_sdk_x" || tok.ID != "abc" || tok.Kind != ramp.TokenSDK {
		t.Errorf("token %+v, %v", tok, err)
	}
	b, _ := json.Marshal(tok)
	if !strings.Contains(string(b), `"token":"ramp_sdk_x"`) {
		t.Errorf("token JSON %s lacks the secret", b)
	}
}

// TestTokenWithLineEnd: a token read from a file with its line end is
// sent without it, not refused by net/http as a bad header.
func TestTokenWithLineEnd(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	if _, err := client.New(srv.URL, " tok\n").ServerMetrics(t.Context()); err != nil {
		t.Fatal(err)
	}
	if auth != "Bearer tok" {
		t.Errorf("Authorization %q, want %q", auth, "Bearer tok")
	}
}

func TestBaseURLWithoutScheme(t *testing.T) {
	if got := client.New("localhost:8080/", "").BaseURL(); got != "http://localhost:8080" {
		t.Errorf("BaseURL = %q", got)
	}
}
