package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zeebo/xxh3"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
	"github.com/ramp-flags/ramp/hub"
)

// OFREP, the OpenFeature Remote Evaluation Protocol, lets any OpenFeature
// SDK evaluate ramp's flags through its stock OFREP provider. docs/ofrep.md
// is the contract; this file implements it:
//
//   - POST /ofrep/v1/evaluate/flags/{key}: one flag, for server-side
//     (dynamic context) providers. This is the hot path: it reads only the
//     live state and answers from a response fragment encoded once per
//     precomputed evaluation result.
//   - POST /ofrep/v1/evaluate/flags: every flag, for client-side (static
//     context) providers, with an ETag and 304, and the eventStreams of
//     OFREP 0.3 (ADR-0008) pointing at GET /ofrep/v1/events.
//   - GET /ofrep/v1/configuration: what the server supports.
//   - GET /ofrep/v1/events: Server-Sent Events that tell a client-side
//     provider to fetch the bulk evaluation again.
//
// Statuses the OFREP specification gives a body (400, 404, 500) carry
// OFREP's bodies; the others (401, 403, 405, 413, 503) are problem
// documents like the rest of the API.

// OFREP constants.
const (
	// ofrepMinPollInterval is the shortest polling interval the
	// configuration endpoint allows providers; a 304 costs little.
	ofrepMinPollInterval = time.Second
	// ofrepCacheLimit bounds the number of encoded results kept. Results
	// belong to compiled flags, and every change compiles new ones, so the
	// cache is emptied when it reaches the limit rather than growing with
	// each change; it refills on demand.
	ofrepCacheLimit = 1 << 16
	// ofrepMaxPooledBuffer is the largest buffer returned to the pool, so
	// that one huge bulk answer does not stay in memory.
	ofrepMaxPooledBuffer = 1 << 20
	// ofrepTicketAdmin is the ticket id of the admin token configured with
	// Config.AdminTokenHash, which has no stored id. Stored ids are 16
	// characters long, so it cannot clash with one.
	ofrepTicketAdmin = "admin"
)

// ofrepSupportedTypes are the OpenFeature types ramp's flags can resolve:
// number flags serve both int and float getters.
var ofrepSupportedTypes = []string{"boolean", "string", "int", "float", "object"}

// ofrep serves the OFREP routes. It is safe for concurrent use.
type ofrep struct {
	s *Server
	// results maps an *eval.Result, shared by every evaluation that gives
	// it, to its *ofrepEntry.
	results sync.Map
	cached  atomic.Int64
	// evaluations counts evaluations by flag, variant and reason; nil
	// without a Registerer.
	evaluations *prometheus.CounterVec
	// config is the configuration document and configETag its ETag.
	config     []byte
	configETag string
	// streams serves the refresh streams.
	streams *streamer
}

// ofrepEntry is one evaluation result, encoded.
type ofrepEntry struct {
	// ok is true for a success, false for an evaluation failure.
	ok bool
	// body of a success is the response object up to the metadata's last
	// member, which is the sequence number appended per request:
	// {"key":..,"value":..,"reason":..,"variant":..,"metadata":{"ruleId":..,"version":N,
	// The body of a failure is the whole object: {"key":..,"errorCode":..,"errorDetails":..}.
	body []byte
	// counter counts the result's evaluations; nil without metrics.
	counter prometheus.Counter
}

// ofrepError is a failure rendered in OFREP's shape: status 400 with
// {"key","errorCode","errorDetails"}, 404 with FLAG_NOT_FOUND, or 500 with
// only errorDetails. Key is empty for the bulk endpoint.
type ofrepError struct {
	status  int
	key     string
	code    eval.ErrorCode
	details string
}

func (e *ofrepError) Error() string { return string(e.code) + ": " + e.details }

// ofrepRequest is the body of both evaluation endpoints.
type ofrepRequest struct {
	Context map[string]any `json:"context"`
}

// ofrepBuffer holds a request body, then the response, and the map the
// context is decoded into. They are pooled so that the hot path does not
// allocate them.
type ofrepBuffer struct {
	b     []byte
	attrs map[string]any
	req   ofrepRequest
}

