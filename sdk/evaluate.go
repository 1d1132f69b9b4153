package sdk

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
)

// EvalContext is what a flag is evaluated for: a targeting key (user,
// account, device, request...) and the attributes rules test. It is the
// eval package's Context, so passing one costs nothing.
type EvalContext = eval.Context

// Reason says why a value was served. The values are OpenFeature's.
type Reason = eval.Reason

// ErrorCode says why an evaluation served the caller's default. The values
// are OpenFeature's.
type ErrorCode = eval.ErrorCode

// Reasons, as in docs/flags.md.
const (
	ReasonStatic         = eval.ReasonStatic
	ReasonTargetingMatch = eval.ReasonTargetingMatch
	ReasonSplit          = eval.ReasonSplit
	ReasonDisabled       = eval.ReasonDisabled
	ReasonDefault        = eval.ReasonDefault
	ReasonError          = eval.ReasonError
)

// Error codes. Every one comes with ReasonError and the caller's default.
const (
	// ErrFlagNotFound: the environment has no flag with the key.
	ErrFlagNotFound = eval.ErrFlagNotFound
	// ErrTypeMismatch: the flag's type is not the getter's, or a number
	// flag served a value that is not an integer to Int.
	ErrTypeMismatch = eval.ErrTypeMismatch
	// ErrTargetingKeyMissing: a percentage split needs a key the context
	// lacks.
	ErrTargetingKeyMissing = eval.ErrTargetingKeyMissing
	// ErrParse: the flag as stored cannot be evaluated.
	ErrParse = eval.ErrParse
	// ErrProviderNotReady: the client has no flags yet; it has reached
	// neither the server nor a cache file.
	ErrProviderNotReady ErrorCode = "PROVIDER_NOT_READY"
	// ErrInvalidContext: the context cannot be evaluated. The SDK does not
	// produce it today; it is here for completeness of the mapping.
	ErrInvalidContext = eval.ErrInvalidContext
	// ErrGeneral: any other failure.
	ErrGeneral = eval.ErrGeneral
)

// Detail is the outcome of one evaluation: the value served and why. On
// failure Value is the caller's default, Reason is ReasonError and
// ErrorCode says why.
type Detail[T any] struct {
	Value        T
	Variant      string
	Reason       Reason
	ErrorCode    ErrorCode
	ErrorMessage string
	// RuleID is the ID of the targeting rule that matched, if it has one.
	RuleID string
}

// The typed getters below do no I/O and take no lock: an atomic load of
// the current snapshot, a map lookup and the compiled flag's evaluation.
// ctx is not consulted today; it is there so that evaluation can later
// carry request-scoped data (tracing, metrics) without an API change.

// Bool returns the value of the boolean flag key for ec, or def if the
// flag is unknown, not boolean, or cannot be evaluated for ec, or if the
// client has no flags yet. It is safe for concurrent use, never blocks and
// does not allocate.
func (c *Client) Bool(ctx context.Context, key string, ec EvalContext, def bool) bool {
	if s := c.snap.Load(); s != nil {
		if e := s.index.get(key); e != nil && e.eval != nil {
			if v, ok := e.eval.Evaluate(&ec).Value.(bool); ok {
				return v
			}
		}
	}
	return def
}

// String returns the value of the string flag key for ec, or def as Bool
// does. It is safe for concurrent use and never blocks.
func (c *Client) String(ctx context.Context, key string, ec EvalContext, def string) string {
	if s := c.snap.Load(); s != nil {
		if e := s.index.get(key); e != nil && e.eval != nil {
			if v, ok := e.eval.Evaluate(&ec).Value.(string); ok {
				return v
			}
		}
	}
	return def
}

// Float returns the value of the number flag key for ec, or def as Bool
// does. It is safe for concurrent use and never blocks.
func (c *Client) Float(ctx context.Context, key string, ec EvalContext, def float64) float64 {
	if s := c.snap.Load(); s != nil {
		if e := s.index.get(key); e != nil && e.eval != nil {
			if v, ok := e.eval.Evaluate(&ec).Value.(float64); ok {
				return v
			}
		}
	}
	return def
}

// Int returns the value of the number flag key for ec as an integer, or
// def as Bool does, and also when the value served is not an integer that
// fits in an int64. It is safe for concurrent use and never blocks.
func (c *Client) Int(ctx context.Context, key string, ec EvalContext, def int64) int64 {
	if s := c.snap.Load(); s != nil {
		if e := s.index.get(key); e != nil && e.eval != nil {
			if v, ok := toInt(e.eval.Evaluate(&ec).Value); ok {
				return v
			}
		}
	}
	return def
}

// JSON returns the value of the object flag key for ec, or def as Bool
// does. The map is a copy that the caller owns and may modify. It is safe
// for concurrent use and never blocks.
func (c *Client) JSON(ctx context.Context, key string, ec EvalContext, def map[string]any) map[string]any {
	if s := c.snap.Load(); s != nil {
		if e := s.index.get(key); e != nil && e.eval != nil {
			if v, ok := e.eval.Evaluate(&ec).Value.(map[string]any); ok {
				return copyJSON(v).(map[string]any)
			}
		}
	}
	return def
}

