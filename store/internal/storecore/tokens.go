package storecore

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// TokenColumns are the columns of the tokens table in the order the stores
// scan them.
const TokenColumns = "id, name, kind, environment, hash, created_at, created_by"

// NewToken validates t and returns it ready to be stored by change c: with
// its own copy of the hash, c's actor as creator if it names none, and no
// last use. It fails with EINVALID, naming every bad field. Whether an SDK
// token's environment exists is for the store to check
// (TokenEnvironmentNotFound).
func NewToken(c ramp.Change, t ramp.Token) (ramp.Token, error) {
	var fields []ramp.FieldError
	add := func(field, format string, args ...any) {
		fields = append(fields, ramp.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if msg := ramp.CheckKey(t.ID); msg != "" {
		add("id", "%s", msg)
	}
	if len(t.Name) > 200 {
		add("name", "is %d characters long; the limit is 200", len(t.Name))
	}
	switch t.Kind {
	case ramp.TokenAdmin:
		if t.Environment != "" {
			add("environment", "must be empty: admin tokens are not scoped to an environment")
		}
	case ramp.TokenSDK:
		if t.Environment == "" {
			add("environment", "is required: an SDK token reads the flags of one environment")
		}
	default:
		add("kind", "%q is not a token kind: use admin or sdk", t.Kind)
	}
	if len(t.Hash) != sha256.Size {
		add("hash", "is %d bytes long, not %d", len(t.Hash), sha256.Size)
	}
	if len(fields) > 0 {
		return ramp.Token{}, &ramp.Error{Code: ramp.EINVALID, Message: "token is invalid", Fields: fields}
	}
	t.Hash = append([]byte(nil), t.Hash...)
	if t.CreatedBy == "" {
		t.CreatedBy = c.Actor
	}
	t.LastUsedAt = time.Time{}
	return t, nil
}

// TokenEnvironmentNotFound returns the EINVALID error of an SDK token
// scoped to an environment that does not exist.
func TokenEnvironmentNotFound(env string) error {
	return &ramp.Error{Code: ramp.EINVALID, Message: "token is invalid", Fields: []ramp.FieldError{{
		Field: "environment", Message: fmt.Sprintf("environment %q does not exist", env),
	}}}
}

// TokenNotFound returns the ENOTFOUND error of a token that does not exist
// or was revoked.
func TokenNotFound(id string) error {
	return ramp.Errorf(ramp.ENOTFOUND, "token %q does not exist or was revoked", id)
}
