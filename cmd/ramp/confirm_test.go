package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestIsTerminal checks that the character device /dev/null, a pipe and a
// regular file are not taken for a terminal.
func TestIsTerminal(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if fi, err := devNull.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is not a character device: %v", os.DevNull, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "answers"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, f := range []*os.File{devNull, r, file} {
		if isTerminal(f) {
			t.Errorf("isTerminal(%s) = true", f.Name())
		}
	}
}

// TestDeleteWithoutTerminalNeedsYes runs every delete command with stdin
// on /dev/null: each is a usage error that asks for --yes, and nothing is
// deleted.
func TestDeleteWithoutTerminalNeedsYes(t *testing.T) {
	fs, srv := newFakeServer(t)
	if _, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "layout", "--type", "boolean"); code != 0 {
		t.Fatal(stderr)
	}
	for _, args := range [][]string{
		{"flag", "delete", "layout"},
		{"env", "delete", "staging"},
		{"segment", "delete", "employees"},
	} {
		devNull, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := rampCLI(t, srv.URL, devNull, args...)
		devNull.Close()
		if code != exitUsage || !strings.Contains(stderr, "without confirmation: pass --yes") || stdout != "" {
			t.Errorf("%s: code %d stdout %q stderr %q; want exit 2 asking for --yes", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if i := slices.IndexFunc(fs.writes, func(w string) bool { return strings.HasPrefix(w, "DELETE ") }); i >= 0 {
		t.Errorf("the server got %s", fs.writes[i])
	}
	if fs.flags["layout"] == nil {
		t.Error("flag layout was deleted")
	}
}
