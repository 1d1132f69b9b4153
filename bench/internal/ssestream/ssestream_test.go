package ssestream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestChunkedStream(t *testing.T) {
	long := strings.Repeat("x", 10000) // longer than the read buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, part := range []string{
			"retry: 1000\n\n",
			"id: 3\nevent: snapshot\ndata: {\"a\":1}\n\n",
			": ping\n\n",
			"id: 4\nevent: change\ndata: " + long + "\ndata: two\n\n",
		} {
			_, _ = w.Write([]byte(part))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := Dial(ctx, strings.TrimPrefix(srv.URL, "http://"), "/s", "tok", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev, err := st.Next()
	if err != nil || ev.ID != 3 || ev.Type != "snapshot" || string(ev.Data) != `{"a":1}` {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	ev, err = st.Next()
	if err != nil || ev.ID != 4 || ev.Type != "change" || string(ev.Data) != long+"\ntwo" {
		t.Fatalf("second event: id %d type %q data %d bytes, %v", ev.ID, ev.Type, len(ev.Data), err)
	}
	if _, err := st.Next(); err == nil {
		t.Fatal("no error at the end of the stream")
	}
}

func TestDialRejectsErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no token", http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := Dial(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "/s", "bad", 4096)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want status 401", err)
	}
}
