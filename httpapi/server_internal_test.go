package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadlineRecorder is a ResponseRecorder that also takes write deadlines,
// as the server's own ResponseWriter does.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadline time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.deadline = t
	return nil
}

// TestResponseWriterReachesUnderlying checks that handlers behind the
// status-recording wrapper can still flush and set deadlines, as the
// streaming handlers need.
func TestResponseWriterReachesUnderlying(t *testing.T) {
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	rw := &responseWriter{ResponseWriter: rec}
	rc := http.NewResponseController(rw)
	if err := rc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if !rec.Flushed {
		t.Error("the recorder was not flushed")
	}
	if !wroteHeader(rw) {
		t.Error("a flushed response does not count as started")
	}
	when := time.Unix(1700000000, 0)
	if err := rc.SetWriteDeadline(when); err != nil {
		t.Fatalf("SetWriteDeadline: %v", err)
	}
	if !rec.deadline.Equal(when) {
		t.Errorf("deadline %v, want %v", rec.deadline, when)
	}
}
