package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// demoOutput writes the demo's story: lines appended one after the other
// and, on a terminal, a progress view below them that is redrawn in place.
// It is used from one goroutine.
type demoOutput struct {
	w   io.Writer
	tty bool
	fd  int
	// start is the time the timeline counts from.
	start time.Time
	// block is the number of lines of the progress view on the screen.
	block int
}

func newDemoOutput(w io.Writer) *demoOutput {
	o := &demoOutput{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		o.tty, o.fd = true, int(f.Fd())
	}
	return o
}

// printf appends text above the progress view.
func (o *demoOutput) printf(format string, args ...any) {
	o.clear()
	fmt.Fprintf(o.w, format, args...)
}

// since is the time from the start of the story to t: +12.3s.
func (o *demoOutput) since(t time.Time) string {
	return fmt.Sprintf("+%.1fs", t.Sub(o.start).Seconds())
}

// event appends a line of the timeline: when, what, the stage, the
// canary's percentage and why, then the details under the text.
func (o *demoOutput) event(at time.Time, action, stage string, pct float64, text string, details ...string) {
	head := fmt.Sprintf("%7s  %-10s %5s %5s  ", o.since(at), action, stage, formatPercent(pct))
	var b strings.Builder
	b.WriteString(head + text + "\n")
	indent := strings.Repeat(" ", utf8.RuneCountInString(head))
	for _, d := range details {
		b.WriteString(indent + d + "\n")
	}
	o.printf("%s", b.String())
}

// draw replaces the progress view with what render writes. Its lines are
// cut to the terminal's width and its height, so that the view can be
// erased exactly.
func (o *demoOutput) draw(render func(io.Writer)) {
	if !o.tty {
		return
	}
	var buf bytes.Buffer
	render(&buf)
	width, height, err := term.GetSize(o.fd)
	if err != nil || width <= 0 {
		width, height = 100, 40
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if max := height - 2; max > 0 && len(lines) > max {
		lines = lines[:max]
	}
	o.clear()
	for _, l := range lines {
		fmt.Fprintln(o.w, cutRunes(l, width-1))
	}
	o.block = len(lines)
}

// clear erases the progress view.
func (o *demoOutput) clear() {
	if o.block > 0 {
		fmt.Fprintf(o.w, "\x1b[%dA\x1b[J", o.block)
		o.block = 0
	}
}

// cutRunes returns s cut to n runes.
func cutRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
