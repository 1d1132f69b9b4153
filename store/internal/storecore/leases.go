package storecore

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// CheckLease returns the EINVALID error of a lease request that names no
// lease or holder, names that are too long, or a ttl that is not positive.
func CheckLease(name, holder string, ttl time.Duration) error {
	var fields []ramp.FieldError
	for _, f := range []struct{ field, value string }{{"name", name}, {"holder", holder}} {
		switch {
		case f.value == "":
			fields = append(fields, ramp.FieldError{Field: f.field, Message: "is required"})
		case len(f.value) > 200:
			fields = append(fields, ramp.FieldError{Field: f.field, Message: fmt.Sprintf("is %d characters long; the limit is 200", len(f.value))})
		}
	}
	if ttl <= 0 {
		fields = append(fields, ramp.FieldError{Field: "ttl", Message: fmt.Sprintf("is %v; a lease must last a positive time", ttl)})
	}
	if len(fields) > 0 {
		return &ramp.Error{Code: ramp.EINVALID, Message: "lease request is invalid", Fields: fields}
	}
	return nil
}
