package main

import (
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	if d := unifiedDiff("a\nb\n", "a\nb\n", "x", "y"); d != "" {
		t.Errorf("equal texts: %q", d)
	}
	got := unifiedDiff("", "a\nb\n", "old", "new")
	want := "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n"
	if got != want {
		t.Errorf("creation:\n%s\nwant:\n%s", got, want)
	}
	before := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n"
	after := strings.Replace(strings.Replace(before, "2\n", "two\n", 1), "15\n", "", 1)
	got = unifiedDiff(before, after, "old", "new")
	want = `--- old
+++ new
@@ -1,5 +1,5 @@
 1
-2
+two
 3
 4
 5
@@ -12,5 +12,4 @@
 12
 13
 14
-15
 16
`
	if got != want {
		t.Errorf("two hunks:\n%s\nwant:\n%s", got, want)
	}
	// Changes close together share one hunk.
	got = unifiedDiff("a\nb\nc\nd\ne\n", "a\nB\nc\nD\ne\n", "old", "new")
	if strings.Count(got, "@@ ") != 1 {
		t.Errorf("one hunk expected:\n%s", got)
	}
}

func TestDiffLinesKeepsCommonLines(t *testing.T) {
	a := []string{"x", "a", "b", "c", "y"}
	b := []string{"a", "b", "z", "c"}
	var kept, removed, added int
	for _, op := range diffLines(a, b) {
		switch op.kind {
		case ' ':
			kept++
		case '-':
			removed++
		case '+':
			added++
		}
	}
	if kept != 3 || removed != 2 || added != 1 {
		t.Errorf("kept %d removed %d added %d, want 3 2 1", kept, removed, added)
	}
}
