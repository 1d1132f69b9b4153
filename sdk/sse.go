package sdk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// maxEventSize bounds one line and one event's data. A snapshot of 10,000
// flags is a few megabytes; anything near this limit is a broken server or
// proxy, and the client drops the connection rather than its memory.
const maxEventSize = 64 << 20

// errEventTooLarge ends a connection whose event exceeds maxEventSize.
var errEventTooLarge = fmt.Errorf("an event is larger than %d bytes", maxEventSize)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	typ  string // "message" when the event names none
	id   string // the last event ID at dispatch, as the SSE spec defines it
	data []byte
}

// sseReader parses a text/event-stream by the rules of the HTML standard
// (section "Server-sent events", interpreting an event stream): lines end
// with CRLF, LF or CR; a leading BOM is skipped; a line starting with a
// colon is a comment; "field: value" loses one space after the colon;
// data lines accumulate joined by LF; an empty line dispatches; an event
// cut off by the end of the stream is discarded.
type sseReader struct {
	r       *bufio.Reader
	line    []byte
	skipLF  bool // the last line ended with CR: a following LF is part of it
	started bool
	lastID  string
	// retry is the reconnection time of the last valid retry field, or 0.
	retry time.Duration
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 32<<10)}
}

// next returns the next event. At the end of the stream it returns io.EOF
// (or the read error), discarding an event that was not complete.
func (p *sseReader) next() (sseEvent, error) {
	ev := sseEvent{}
	var data []byte
	hasData := false
	for {
		line, err := p.readLine()
		if err != nil {
			if hasData && err == io.EOF {
				err = io.ErrUnexpectedEOF // the stream ended inside an event
			}
			return sseEvent{}, err
		}
		if !p.started {
			p.started = true
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if len(line) == 0 {
			if !hasData {
				ev.typ = ""
				continue
			}
			if ev.typ == "" {
				ev.typ = "message"
			}
			ev.id = p.lastID
			ev.data = data[:len(data)-1] // drop the LF after the last data line
			return ev, nil
		}
		if line[0] == ':' {
			continue // a comment: the server's keep-alive ping
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.typ = string(value)
		case "data":
			if len(data)+len(value) >= maxEventSize {
				return sseEvent{}, errEventTooLarge
			}
			data = append(data, value...)
			data = append(data, '\n')
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.lastID = string(value)
			}
		case "retry":
			if ms, ok := digits(value); ok {
				p.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// digits parses a retry value: ASCII digits only.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// readLine returns the next line without its end. The slice is valid
// until the next call. A last line without an end is returned with the
// error that ended the stream, and so never completes an event.
func (p *sseReader) readLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		if _, err := p.r.Peek(1); err != nil {
			if err == io.EOF && len(p.line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b, _ := p.r.Peek(p.r.Buffered())
		if p.skipLF {
			p.skipLF = false
			if b[0] == '\n' {
				_, _ = p.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			if len(p.line)+len(b) >= maxEventSize {
				return nil, errEventTooLarge
			}
			p.line = append(p.line, b...)
			_, _ = p.r.Discard(len(b))
			continue
		}
		p.line = append(p.line, b[:i]...)
		p.skipLF = b[i] == '\r'
		_, _ = p.r.Discard(i + 1)
		return p.line, nil
	}
}

// errStreamEnded is the reason of a stream the server closed cleanly.
var errStreamEnded = errors.New("the server ended the stream")
