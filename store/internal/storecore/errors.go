package storecore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
)

// FnError carries an error returned by a caller's update function. A store
// returns it to the caller as it is, unwrapped and untranslated.
type FnError struct{ Err error }

func (e FnError) Error() string { return e.Err.Error() }
func (e FnError) Unwrap() error { return e.Err }

// StaleVersion returns the ECONFLICT error of a write whose IfVersion is not
// the stored version, or nil. The error carries the stored version.
func StaleVersion(kind, key string, ifVersion, stored int64) error {
	if ifVersion == 0 || ifVersion == stored {
		return nil
	}
	return &ramp.Error{
		Code:    ramp.ECONFLICT,
		Message: fmt.Sprintf("%s %q was changed by someone else: version is %d, not %d", kind, key, stored, ifVersion),
		Version: stored,
	}
}

// KeyChanged returns the EINVALID error of an update that renamed the thing.
func KeyChanged(kind, key, got string) error {
	return &ramp.Error{
		Code:    ramp.EINVALID,
		Message: fmt.Sprintf("%s %q is invalid", kind, key),
		Fields: []ramp.FieldError{{
			Field:   "key",
			Message: fmt.Sprintf("cannot change the key from %q to %q; create a new %s and delete this one instead", key, got, kind),
		}},
	}
}

// EnvironmentExists returns the ENOTFOUND error of a change that names an
// environment that is not in sc, or nil.
func EnvironmentExists(sc ramp.Scope, env string) error {
	if !slices.Contains(sc.Environments, env) {
		return ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", env)
	}
	return nil
}

// ActionOr returns the change's action, or def if it names none.
func ActionOr(c ramp.Change, def string) string {
	if c.Action != "" {
		return c.Action
	}
	return def
}

// MarshalJSON encodes v for a data, before or after column.
func MarshalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json: %w", err)
	}
	return string(b), nil
}

// QuoteList quotes up to ten names and says how many more there are.
func QuoteList(names []string) string {
	const most = 10
	q := make([]string, 0, min(len(names), most))
	for i, n := range names {
		if i == most {
			break
		}
		q = append(q, strconv.Quote(n))
	}
	s := strings.Join(q, ", ")
	if len(names) > most {
		s += fmt.Sprintf(" and %d more", len(names)-most)
	}
	return s
}

// AsDomain returns the error a store hands its caller as it is: the
// caller's own error for a FnError, err itself for a *ramp.Error, and nil
// for any other error, a driver's, which the store translates.
func AsDomain(err error) error {
	var fe FnError
	if errors.As(err, &fe) {
		return fe.Err
	}
	var re *ramp.Error
	if errors.As(err, &re) {
		return err
	}
	return nil
}

// Unavailable returns the EUNAVAILABLE error with msg, safe to show, for
// the driver error wrapped.
func Unavailable(msg string, wrapped error) error {
	return &ramp.Error{Code: ramp.EUNAVAILABLE, Message: msg, Err: wrapped}
}
