package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/client"
)

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// runError marks an error returned by a command's RunE: the command line
// was fine and the command failed, exit code 1. Errors cobra reports
// itself (unknown commands and flags, bad arguments, missing required
// flags) are not marked and so count as usage errors.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// isUsage reports whether err should exit with code 2.
func isUsage(err error) bool {
	var u *usageError
	if errors.As(err, &u) {
		return true
	}
	var r *runError
	return !errors.As(err, &r)
}

// markRunErrors wraps the RunE of every command in the tree so that its
// errors are told apart from cobra's usage errors. It runs after the whole
// tree is built, so it also covers commands added late.
func markRunErrors(c *cobra.Command) {
	if c.RunE != nil {
		runE := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			err := runE(cmd, args)
			if err == nil || isUsageOnly(err) {
				return err
			}
			return &runError{err: err}
		}
	}
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

func isUsageOnly(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// hintFor returns advice for a failure a user can fix on the command line,
// or "".
func hintFor(err error) string {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch apiErr.Status {
	case http.StatusUnauthorized:
		return "hint: set --token or $RAMP_TOKEN to an admin token (ramp serve prints how to get the first one)"
	case http.StatusForbidden:
		return "hint: the admin API and this command line tool need an admin token (ramp token create --admin); SDK tokens are for applications"
	}
	return ""
}
