package storecore

import (
	"runtime"
	"sync"
)

// decodeBatch is how many rows a ParallelDecoder hands a goroutine at once.
const decodeBatch = 128

// ParallelDecoder decodes rows of type R into values of type T on a
// goroutine per processor while the caller reads the next rows: decoding
// JSON costs far more than reading a row. The caller adds rows from one
// goroutine and must call Finish once, also when reading fails, to stop
// the goroutines.
type ParallelDecoder[R, T any] struct {
	decode func(R) (T, error)
	wg     sync.WaitGroup
	jobs   chan decodeJob[R]
	cur    decodeJob[R]
	total  int

	mu      sync.Mutex
	decoded [][]T // by batch number
	err     error // the first decoding error
}

type decodeJob[R any] struct {
	n    int
	rows []R
}

// NewParallelDecoder starts the goroutines that decode rows with decode.
func NewParallelDecoder[R, T any](decode func(R) (T, error)) *ParallelDecoder[R, T] {
	procs := runtime.GOMAXPROCS(0)
	d := &ParallelDecoder[R, T]{
		decode: decode,
		jobs:   make(chan decodeJob[R], procs),
		cur:    decodeJob[R]{rows: make([]R, 0, decodeBatch)},
	}
	for range procs {
		d.wg.Go(d.work)
	}
	return d
}

func (d *ParallelDecoder[R, T]) work() {
	for b := range d.jobs {
		out := make([]T, len(b.rows))
		var err error
		for i, r := range b.rows {
			if out[i], err = d.decode(r); err != nil {
				break
			}
		}
		d.mu.Lock()
		d.decoded[b.n] = out
		if err != nil && d.err == nil {
			d.err = err
		}
		d.mu.Unlock()
	}
}

// Add queues one row for decoding.
func (d *ParallelDecoder[R, T]) Add(r R) {
	d.cur.rows = append(d.cur.rows, r)
	d.total++
	if len(d.cur.rows) == decodeBatch {
		d.send()
		d.cur = decodeJob[R]{n: d.cur.n + 1, rows: make([]R, 0, decodeBatch)}
	}
}

func (d *ParallelDecoder[R, T]) send() {
	d.mu.Lock()
	d.decoded = append(d.decoded, nil)
	d.mu.Unlock()
	d.jobs <- d.cur
}

// Finish waits for the goroutines and returns the decoded values in the
// order their rows were added, or the first decoding error.
func (d *ParallelDecoder[R, T]) Finish() ([]T, error) {
	if len(d.cur.rows) > 0 {
		d.send()
	}
	close(d.jobs)
	d.wg.Wait()
	if d.err != nil {
		return nil, d.err
	}
	out := make([]T, 0, d.total)
	for _, b := range d.decoded {
		out = append(out, b...)
	}
	return out, nil
}
