package storecore

import (
	"fmt"

	"github.com/ramp-flags/ramp"
)

// CheckEnvironment returns the EINVALID error of an environment that is
// invalid or whose name or description is too long, or nil.
func CheckEnvironment(e ramp.Environment) error {
	if err := e.Validate(); err != nil {
		return err
	}
	var fields []ramp.FieldError
	if len(e.Name) > 200 {
		fields = append(fields, ramp.FieldError{Field: "name", Message: fmt.Sprintf("is %d characters long; the limit is 200", len(e.Name))})
	}
	if len(e.Description) > 2000 {
		fields = append(fields, ramp.FieldError{Field: "description", Message: fmt.Sprintf("is %d characters long; the limit is 2000", len(e.Description))})
	}
	if len(fields) > 0 {
		return &ramp.Error{Code: ramp.EINVALID, Message: fmt.Sprintf("environment %q is invalid", e.Key), Fields: fields}
	}
	return nil
}

// AddEnvironment returns the flag rewrite of creating environment env:
// every flag without a state in it gets one, normalized against envs, the
// environments after the creation.
func AddEnvironment(env string, envs []string) func(*ramp.Flag) bool {
	return func(f *ramp.Flag) bool {
		if f.Environments[env] != nil {
			return false
		}
		f.Normalize(envs)
		return true
	}
}

// RemoveEnvironment returns the flag rewrite of deleting environment env:
// every flag loses its state in it.
func RemoveEnvironment(env string) func(*ramp.Flag) bool {
	return func(f *ramp.Flag) bool {
		if _, ok := f.Environments[env]; !ok {
			return false
		}
		delete(f.Environments, env)
		return true
	}
}

// EnvironmentHasTokens returns the ECONFLICT error of deleting environment
// env while the SDK tokens named are scoped to it, or nil if none are.
func EnvironmentHasTokens(env string, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	return ramp.Errorf(ramp.ECONFLICT, "environment %q has SDK tokens %s; revoke its tokens first", env, QuoteList(tokens))
}
