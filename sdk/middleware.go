package sdk

import (
	"context"
	"net/http"
)

// variantKey is the context key of the variant Middleware served for a
// flag, one key per flag so that middlewares for several flags nest.
type variantKey string

// VariantFrom returns the variant of flag that a Middleware evaluated for
// the request whose context is ctx, or "" if no Middleware for flag ran
// or the evaluation served no variant (the flag is unknown or cannot be
// evaluated for the request; see Evaluate).
func VariantFrom(ctx context.Context, flag string) string {
	v, _ := ctx.Value(variantKey(flag)).(string)
	return v
}

// Middleware returns net/http middleware that measures the code paths of
// flag. For each request it evaluates flag for the context key returns,
// puts the variant served in the request's context (read it with
// VariantFrom, and branch on it in the handler), runs the handler, and
// observes the request under that variant as Observe does: its duration
// on the client's clock, and an error if the handler answered 5xx or
// panicked (the panic goes on). A request for which the flag serves no
// variant runs the handler and is not observed.
//
// The middleware is safe for concurrent use. Its ResponseWriter
// implements Unwrap, so http.ResponseController reaches the server's, and
// Flush. It panics if c or key is nil or flag is not a valid flag key:
// those are programming errors.
func Middleware(c *Client, flag string, key func(*http.Request) EvalContext) func(http.Handler) http.Handler {
	switch {
	case c == nil:
		panic("sdk: Middleware needs a client")
	case key == nil:
		panic("sdk: Middleware needs a function that gives the evaluation context of a request")
	}
	fs := c.meter.flag(flag)
	if fs == nil {
		panic("sdk: Middleware: " + flag + " is not a valid flag key")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ec := key(r)
			res, _ := c.evaluate(flag, &ec)
			variant := res.Variant
			if res.ErrorCode != "" || variant == "" {
				next.ServeHTTP(w, r)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), variantKey(flag), variant))
			sw := &statusWriter{ResponseWriter: w}
			start := c.clock.Now()
			panicked := true
			defer func() {
				if s := fs.series(variant); s != nil {
					s.observe(c.clock.Now().Sub(start), panicked || sw.status >= 500)
				}
			}()
			next.ServeHTTP(sw, r)
			panicked = false
		})
	}
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far, if the server's ResponseWriter
// can.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the server's ResponseWriter, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