// ofrepMaxPooledAttrs is the most attributes a pooled map keeps room for.
const ofrepMaxPooledAttrs = 64

var ofrepBuffers = sync.Pool{New: func() any {
	return &ofrepBuffer{b: make([]byte, 0, 1024), attrs: make(map[string]any, 8)}
}}

func getBuffer() *ofrepBuffer { return ofrepBuffers.Get().(*ofrepBuffer) }

func putBuffer(b *ofrepBuffer) {
	if cap(b.b) > ofrepMaxPooledBuffer || len(b.attrs) > ofrepMaxPooledAttrs {
		return
	}
	b.b = b.b[:0]
	clear(b.attrs)
	b.req = ofrepRequest{}
	ofrepBuffers.Put(b)
}

// readAll appends what r holds to b, like io.ReadAll.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// ofrepRoutes registers the OFREP routes and, if reg is not nil, their
// metrics: ramp_evaluations_total and ramp_ofrep_request_duration_seconds.
func (s *Server) ofrepRoutes(reg prometheus.Registerer) {
	o := &ofrep{s: s, streams: newStreamer(s.heartbeat)}
	o.config, o.configETag = ofrepConfiguration()
	var durations *prometheus.HistogramVec
	if reg != nil {
		o.evaluations = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ramp_evaluations_total",
			Help: "Flag evaluations served over OFREP, by flag, variant and reason (ERROR with an empty variant for failures).",
		}, []string{"flag", "variant", "reason"}))
		durations = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ramp_ofrep_request_duration_seconds",
			Help:    "Time to answer an OFREP request, authentication included, by endpoint.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"endpoint"}))
	}
	timed := func(pattern string, a access, endpoint string, h handlerFunc) {
		if durations == nil {
			s.handle(pattern, a, h)
			return
		}
		s.patterns = append(s.patterns, pattern)
		inner := s.wrap(a, h)
		obs := durations.WithLabelValues(endpoint)
		s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			inner.ServeHTTP(w, r)
			obs.Observe(time.Since(start).Seconds())
		}))
	}
	timed("POST /ofrep/v1/evaluate/flags/{key}", accessSDK, "evaluate_flag", o.failures(o.evaluateFlag))
	timed("POST /ofrep/v1/evaluate/flags", accessSDK, "evaluate_flags", o.failures(o.evaluateFlags))
	timed("GET /ofrep/v1/configuration", accessSDK, "configuration", o.configuration)
	// The events route checks its own credentials: browsers' EventSource
	// cannot send headers, so it also accepts the ticket in its URL.
	s.handle("GET /ofrep/v1/events", accessOpen, o.events)
}

// register registers c with reg, or returns the collector already
// registered under its name, so that two servers may share a registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("httpapi: register OFREP metrics: " + err.Error())
	}
	return c
}

// ofrepConfiguration returns the configuration document and its ETag.
func ofrepConfiguration() ([]byte, string) {
	type polling struct {
		Enabled              bool  `json:"enabled"`
		MinPollingIntervalMs int64 `json:"minPollingIntervalMs"`
	}
	var doc struct {
		Name         string `json:"name"`
		Capabilities struct {
			CacheInvalidation struct {
				Polling polling `json:"polling"`
			} `json:"cacheInvalidation"`
			FlagEvaluation struct {
				SupportedTypes []string `json:"supportedTypes"`
			} `json:"flagEvaluation"`
			// Caching is off: a provider that cached single evaluations
			// would delay the kill switch.
			Caching struct {
				Enabled bool `json:"enabled"`
			} `json:"caching"`
		} `json:"capabilities"`
	}
	doc.Name = "ramp"
	doc.Capabilities.CacheInvalidation.Polling = polling{Enabled: true, MinPollingIntervalMs: ofrepMinPollInterval.Milliseconds()}
	doc.Capabilities.FlagEvaluation.SupportedTypes = ofrepSupportedTypes
	b, err := marshal(doc)
	if err != nil {
		panic("httpapi: encode OFREP configuration: " + err.Error())
	}
	return b, `"` + strconv.FormatUint(xxh3.Hash(b), 16) + `"`
}

