package main

import (
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

func TestClosest(t *testing.T) {
	keys := []string{"checkout-v2", "checkout-v3", "dark-mode", "new-search"}
	for typed, want := range map[string]string{
		"chekout-v2":  "checkout-v2", // one letter missing
		"checkuot-v2": "checkout-v2", // two swapped: two edits
		"checkout-v4": "checkout-v2", // equals: the first wins
		"darkmode":    "dark-mode",
		"search":      "", // too far: not a typo
		"x":           "",
		"":            "",
	} {
		if got := closest(typed, keys); got != want {
			t.Errorf("closest(%q) = %q, want %q", typed, got, want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", d)
	}
	if d := editDistance("héllo", "hello"); d != 1 {
		t.Errorf("editDistance counts bytes, not runes: %d", d)
	}
}

// TestDidYouMean: a flag, segment or environment that does not exist
// gets the nearest existing key as a hint; nothing near, no hint.
func TestDidYouMean(t *testing.T) {
	fs, srv := newFakeServer(t)
	fs.flags["checkout-v2"] = &ramp.Flag{Key: "checkout-v2", Type: ramp.TypeBoolean}
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"flag", "get", "chekout-v2"}, `hint: did you mean flag "checkout-v2"?`},
		{[]string{"set", "chekout-v2", "5", "--env", "production"}, `hint: did you mean flag "checkout-v2"?`},
		{[]string{"flag", "get", "something-else"}, ""},
	} {
		_, stderr, code := rampCLI(t, srv.URL, nil, tc.args...)
		if code != exitFailure {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, exitFailure, stderr)
		}
		if tc.hint != "" && !strings.Contains(stderr, tc.hint) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, stderr, tc.hint)
		}
		if tc.hint == "" && strings.Contains(stderr, "did you mean") {
			t.Errorf("%v: stderr %q suggests a key", tc.args, stderr)
		}
	}
}
