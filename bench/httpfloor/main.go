// Command httpfloor is the reference point of the OFREP load test: an
// HTTP server, in its own process, that answers POST
// /ofrep/v1/evaluate/flags/{key} with a fixed OFREP answer of the same
// size as ramp's, using net/http with nothing else: no authentication, no
// evaluation, no metrics. What ofrepload measures against it is the
// ceiling that net/http, the kernel's loopback and the load generator
// leave on this machine; the gap to ramp is ramp's own cost.
//
// It reads the request body (as ramp does) and checks nothing. It serves
// until interrupted, or for -for if set.
//
// Examples:
//
//	go run ./bench/httpfloor -addr 127.0.0.1:18090 &
//	go run ./bench/ofrepload -server http://127.0.0.1:18090 -sdk-token x
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "loopback address to listen on")
	dur := flag.Duration("for", 0, "stop after this long; 0 serves until interrupted")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost") {
		fmt.Fprintf(os.Stderr, "httpfloor: -addr %q: use 127.0.0.1:PORT\n", *addr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	if err := serve(ctx, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		os.Exit(1)
	}
}

// answer has the size and shape of ramp's answer for a boolean flag.
var answer = []byte(`{"key":"bench-0","value":true,"reason":"SPLIT","variant":"on","metadata":{"version":1,"seq":100}}` + "\n")

func serve(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(answer)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(answer)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "httpfloor: serving on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