// failures renders the errors of an evaluation handler that OFREP gives a
// body to in OFREP's shape, and passes the others on to the problem
// renderer.
func (o *ofrep) failures(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err == nil || wroteHeader(w) {
			return err
		}
		var oe *ofrepError
		if !errors.As(err, &oe) {
			key := r.PathValue("key")
			switch ramp.ErrorCode(err) {
			case ramp.EBADREQUEST, ramp.ENOTFOUND:
				// An admin token without an environment, or an environment
				// that does not exist: no flag can be evaluated.
				oe = &ofrepError{status: http.StatusBadRequest, key: key, code: eval.ErrGeneral, details: ramp.ErrorMessage(err)}
			case ramp.EINTERNAL:
				o.s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", http.StatusInternalServerError), slog.String("error", err.Error()))
				oe = &ofrepError{status: http.StatusInternalServerError, details: "internal error"}
			default:
				return err // 401, 403, 413, 503: problem documents
			}
		}
		buf := getBuffer()
		defer putBuffer(buf)
		b := append(buf.b[:0], '{')
		if oe.status != http.StatusInternalServerError {
			b = append(b, `"key":`...)
			b = appendJSONString(b, oe.key)
			b = append(b, `,"errorCode":`...)
			b = appendJSONString(b, string(oe.code))
			b = append(b, ',')
		}
		b = append(b, `"errorDetails":`...)
		b = appendJSONString(b, oe.details)
		b = append(b, "}\n"...)
		writeOFREP(w, oe.status, b)
		buf.b = b
		return nil
	}
}

// jsonContentType is the Content-Type header of OFREP answers, shared so
// that setting it does not allocate; net/http does not modify it.
var jsonContentType = []string{"application/json"}

// writeOFREP writes an OFREP JSON body with the status. A body that fits
// net/http's buffer gets its Content-Length from net/http, which saves
// formatting it on the hot path.
func writeOFREP(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if len(body) > 2048 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readRequest reads an evaluation request into buf. An empty body is an
// empty context (the specification makes the body optional). It returns
// the context and the body's bytes, for the bulk ETag, both valid until
// buf goes back to the pool.
func (o *ofrep) readRequest(w http.ResponseWriter, r *http.Request, buf *ofrepBuffer, key string) (eval.Context, []byte, error) {
	var body io.Reader = r.Body
	if r.ContentLength < 0 || r.ContentLength > o.s.maxBody {
		// Without a Content-Length within the limit, which net/http
		// enforces, the limit needs a reader of its own.
		body = http.MaxBytesReader(w, r.Body, o.s.maxBody)
	}
	var err error
	buf.b, err = readAll(body, buf.b[:0])
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return eval.Context{}, nil, o.s.tooLarge()
		}
		return eval.Context{}, nil, ramp.Errorf(ramp.EBADREQUEST, "read body: %v", err)
	}
	raw := bytes.TrimSpace(buf.b)
	if len(raw) == 0 {
		return eval.Context{}, raw, nil
	}
	// Decoding into the pooled map spares making and growing one. The
	// evaluation does not keep the context.
	if tk, ok := scanContext(raw, buf.attrs); ok {
		return eval.Context{TargetingKey: tk, Attributes: buf.attrs}, raw, nil
	}
	clear(buf.attrs)
	req := &buf.req
	req.Context = buf.attrs
	if err := json.Unmarshal(raw, req); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return eval.Context{}, nil, &ofrepError{status: http.StatusBadRequest, key: key, code: eval.ErrInvalidContext,
				details: "context must be a JSON object, not " + jsonValue(typ.Value)}
		}
		details := "body must be a JSON object such as {\"context\":{\"targetingKey\":\"user-1\"}}"
		var syntax *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syntax) && syntax.Offset >= int64(len(raw)):
			details = "body is not valid JSON: it ends before the value is complete"
		case errors.As(err, &syntax):
			details = "body is not valid JSON at offset " + strconv.FormatInt(syntax.Offset, 10) + ": " + syntax.Error()
		}
		return eval.Context{}, nil, &ofrepError{status: http.StatusBadRequest, key: key, code: eval.ErrParse, details: details}
	}
	ctx := eval.Context{Attributes: req.Context}
	if v, ok := req.Context[ramp.AttrTargetingKey]; ok {
		switch tk := v.(type) {
		case string:
			ctx.TargetingKey = tk
		case nil:
			// JSON's "no value": no targeting key.
		default:
			return eval.Context{}, nil, &ofrepError{status: http.StatusBadRequest, key: key, code: eval.ErrInvalidContext,
				details: "context.targetingKey must be a string, not " + jsonKindOf(v)}
		}
		delete(req.Context, ramp.AttrTargetingKey)
	}
	return ctx, raw, nil
}

