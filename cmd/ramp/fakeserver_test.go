package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// fakeServer is an in-memory admin API after docs/api.md, enough to test
// the commands without the real server.
type fakeServer struct {
	mu       sync.Mutex
	envs     []ramp.Environment
	flags    map[string]*ramp.Flag
	segments map[string]*ramp.Segment
	audit    []ramp.AuditEntry
	tokens   []ramp.Token
	// writes counts the requests that changed something, by "METHOD path".
	writes []string
	// ifMatch records the If-Match header of every PUT.
	ifMatch []string
}

func newFakeServer(t *testing.T) (*fakeServer, *httptest.Server) {
	t.Helper()
	fs := &fakeServer{
		envs:     []ramp.Environment{{Key: "production"}, {Key: "staging"}},
		flags:    map[string]*ramp.Flag{},
		segments: map[string]*ramp.Segment{},
	}
	srv := httptest.NewServer(fs.handler())
	t.Cleanup(srv.Close)
	return fs, srv
}

// flagEnv returns the flag and the environment the request's path names,
// or answers 404 as the real server does and returns nil.
func (fs *fakeServer) flagEnv(w http.ResponseWriter, r *http.Request) (*ramp.Flag, string) {
	f, env := fs.flags[r.PathValue("key")], r.PathValue("env")
	switch {
	case f == nil:
		problem(w, 404, "not_found", fmt.Sprintf("flag %q does not exist", r.PathValue("key")))
		return nil, ""
	case f.Environments[env] == nil:
		problem(w, 404, "not_found", fmt.Sprintf("environment %q does not exist", env))
		return nil, ""
	}
	return f, env
}

func (fs *fakeServer) envKeys() []string {
	keys := make([]string, len(fs.envs))
	for i, e := range fs.envs {
		keys[i] = e.Key
	}
	return keys
}

func (fs *fakeServer) segKeys() []string {
	var keys []string
	for k := range fs.segments {
		keys = append(keys, k)
	}
	return keys
}

func problem(w http.ResponseWriter, status int, code, detail string, fields ...ramp.FieldError) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "urn:ramp:problem:" + code, "title": http.StatusText(status), "status": status,
		"detail": detail, "errors": fields,
	})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func invalid(w http.ResponseWriter, err error) {
	re := err.(*ramp.Error)
	problem(w, http.StatusUnprocessableEntity, "invalid", re.Message, re.Fields...)
}

func ifMatch(r *http.Request) int64 {
	v, _ := strconv.ParseInt(strings.Trim(r.Header.Get("If-Match"), `"`), 10, 64)
	return v
}

