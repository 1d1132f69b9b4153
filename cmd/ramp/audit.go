package main

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/client"
)

func newAuditCmd(a *app) *cobra.Command {
	var (
		filter       client.AuditFilter
		since, until string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log",
		Long: `Show the audit log, newest first: every committed change with its time, actor,
action, key and environment.

--since and --until take an RFC 3339 time (2025-01-31T12:00:00Z) or a
duration back from now (90m, 24h, 7d). -o json prints a JSON array of the
entries, with the state before and after each change.`,
		Example: `  ramp audit --flag checkout-v2 --since 24h
  ramp audit --actor alice --since 7d --limit 500
  ramp audit --since 2025-01-31T00:00:00Z --until 2025-02-01T00:00:00Z -o json`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			var err error
			if filter.Since, err = parseTimeArg("--since", since, now); err != nil {
				return err
			}
			if filter.Until, err = parseTimeArg("--until", until, now); err != nil {
				return err
			}
			if err := checkAuditFilter(filter, since, until); err != nil {
				return err
			}
			entries, err := a.client().ListAudit(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return a.render(nonNil(entries), func(w io.Writer) {
				row(w, "TIME", "ACTOR", "ACTION", "KEY", "ENVIRONMENT")
				for _, e := range entries {
					row(w, formatTime(e.Time), orDash(e.Actor), e.Action, orDash(e.Key), orDash(e.Environment))
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&filter.Flag, "flag", "", "only changes to this flag")
	fl.StringVar(&filter.Kind, "kind", "", "only changes to this kind of thing: flag, rollout, segment, environment or token")
	fl.StringVar(&filter.Key, "key", "", "only changes to the thing with this key")
	fl.StringVar(&filter.Actor, "actor", "", "only changes by this actor")
	fl.StringVar(&since, "since", "", "only changes at or after this time or duration ago")
	fl.StringVar(&until, "until", "", "only changes before this time or duration ago")
	fl.IntVar(&filter.Limit, "limit", 0, "at most this many entries (server default 100, at most 1000)")
	return cmd
}

// auditKinds are the kinds of things the audit log records.
var auditKinds = []string{"flag", "rollout", "segment", "environment", "token"}

// checkAuditFilter rejects the filters the server would refuse, so that
// they are usage errors. since and until are the arguments as given, for
// the message.
func checkAuditFilter(f client.AuditFilter, since, until string) error {
	if f.Kind != "" && !slices.Contains(auditKinds, f.Kind) {
		return usageErrorf("--kind %q: use flag, rollout, segment, environment or token", f.Kind)
	}
	if f.Flag != "" {
		if f.Kind != "" && f.Kind != "flag" && f.Kind != "rollout" {
			return usageErrorf("--flag %s selects the flag and its rollouts; it cannot be combined with --kind %s", f.Flag, f.Kind)
		}
		if f.Key != "" && f.Key != f.Flag {
			return usageErrorf("--flag %s selects --key %s; it cannot be combined with --key %s", f.Flag, f.Flag, f.Key)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return usageErrorf("--since %s is after --until %s: nothing can match", since, until)
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return usageErrorf("--limit %d: use 1 to 1000", f.Limit)
	}
	return nil
}

// parseTimeArg parses an RFC 3339 time or a duration before now (Go
// syntax, plus d for days). Empty gives the zero time.
func parseTimeArg(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, ok := parseDuration(s); ok {
		return now.Add(-d), nil
	}
	return time.Time{}, usageErrorf("%s %q: use an RFC 3339 time such as 2025-01-31T12:00:00Z or a duration such as 90m, 24h or 7d", name, s)
}

// parseDuration parses a Go duration, or a whole number of days with the
// suffix d. Negative durations are rejected.
func parseDuration(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100000 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}
