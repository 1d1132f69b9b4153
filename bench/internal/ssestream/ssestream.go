// Package ssestream opens SDK streams (GET /sdk/v1/stream, docs/stream.md)
// on plain TCP connections and reads their Server-Sent Events, with little
// memory and CPU per stream, so that thousands of them fit next to the
// server under test. It handles what ramp's server sends: HTTP/1.1 with
// chunked transfer encoding, and id/event/data/retry fields and comments.
package ssestream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"time"
)

// Stream is one open event stream. It is not safe for concurrent use,
// except Close, which may be called from any goroutine.
type Stream struct {
	conn net.Conn
	body *bufio.Reader
	line []byte
}

// Event is one dispatched event.
type Event struct {
	ID   int64
	Type string
	// Data is the event's data; it is valid until the next call of Next.
	Data []byte
}

// Dial connects to addr (host:port), requests path with the token as a
// bearer token and the extra headers (name, value pairs), and returns the
// stream once the server has answered 200 with its headers. bufSize is
// the size of the read buffer; lines longer than it are still read whole.
func Dial(ctx context.Context, addr, path, token string, bufSize int, headers ...string) (*Stream, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n", path, addr, token)
	for i := 0; i+1 < len(headers); i += 2 {
		req = fmt.Appendf(req, "%s: %s\r\n", headers[i], headers[i+1])
	}
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, bufSize)
	s := &Stream{conn: conn, body: br}
	status, chunked, err := s.readHeader(br)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if status != 200 {
		// The answer may be kept alive: read what is there, briefly.
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		msg, _ := io.ReadAll(io.LimitReader(br, 512))
		conn.Close()
		return nil, fmt.Errorf("GET %s: status %d: %s", path, status, bytes.TrimSpace(msg))
	}
	if chunked {
		s.body = bufio.NewReaderSize(httputil.NewChunkedReader(br), bufSize)
	}
	_ = conn.SetDeadline(time.Time{})
	return s, nil
}

func (s *Stream) readHeader(br *bufio.Reader) (status int, chunked bool, err error) {
	line, err := s.readLine(br)
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	for {
		line, err := s.readLine(br)
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			return status, chunked, nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(name, []byte("Transfer-Encoding")) && bytes.EqualFold(bytes.TrimSpace(value), []byte("chunked")) {
			chunked = true
		}
	}
}

// readLine returns the next line without its line ending. The line is
// valid until the next call.
func (s *Stream) readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.line = append(s.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.ReadSlice('\n')
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if err != nil {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// Next returns the next event, skipping comments and retry fields. It
// returns the read error when the stream ends.
func (s *Stream) Next() (Event, error) {
	var ev Event
	var data []byte
	has := false
	for {
		line, err := s.readLine(s.body)
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if !has {
				continue
			}
			ev.Data = data
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			ev.ID, _ = strconv.ParseInt(string(value), 10, 64)
		case "event":
			ev.Type = string(value)
		case "data":
			if has {
				data = append(data, '\n')
			}
			// s.line may be reused by the next readLine: copy.
			data = append(data, value...)
			has = true
		}
	}
}

// Close closes the connection; a Next in progress returns an error.
func (s *Stream) Close() error { return s.conn.Close() }