// jsonKindOf names the JSON kind of a decoded value.
func jsonKindOf(v any) string {
	switch v.(type) {
	case float64:
		return "a number"
	case bool:
		return "true or false"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a JSON value"
}

// evaluateFlag answers POST /ofrep/v1/evaluate/flags/{key}.
func (o *ofrep) evaluateFlag(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	st, err := o.s.liveEnv(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	ctx, _, err := o.readRequest(w, r, buf, key)
	if err != nil {
		return err
	}
	f := st.Eval.Flag(key)
	if f == nil {
		return &ofrepError{status: http.StatusNotFound, key: key, code: eval.ErrFlagNotFound,
			details: "flag " + strconv.Quote(key) + " does not exist"}
	}
	e := o.entry(st, f.Evaluate(&ctx))
	if e.counter != nil {
		e.counter.Inc()
	}
	b := o.appendEntry(buf.b[:0], e, st.Seq)
	b = append(b, '\n')
	status := http.StatusOK
	if !e.ok {
		status = http.StatusBadRequest
	}
	writeOFREP(w, status, b)
	buf.b = b
	return nil
}

// appendEntry appends the encoded result e served at seq.
func (o *ofrep) appendEntry(b []byte, e *ofrepEntry, seq int64) []byte {
	b = append(b, e.body...)
	if e.ok {
		b = append(b, `"seq":`...)
		b = strconv.AppendInt(b, seq, 10)
		b = append(b, "}}"...)
	}
	return b
}

// entry returns the encoded form of res, a result of a flag of st, from
// the cache or encoding it now.
func (o *ofrep) entry(st *hub.State, res *eval.Result) *ofrepEntry {
	if e, ok := o.results.Load(res); ok {
		return e.(*ofrepEntry)
	}
	e := &ofrepEntry{ok: res.ErrorCode == ""}
	var b []byte
	b = append(b, `{"key":`...)
	b = appendJSONString(b, res.FlagKey)
	if e.ok {
		value, err := json.Marshal(res.Value)
		if err != nil { // values come from JSON and always encode
			value = []byte("null")
		}
		b = append(b, `,"value":`...)
		b = append(b, value...)
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, string(res.Reason))
		b = append(b, `,"variant":`...)
		b = appendJSONString(b, res.Variant)
		b = append(b, `,"metadata":{`...)
		if res.RuleID != "" {
			b = append(b, `"ruleId":`...)
			b = appendJSONString(b, res.RuleID)
			b = append(b, ',')
		}
		if f := st.Flag(res.FlagKey); f != nil {
			b = append(b, `"version":`...)
			b = strconv.AppendInt(b, f.Version, 10)
			b = append(b, ',')
		}
	} else {
		b = append(b, `,"errorCode":`...)
		b = appendJSONString(b, string(res.ErrorCode))
		b = append(b, `,"errorDetails":`...)
		b = appendJSONString(b, res.ErrorMessage)
		b = append(b, '}')
	}
	e.body = b
	if o.evaluations != nil {
		e.counter = o.evaluations.WithLabelValues(res.FlagKey, res.Variant, string(res.Reason))
	}
	if o.cached.Add(1) > ofrepCacheLimit {
		o.results.Clear()
		o.cached.Store(0)
	}
	if prev, loaded := o.results.LoadOrStore(res, e); loaded {
		return prev.(*ofrepEntry)
	}
	return e
}

// evaluateFlags answers POST /ofrep/v1/evaluate/flags: every flag of the
// environment for the context.
//
// The ETag is "<seq>-<hash>", the hash covering the environment and the
// request body, because the answer depends on the context as much as on
// the flags: a client whose context changed must not get a 304.
func (o *ofrep) evaluateFlags(w http.ResponseWriter, r *http.Request) error {
	st, err := o.s.liveEnv(r)
	if err != nil {
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	ctx, raw, err := o.readRequest(w, r, buf, "")
	if err != nil {
		return err
	}
	d := xxh3.New()
	_, _ = d.WriteString(st.Environment)
	_, _ = d.Write([]byte{0})
	_, _ = d.Write(raw)
	etag := `"` + strconv.FormatInt(st.Seq, 10) + "-" + strconv.FormatUint(d.Sum64(), 16) + `"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}

	b := append(buf.b[:0], `{"flags":[`...)
	for i, key := range st.Eval.Keys() {
		if i > 0 {
			b = append(b, ',')
		}
		e := o.entry(st, st.Eval.Flag(key).Evaluate(&ctx))
		if e.counter != nil {
			e.counter.Inc()
		}
		b = o.appendEntry(b, e, st.Seq)
	}
	b = append(b, `],"eventStreams":[{"type":"sse","endpoint":{"requestUri":`...)
	b = appendJSONString(b, o.eventsURI(r, st.Environment))
	b = append(b, `}}],"metadata":{"environment":`...)
	b = appendJSONString(b, st.Environment)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, st.Seq, 10)
	b = append(b, "}}\n"...)
	writeOFREP(w, http.StatusOK, b)
	buf.b = b
	return nil
}

// configuration answers GET /ofrep/v1/configuration.
func (o *ofrep) configuration(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("ETag", o.configETag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, o.configETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeOFREP(w, http.StatusOK, o.config)
	return nil
}

// eventsURI returns the request URI of the refresh stream for the
// request's credentials and environment. It carries a ticket, because
// browsers' EventSource cannot send an Authorization header: an HMAC of
// the environment keyed with the token's stored hash, so that it proves
// the token without revealing it, grants nothing but the stream, and stops
// working when the token is revoked. It is stable, so that providers
// keep their connection across fetches.
func (o *ofrep) eventsURI(r *http.Request, env string) string {
	uri := "/ofrep/v1/events?environment=" + url.QueryEscape(env)
	tok, err := tokenOf(r)
	if err != nil {
		return uri // unreachable: the request was authenticated
	}
	id, hash, ok := ramp.ParseToken(tok)
	if !ok {
		// The configured admin token.
		sum := sha256.Sum256([]byte(tok))
		id, hash = ofrepTicketAdmin, sum[:]
	}
	return uri + "&ticket=" + id + "." + ticketMAC(hash, env)
}

// ticketMAC returns the MAC of an events ticket for env under the token
// hash key.
func ticketMAC(key []byte, env string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ramp ofrep events\x00"))
	m.Write([]byte(env))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// eventsEnvironment authenticates a request to the refresh stream, by
// token header like every route or by the ticket of its URL, and returns
// the environment it may follow.
func (o *ofrep) eventsEnvironment(r *http.Request) (string, error) {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != "" {
		p, err := o.s.authenticate(r)
		if err != nil {
			return "", err
		}
		return environmentOf(r.WithContext(WithPrincipal(r.Context(), p)))
	}
	q := r.URL.Query()
	ticket, env := q.Get("ticket"), q.Get("environment")
	if ticket == "" {
		return "", ramp.Errorf(ramp.EUNAUTHORIZED, "a token is required: send \"Authorization: Bearer <token>\", or use the URL of eventStreams in a bulk evaluation answer")
	}
	bad := ramp.Errorf(ramp.EUNAUTHORIZED, "the ticket is not valid for environment %q, or its token was revoked; fetch the bulk evaluation again for a new URL", env)
	id, mac, ok := strings.Cut(ticket, ".")
	if !ok || env == "" {
		return "", bad
	}
	var key []byte
	if id == ofrepTicketAdmin {
		key = o.s.adminHash
	} else {
		t, err := o.s.store.GetToken(r.Context(), id)
		switch {
		case ramp.ErrorCode(err) == ramp.ENOTFOUND:
			return "", bad
		case err != nil:
			return "", err
		case t.Kind == ramp.TokenSDK && t.Environment != env:
			return "", bad
		}
		key = t.Hash
	}
	if key == nil || !hmac.Equal([]byte(mac), []byte(ticketMAC(key, env))) {
		return "", bad
	}
	return env, nil
}

// events streams GET /ofrep/v1/events: a refetchEvaluation message for
// every change to the environment, and first one when the connection
// opens without a Last-Event-ID that is current, so that a change between
// the client's fetch and its connection is not missed.
func (o *ofrep) events(w http.ResponseWriter, r *http.Request) error {
	env, err := o.eventsEnvironment(r)
	if err != nil {
		return err
	}
	var last int64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if last, err = strconv.ParseInt(id, 10, 64); err != nil || last < 0 {
			return ramp.Errorf(ramp.EBADREQUEST, "Last-Event-ID %q is not a sequence number", id)
		}
	}
	sub, err := o.s.live.Subscribe(env, last)
	if err != nil {
		return err
	}
	o.streams.serve(w, r, sub, refetchEvent)
	return nil
}

// refetchEvent renders a hub event as OFREP's refetchEvaluation message.
// Its etag is the configuration's sequence number, which the provider
// sends back as the flagConfigEtag query parameter.
func refetchEvent(ev hub.Event) []byte {
	b := make([]byte, 0, 96)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, "\nevent: message\ndata: {\"type\":\"refetchEvaluation\",\"etag\":\"\\\""...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, "\\\"\"}\n\n"...)
	return b
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// scanContext decodes the usual evaluation body, {"context":{...}} whose
// members are strings, numbers, booleans or null, into attrs, returning
// the targeting key apart; it is the hot path's decoder, allocating
// little more than the strings. It reports false, leaving attrs in any
// state, for anything else (another member, nesting, escapes, invalid
// JSON, a targeting key that is not a string), which encoding/json then
// decodes or rejects with its message; so the answer is the same either
// way.
func scanContext(b []byte, attrs map[string]any) (targetingKey string, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	key, i, ok := scanPlainString(b, skipSpace(b, i+1))
	if !ok || string(key) != "context" {
		return "", false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			var name []byte
			name, i, ok = scanPlainString(b, i)
			if !ok {
				return "", false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return "", false
			}
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return "", false
			}
			isKey := string(name) == ramp.AttrTargetingKey
			switch c := b[i]; {
			case c == '"':
				var s []byte
				s, i, ok = scanPlainString(b, i)
				if !ok {
					return "", false
				}
				if isKey {
					targetingKey = string(s)
					delete(attrs, ramp.AttrTargetingKey)
					break
				}
				attrs[string(name)] = string(s)
			case isKey:
				return "", false // the slow path says why
			case c == 't' && hasLiteral(b, i, "true"):
				attrs[string(name)] = true
				i += 4
			case c == 'f' && hasLiteral(b, i, "false"):
				attrs[string(name)] = false
				i += 5
			case c == 'n' && hasLiteral(b, i, "null"):
				attrs[string(name)] = nil
				i += 4
			case c == '-' || c >= '0' && c <= '9':
				end := scanNumber(b, i)
				if end < 0 {
					return "", false
				}
				f, err := strconv.ParseFloat(string(b[i:end]), 64)
				if err != nil {
					return "", false
				}
				attrs[string(name)] = f
				i = end
			default:
				return "", false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return "", false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return "", false
			}
			i = skipSpace(b, i+1)
		}
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '}' {
		return "", false
	}
	return targetingKey, skipSpace(b, i+1) == len(b)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanPlainString returns the contents of the JSON string at b[i] and the
// index after it, if it has no escape, no control character and only
// valid UTF-8.
func scanPlainString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s = b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// hasLiteral reports whether b holds lit at i.
func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanNumber returns the index after the JSON number at b[i], or -1 if
// there is none.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return -1
		}
	}
	return i
}
