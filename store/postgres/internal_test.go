package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

func TestTranslate(t *testing.T) {
	appErr := ramp.Errorf(ramp.ENOTFOUND, "flag %q does not exist", "x")
	if got := translate("get flag", appErr); got != error(appErr) {
		t.Errorf("translate(*ramp.Error) = %v, want it unchanged", got)
	}
	plain := fmt.Errorf("boom")
	if got := translate("get flag", storecore.FnError{Err: plain}); got != plain {
		t.Errorf("translate(fnError) = %v, want fn's error unchanged", got)
	}
	if got := translate("get flag", plain); ramp.ErrorCode(got) != ramp.EINTERNAL || ramp.ErrorMessage(got) != "internal error" {
		t.Errorf("translate(other) = %v (%s), want internal", got, ramp.ErrorCode(got))
	}
	if got := translate("x", nil); got != nil {
		t.Errorf("translate(nil) = %v", got)
	}
	for _, tc := range []struct {
		err  error
		code string
	}{
		{&pgconn.PgError{Code: "23505", Message: `duplicate key value violates unique constraint "environments_pkey"`}, ramp.ECONFLICT},
		{&pgconn.PgError{Code: "23503", Message: "insert or update on table violates foreign key constraint"}, ramp.ECONFLICT},
		{&pgconn.PgError{Code: "40P01", Message: "deadlock detected"}, ramp.EUNAVAILABLE},
		{&pgconn.PgError{Code: "40001", Message: "could not serialize access"}, ramp.EUNAVAILABLE},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, ramp.EUNAVAILABLE},
		{&pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"}, ramp.EUNAVAILABLE},
		{&pgconn.PgError{Code: "08006", Message: "connection failure"}, ramp.EUNAVAILABLE},
		{&pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "ramp"`}, ramp.EUNAVAILABLE},
		{&pgconn.PgError{Code: "22021", Message: `invalid byte sequence for encoding "UTF8": 0x00`}, ramp.EINVALID},
		{&pgconn.PgError{Code: "42P01", Message: `relation "flags" does not exist`}, ramp.EINTERNAL},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), ramp.EUNAVAILABLE},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), ramp.EUNAVAILABLE},
		{fmt.Errorf("query: %w", context.Canceled), ramp.EINTERNAL},
	} {
		got := translate("op", tc.err)
		if code := ramp.ErrorCode(got); code != tc.code {
			t.Errorf("translate(%v) code = %s, want %s", tc.err, code, tc.code)
		}
		msg := ramp.ErrorMessage(got)
		for _, leak := range []string{"constraint", "relation", "password", "UTF8", "INSERT", "SQLSTATE"} {
			if strings.Contains(msg, leak) {
				t.Errorf("translate(%v): message %q leaks %q", tc.err, msg, leak)
			}
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("translate(%v) = %v: the driver error is not kept for the log", tc.err, got)
		}
	}
}
