package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
)

// notFound matches the server's answer for a flag, segment or environment
// that does not exist.
var notFound = regexp.MustCompile(`^(flag|segment|environment) "([^"]+)" does not exist`)

// suggestion returns a hint naming the flag, segment or environment the
// user may have meant when err says the one named does not exist, or "".
// It asks the server for the keys there are, for at most two seconds.
func (a *app) suggestion(ctx context.Context, err error) string {
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		return ""
	}
	m := notFound.FindStringSubmatch(apiErr.Detail)
	if m == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var keys []string
	var listErr error
	c := a.client()
	switch m[1] {
	case "flag":
		var flags []*ramp.Flag
		flags, listErr = c.ListFlags(ctx, client.FlagFilter{})
		keys = keysOf(flags, func(f *ramp.Flag) string { return f.Key })
	case "segment":
		var segs []*ramp.Segment
		segs, listErr = c.ListSegments(ctx)
		keys = keysOf(segs, func(s *ramp.Segment) string { return s.Key })
	case "environment":
		var envs []ramp.Environment
		envs, listErr = c.ListEnvironments(ctx)
		keys = keysOf(envs, func(e ramp.Environment) string { return e.Key })
	}
	if listErr != nil {
		return ""
	}
	if best := closest(m[2], keys); best != "" {
		return fmt.Sprintf("hint: did you mean %s %q?", m[1], best)
	}
	return ""
}

// keysOf returns the key of each of xs.
func keysOf[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return out
}

// closest returns the key nearest to typed by edit distance, if it is
// near enough to be a typo (at most a third of typed's length, and at
// least one edit is allowed); the first of equals wins.
func closest(typed string, keys []string) string {
	limit := max(1, len([]rune(typed))/3)
	best, bestDist := "", limit+1
	for _, k := range keys {
		if d := editDistance(typed, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