// BoolDetail is Bool with the reason, the variant and, when def is
// served, the error code and message. It is safe for concurrent use.
func (c *Client) BoolDetail(ctx context.Context, key string, ec EvalContext, def bool) Detail[bool] {
	r, typ := c.evaluate(key, &ec)
	return typed(key, r, typ, def, ramp.TypeBoolean, assert[bool])
}

// StringDetail is String with the reason, the variant and, when def is
// served, the error code and message. It is safe for concurrent use.
func (c *Client) StringDetail(ctx context.Context, key string, ec EvalContext, def string) Detail[string] {
	r, typ := c.evaluate(key, &ec)
	return typed(key, r, typ, def, ramp.TypeString, assert[string])
}

// FloatDetail is Float with the reason, the variant and, when def is
// served, the error code and message. It is safe for concurrent use.
func (c *Client) FloatDetail(ctx context.Context, key string, ec EvalContext, def float64) Detail[float64] {
	r, typ := c.evaluate(key, &ec)
	return typed(key, r, typ, def, ramp.TypeNumber, assert[float64])
}

// IntDetail is Int with the reason, the variant and, when def is served,
// the error code and message: TYPE_MISMATCH also when the value served is
// not an integer. It is safe for concurrent use.
func (c *Client) IntDetail(ctx context.Context, key string, ec EvalContext, def int64) Detail[int64] {
	r, typ := c.evaluate(key, &ec)
	return typed(key, r, typ, def, ramp.TypeNumber, toInt)
}

// JSONDetail is JSON with the reason, the variant and, when def is
// served, the error code and message. Value is a copy the caller owns. It
// is safe for concurrent use.
func (c *Client) JSONDetail(ctx context.Context, key string, ec EvalContext, def map[string]any) Detail[map[string]any] {
	r, typ := c.evaluate(key, &ec)
	return typed(key, r, typ, def, ramp.TypeObject, func(v any) (map[string]any, bool) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		return copyJSON(m).(map[string]any), true
	})
}

// Evaluate evaluates the flag key for ec whatever its type. On failure
// Value is nil. Object values are copies the caller owns. It is safe for
// concurrent use; tools and the OpenFeature provider use it, applications
// should prefer the typed getters.
func (c *Client) Evaluate(ctx context.Context, key string, ec EvalContext) Detail[any] {
	r, _ := c.evaluate(key, &ec)
	if r.ErrorCode != "" {
		return Detail[any]{Reason: ReasonError, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage, RuleID: r.RuleID}
	}
	return Detail[any]{Value: copyJSON(r.Value), Variant: r.Variant, Reason: r.Reason, RuleID: r.RuleID}
}

// notReady is the result of every evaluation before the first snapshot,
// before any attempt to reach the server failed (Client.waiting).
var notReady = &eval.Result{Reason: eval.ReasonError, ErrorCode: ErrProviderNotReady,
	ErrorMessage: "the client has no flags yet: none from the server, and no cache file"}

// evaluate returns the result for key and the flag's type ("" when the
// flag is unknown or broken).
func (c *Client) evaluate(key string, ec *EvalContext) (*eval.Result, ramp.FlagType) {
	s := c.snap.Load()
	if s == nil {
		if r := c.waiting.Load(); r != nil {
			return r, ""
		}
		return notReady, ""
	}
	e := s.index.get(key)
	switch {
	case e == nil:
		return &eval.Result{FlagKey: key, Reason: eval.ReasonError, ErrorCode: eval.ErrFlagNotFound,
			ErrorMessage: "flag " + strconv.Quote(key) + " does not exist in environment " + strconv.Quote(s.env)}, ""
	case e.eval == nil:
		return e.broken, ""
	}
	return e.eval.Evaluate(ec), e.eval.Type()
}

// typed turns the result for a flag of type typ into a Detail of the
// getter's type want. It takes the result, not the context: a generic
// function's parameters escape, and the context must stay on the stack.
func typed[T any](key string, r *eval.Result, typ ramp.FlagType, def T, want ramp.FlagType, conv func(any) (T, bool)) Detail[T] {
	switch {
	case typ != "" && typ != want:
		return failed(def, ErrTypeMismatch, fmt.Sprintf("flag %q is of type %s, not %s", key, typ, want))
	case r.ErrorCode != "":
		return failed(def, r.ErrorCode, r.ErrorMessage)
	}
	v, ok := conv(r.Value)
	if !ok {
		// The type matched, so only Int gets here: a fractional value.
		return failed(def, ErrTypeMismatch, fmt.Sprintf("flag %q served %v, which is not an integer that fits in 64 bits", key, r.Value))
	}
	return Detail[T]{Value: v, Variant: r.Variant, Reason: r.Reason, RuleID: r.RuleID}
}

func failed[T any](def T, code ErrorCode, msg string) Detail[T] {
	return Detail[T]{Value: def, Reason: ReasonError, ErrorCode: code, ErrorMessage: msg}
}

func assert[T any](v any) (T, bool) {
	t, ok := v.(T)
	return t, ok
}

// toInt converts a number flag's value to an int64 if it is integral and
// in range.
func toInt(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// copyJSON deep-copies a value decoded from JSON, so that callers cannot
// modify the values the compiled flags share.
func copyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, el := range x {
			m[k] = copyJSON(el)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, el := range x {
			s[i] = copyJSON(el)
		}
		return s
	}
	return v
}
