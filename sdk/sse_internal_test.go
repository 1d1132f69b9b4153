package sdk

import (
	"errors"
	"hash/maphash"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func readAll(t *testing.T, r io.Reader) ([]sseEvent, *sseReader, error) {
	t.Helper()
	p := newSSEReader(r)
	var evs []sseEvent
	for {
		ev, err := p.next()
		if err != nil {
			return evs, p, err
		}
		evs = append(evs, ev)
	}
}

// TestSSEParse holds the parser to the event-stream rules of the HTML
// standard.
func TestSSEParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []sseEvent
		retry time.Duration
		err   error
	}{
		{name: "one event", in: "id: 3\nevent: change\ndata: {}\n\n",
			want: []sseEvent{{typ: "change", id: "3", data: []byte("{}")}}, err: io.EOF},
		{name: "CRLF line ends", in: "event: snapshot\r\ndata: a\r\n\r\n",
			want: []sseEvent{{typ: "snapshot", data: []byte("a")}}, err: io.EOF},
		{name: "CR line ends", in: "event: snapshot\rdata: a\r\rdata: b\r\r",
			want: []sseEvent{{typ: "snapshot", data: []byte("a")}, {typ: "message", data: []byte("b")}}, err: io.EOF},
		{name: "multi-line data joined by LF", in: "data: a\ndata:b\ndata:  c\n\n",
			want: []sseEvent{{typ: "message", data: []byte("a\nb\n c")}}, err: io.EOF},
		{name: "comments and pings are skipped", in: ": ping\n\n:\ndata: x\n: inside\n\n",
			want: []sseEvent{{typ: "message", data: []byte("x")}}, err: io.EOF},
		{name: "BOM at the start", in: "\uFEFFdata: x\n\n",
			want: []sseEvent{{typ: "message", data: []byte("x")}}, err: io.EOF},
		{name: "event without data is not dispatched", in: "event: change\nid: 7\n\ndata: y\n\n",
			want: []sseEvent{{typ: "message", id: "7", data: []byte("y")}}, err: io.EOF},
		{name: "field without colon", in: "data\n\n",
			want: []sseEvent{{typ: "message", data: []byte("")}}, err: io.EOF},
		{name: "unknown fields ignored", in: "foo: bar\ndata: x\n\n",
			want: []sseEvent{{typ: "message", data: []byte("x")}}, err: io.EOF},
		{name: "id persists and NUL ids are ignored", in: "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
			want: []sseEvent{{typ: "message", id: "1", data: []byte("a")}, {typ: "message", id: "1", data: []byte("b")}}, err: io.EOF},
		{name: "retry", in: "retry: 1500\n\nretry: 2s\n\n", retry: 1500 * time.Millisecond, err: io.EOF},
		{name: "event cut off by the end", in: "data: a\n\nevent: change\ndata: {\"seq\":",
			want: []sseEvent{{typ: "message", data: []byte("a")}}, err: io.ErrUnexpectedEOF},
		{name: "event without its blank line", in: "event: change\ndata: {}\n",
			err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, slow := range []bool{false, true} {
			name := tt.name
			var r io.Reader = strings.NewReader(tt.in)
			if slow {
				name += "/one byte at a time"
				r = iotest.OneByteReader(r)
			}
			t.Run(name, func(t *testing.T) {
				got, p, err := readAll(t, r)
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
				if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
					t.Errorf("events = %q, want %q", got, tt.want)
				}
				if p.retry != tt.retry {
					t.Errorf("retry = %v, want %v", p.retry, tt.retry)
				}
			})
		}
	}
}

// TestSSETooLarge drops a connection whose event would not fit.
func TestSSETooLarge(t *testing.T) {
	r := io.MultiReader(strings.NewReader("data: "), io.LimitReader(zeros{}, maxEventSize+10))
	_, _, err := readAll(t, r)
	if !errors.Is(err, errEventTooLarge) {
		t.Fatalf("err = %v, want errEventTooLarge", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// TestBackoff checks the bounds of every delay and that the ceiling
// doubles up to MaxBackoff.
func TestBackoff(t *testing.T) {
	for n := range 20 {
		ceil := min(MinBackoff<<n, MaxBackoff)
		for range 200 {
			d := backoff(MinBackoff, n)
			if d < ceil/10 || d >= ceil {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, d, ceil/10, ceil)
			}
		}
	}
}

// FuzzSSE feeds arbitrary bytes to the parser and to the event handler:
// neither may panic, and reading one byte at a time gives the same events.
func FuzzSSE(f *testing.F) {
	f.Add("id: 3\nevent: change\ndata: {\"seq\":3,\"flags\":[{\"key\":\"a\",\"type\":\"boolean\"}]}\n\n")
	f.Add("event: snapshot\r\ndata: {\"environment\":\"production\",\"seq\":1,\"flags\":[]}\r\n\r\n")
	f.Add(": ping\r\rretry: 10\rdata: x\r\r")
	f.Fuzz(func(t *testing.T, in string) {
		whole, _, err1 := readAll(t, strings.NewReader(in))
		slow, _, err2 := readAll(t, iotest.OneByteReader(strings.NewReader(in)))
		if !reflect.DeepEqual(whole, slow) || !errors.Is(err1, err2) && !errors.Is(err2, err1) {
			t.Fatalf("whole: %q %v; one byte at a time: %q %v", whole, err1, slow, err2)
		}
		c := &Client{log: slog.New(slog.DiscardHandler), ready: make(chan struct{}), wake: make(chan struct{}, 1),
			cacheKick: make(chan struct{}, 1), comp: compiler{seed: maphash.MakeSeed(), keySeed: 1}}
		for _, ev := range whole {
			c.handle(ev)
		}
	})
}
