package httpapi_test

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// TestRouting checks the answers the router gives itself, before any
// handler runs: problem documents for unknown paths and methods, the
// mux's redirects for unclean paths, and path values for the handlers.
func TestRouting(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	api := httpapi.New(httpapi.Config{Store: st})
	serve := func(method, target string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, target, nil)
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w
	}
	problem := "application/problem+json"
	for _, c := range []struct {
		method, target string
		status         int
		contentType    string
		header, value  string // one more header to check
		body           string // a part of the body
	}{
		{"GET", "/no/such/path", 404, problem, "", "", `"type":"urn:ramp:problem:not_found"`},
		{"HEAD", "/no/such/path", 404, problem, "", "", ""},
		{"PUT", "/healthz", 405, problem, "Allow", "GET, HEAD", `"type":"urn:ramp:problem:method_not_allowed"`},
		{"DELETE", "/api/v1/flags", 405, problem, "Allow", "GET, HEAD, POST", "use GET, HEAD, POST"},
		// An unclean path is redirected to its clean form when that is a
		// route, and is not found when it is not.
		{"GET", "/api/v1/../v1/flags?limit=2", 307, "", "Location", "/api/v1/flags?limit=2", ""},
		{"GET", "/api/v1//flags", 307, "", "Location", "/api/v1/flags", ""},
		{"GET", "/x/../nothing", 404, problem, "Location", "", "no route for GET /x/../nothing"},
		{"GET", "/healthz", 200, "", "X-Content-Type-Options", "nosniff", ""},
		// A path value reaches the handler: the flag is looked up by its
		// key, and the token check comes first.
		{"GET", "/api/v1/flags/checkout", 401, problem, "WWW-Authenticate", `Bearer realm="ramp"`, ""},
	} {
		w := serve(c.method, c.target)
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.target, w.Code, c.status, w.Body)
			continue
		}
		if got := w.Header().Get("Content-Type"); c.contentType != "" && got != c.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", c.method, c.target, got, c.contentType)
		}
		if c.header != "" && w.Header().Get(c.header) != c.value {
			t.Errorf("%s %s: %s %q, want %q", c.method, c.target, c.header, w.Header().Get(c.header), c.value)
		}
		if !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s %s: body %s, want it to contain %s", c.method, c.target, w.Body, c.body)
		}
		if c.method == "HEAD" && w.Body.Len() != 0 {
			t.Errorf("%s %s: body %q on HEAD", c.method, c.target, w.Body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q, want no-store", c.method, c.target, w.Header().Get("Cache-Control"))
		}
	}

	// An asterisk request (OPTIONS *) is not a route.
	r := httptest.NewRequest("OPTIONS", "/", nil)
	r.RequestURI, r.URL.Path = "*", "*"
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	if w.Code != 404 || w.Header().Get("Content-Type") != problem || w.Header().Get("Connection") != "" {
		t.Errorf("OPTIONS *: %d %v, want a 404 problem", w.Code, w.Header())
	}
}
