package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the controlling and the terminal side of a new
// pseudo-terminal, or skips the test where there is none.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	fd := int(control.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return control, tty
}

// TestConfirmOnTerminal answers the question on a real terminal: no
// changes nothing and exits 0, yes deletes.
func TestConfirmOnTerminal(t *testing.T) {
	control, tty := openPTY(t)
	if !isTerminal(tty) {
		t.Fatalf("isTerminal(%s) = false", tty.Name())
	}
	fs, srv := newFakeServer(t)
	if _, stderr, code := rampCLI(t, srv.URL, nil, "flag", "create", "layout", "--type", "boolean"); code != 0 {
		t.Fatal(stderr)
	}

	if _, err := control.WriteString("n\n"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := rampCLI(t, srv.URL, tty, "flag", "delete", "layout")
	if code != exitOK || stdout != "" || stderr != "Delete flag layout in every environment? [y/N] Nothing changed.\n" {
		t.Errorf("answer n: code %d stdout %q stderr %q", code, stdout, stderr)
	}
	if fs.flags["layout"] == nil {
		t.Fatal("answer n deleted the flag")
	}

	if _, err := control.WriteString("yes\n"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = rampCLI(t, srv.URL, tty, "flag", "delete", "layout")
	if code != exitOK || stdout != "deleted flag layout\n" || !strings.HasSuffix(stderr, "[y/N] ") {
		t.Errorf("answer yes: code %d stdout %q stderr %q", code, stdout, stderr)
	}
	if fs.flags["layout"] != nil {
		t.Error("answer yes did not delete the flag")
	}
}
