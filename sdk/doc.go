// Package sdk is the Go SDK of ramp: applications import it to evaluate
// feature flags in-process, in nanoseconds, from a snapshot of their
// environment that the SDK keeps current over the server's stream.
//
// A Client connects to GET /sdk/v1/stream (docs/stream.md), applies every
// snapshot and change event to an immutable in-memory snapshot swapped
// atomically, and evaluates with the same eval package as the server, so
// the server, the CLI and every application give the same answer for the
// same context. Evaluation never does I/O, never blocks and never panics:
// an unknown flag, a type mismatch or a client with no flags yet returns
// the caller's default with a reason.
//
// When the stream fails the client keeps serving the last flags it had,
// reconnects with jittered exponential backoff and resumes with
// Last-Event-ID; if the stream endpoint is unusable (a proxy that answers
// 404 or buffers the stream) it polls GET /sdk/v1/flags instead. The last
// good snapshot is kept in an optional cache file and used at start when
// the server cannot be reached.
//
// The client also measures the application's code paths: Observe (or the
// net/http Middleware) counts each request a flag's variant served, its
// errors and its latency, in lock-free striped counters; a reporter sends
// the counts to POST /sdk/v1/metrics every Config.ReportInterval, where the
// rollout controller's SDK metric source reads them, so that guarded
// rollouts need no Prometheus. Stats exposes the same counters, which the
// subpackage sdk/promexport turns into Prometheus metrics.
//
// The package imports only the standard library, the root package and
// eval, so an application that embeds the SDK compiles none of the
// server's dependencies; a test enforces it. The OpenFeature provider is
// in the subpackage sdk/openfeature, the Prometheus collector in
// sdk/promexport.
package sdk