func (fs *fakeServer) handler() http.Handler {
	mux := http.NewServeMux()
	lock := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			if r.Method != http.MethodGet {
				fs.writes = append(fs.writes, r.Method+" "+r.URL.Path)
			}
			switch r.Header.Get("Authorization") {
			case "Bearer test-token":
			case "Bearer sdk-token":
				problem(w, http.StatusForbidden, "forbidden", "sdk tokens cannot use the admin API; use an admin token")
				return
			default:
				problem(w, http.StatusUnauthorized, "unauthorized", "missing or unknown token")
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/environments", lock(func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"environments": fs.envs})
	}))
	mux.HandleFunc("POST /api/v1/environments", lock(func(w http.ResponseWriter, r *http.Request) {
		var e ramp.Environment
		_ = json.NewDecoder(r.Body).Decode(&e)
		if slices.Contains(fs.envKeys(), e.Key) {
			problem(w, 409, "conflict", "environment exists")
			return
		}
		fs.envs = append(fs.envs, e)
		reply(w, 201, e)
	}))
	mux.HandleFunc("GET /api/v1/flags", lock(func(w http.ResponseWriter, r *http.Request) {
		flags := []*ramp.Flag{}
		for _, k := range sortedMapKeys(fs.flags) {
			f := fs.flags[k]
			if tag := r.URL.Query().Get("tag"); tag != "" && !slices.Contains(f.Tags, tag) {
				continue
			}
			flags = append(flags, f)
		}
		reply(w, 200, map[string]any{"flags": flags})
	}))
	mux.HandleFunc("POST /api/v1/flags", lock(func(w http.ResponseWriter, r *http.Request) {
		var f ramp.Flag
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			problem(w, 400, "bad_request", err.Error())
			return
		}
		if fs.flags[f.Key] != nil {
			problem(w, 409, "conflict", fmt.Sprintf("flag %q exists", f.Key))
			return
		}
		f.Normalize(fs.envKeys())
		if err := f.Validate(ramp.Scope{Environments: fs.envKeys(), Segments: fs.segKeys()}); err != nil {
			invalid(w, err)
			return
		}
		if f.Salt == "" {
			f.Salt = "salt-" + f.Key
		}
		f.Version, f.CreatedAt, f.UpdatedAt = 1, time.Now(), time.Now()
		fs.flags[f.Key] = &f
		w.Header().Set("ETag", `"1"`)
		reply(w, 201, &f)
	}))
	mux.HandleFunc("GET /api/v1/flags/{key}", lock(func(w http.ResponseWriter, r *http.Request) {
		f := fs.flags[r.PathValue("key")]
		if f == nil {
			problem(w, 404, "not_found", fmt.Sprintf("flag %q does not exist", r.PathValue("key")))
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, f.Version))
		reply(w, 200, f)
	}))
	mux.HandleFunc("PUT /api/v1/flags/{key}", lock(func(w http.ResponseWriter, r *http.Request) {
		fs.ifMatch = append(fs.ifMatch, r.Header.Get("If-Match"))
		cur := fs.flags[r.PathValue("key")]
		if cur == nil {
			problem(w, 404, "not_found", "no such flag")
			return
		}
		if v := ifMatch(r); v != 0 && v != cur.Version {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(409)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:ramp:problem:conflict", "status": 409,
				"detail": "the flag changed", "currentVersion": cur.Version})
			return
		}
		var f ramp.Flag
		_ = json.NewDecoder(r.Body).Decode(&f)
		f.Normalize(fs.envKeys())
		if err := f.Validate(ramp.Scope{Environments: fs.envKeys(), Segments: fs.segKeys()}); err != nil {
			invalid(w, err)
			return
		}
		if f.Salt == "" {
			f.Salt = cur.Salt
		}
		f.Version, f.CreatedAt, f.UpdatedAt = cur.Version+1, cur.CreatedAt, time.Now()
		fs.flags[f.Key] = &f
		reply(w, 200, &f)
	}))
	mux.HandleFunc("DELETE /api/v1/flags/{key}", lock(func(w http.ResponseWriter, r *http.Request) {
		if fs.flags[r.PathValue("key")] == nil {
			problem(w, 404, "not_found", "no such flag")
			return
		}
		delete(fs.flags, r.PathValue("key"))
		w.WriteHeader(204)
	}))
	mux.HandleFunc("POST /api/v1/flags/{key}/environments/{env}/percentage", lock(func(w http.ResponseWriter, r *http.Request) {
		f, env := fs.flagEnv(w, r)
		if f == nil {
			return
		}
		var body struct {
			Percentage float64 `json:"percentage"`
			Variant    string  `json:"variant"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Variant == "" {
			body.Variant = "on"
		}
		fe := f.Environments[env]
		fe.On = true
		fe.Fallthrough = ramp.Serve{Split: []ramp.Allocation{
			{Variant: body.Variant, Percent: body.Percentage},
			{Variant: f.OffVariantKey(env), Percent: 100 - body.Percentage},
		}}
		f.Version++
		reply(w, 200, f)
	}))
	mux.HandleFunc("POST /api/v1/flags/{key}/environments/{env}/rollback", lock(func(w http.ResponseWriter, r *http.Request) {
		f, env := fs.flagEnv(w, r)
		if f == nil {
			return
		}
		f.Environments[env].On = false
		f.Version++
		reply(w, 200, f)
	}))
	mux.HandleFunc("GET /api/v1/flags/{key}/status", lock(func(w http.ResponseWriter, r *http.Request) {
		f := fs.flags[r.PathValue("key")]
		if f == nil {
			problem(w, 404, "not_found", "no such flag")
			return
		}
		envs := []map[string]any{}
		for _, env := range envKeys(f) {
			fe := f.Environments[env]
			envs = append(envs, map[string]any{"environment": env, "on": fe.On, "percentage": f.Percentage(env),
				"variant": f.RolledOut(env), "offVariant": f.OffVariantKey(env), "rules": len(fe.Rules)})
		}
		reply(w, 200, map[string]any{"key": f.Key, "version": f.Version, "environments": envs})
	}))
	mux.HandleFunc("GET /api/v1/segments", lock(func(w http.ResponseWriter, r *http.Request) {
		segs := []*ramp.Segment{}
		for _, k := range sortedMapKeys(fs.segments) {
			segs = append(segs, fs.segments[k])
		}
		reply(w, 200, map[string]any{"segments": segs})
	}))
	mux.HandleFunc("POST /api/v1/segments", lock(func(w http.ResponseWriter, r *http.Request) {
		var s ramp.Segment
		_ = json.NewDecoder(r.Body).Decode(&s)
		if err := s.Validate(); err != nil {
			invalid(w, err)
			return
		}
		s.Version = 1
		fs.segments[s.Key] = &s
		reply(w, 201, &s)
	}))
	mux.HandleFunc("GET /api/v1/segments/{key}", lock(func(w http.ResponseWriter, r *http.Request) {
		s := fs.segments[r.PathValue("key")]
		if s == nil {
			problem(w, 404, "not_found", "no such segment")
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, s.Version))
		reply(w, 200, s)
	}))
	mux.HandleFunc("PUT /api/v1/segments/{key}", lock(func(w http.ResponseWriter, r *http.Request) {
		fs.ifMatch = append(fs.ifMatch, r.Header.Get("If-Match"))
		cur := fs.segments[r.PathValue("key")]
		if cur == nil {
			problem(w, 404, "not_found", "no such segment")
			return
		}
		var s ramp.Segment
		_ = json.NewDecoder(r.Body).Decode(&s)
		s.Version = cur.Version + 1
		fs.segments[s.Key] = &s
		reply(w, 200, &s)
	}))
	mux.HandleFunc("GET /api/v1/environments/{env}/snapshot", lock(func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		if !slices.Contains(fs.envKeys(), env) {
			problem(w, 404, "not_found", fmt.Sprintf("environment %q does not exist", env))
			return
		}
		flags, segs := []*ramp.Flag{}, []*ramp.Segment{}
		for _, k := range sortedMapKeys(fs.flags) {
			flags = append(flags, fs.flags[k])
		}
		for _, k := range sortedMapKeys(fs.segments) {
			segs = append(segs, fs.segments[k])
		}
		reply(w, 200, map[string]any{"environment": env, "flags": flags, "segments": segs})
	}))
	mux.HandleFunc("POST /api/v1/tokens", lock(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		_ = json.NewDecoder(r.Body).Decode(&req)
		reply(w, 201, map[string]any{"token": "ramp_" + req["kind"] + "_secret", "id": "tok1",
			"name": req["name"], "kind": req["kind"], "environment": req["environment"]})
	}))
	mux.HandleFunc("GET /api/v1/tokens", lock(func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"tokens": nonNil(fs.tokens)})
	}))
	mux.HandleFunc("GET /api/v1/audit", lock(func(w http.ResponseWriter, r *http.Request) {
		entries := []ramp.AuditEntry{}
		for _, e := range fs.audit {
			if f := r.URL.Query().Get("flag"); f != "" && e.Key != f {
				continue
			}
			entries = append(entries, e)
		}
		reply(w, 200, map[string]any{"entries": entries})
	}))
	return mux
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
