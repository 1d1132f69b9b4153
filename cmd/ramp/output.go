package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

func checkOutput(f string) error {
	switch f {
	case formatTable, formatJSON, formatYAML:
		return nil
	}
	return usageErrorf("-o %q is not an output format: use table, json or yaml", f)
}

// render writes v to stdout as JSON or YAML, or calls table with a
// tabwriter for the table format.
func (a *app) render(v any, table func(w io.Writer)) error {
	switch a.output {
	case formatJSON:
		return writeJSON(a.stdout, v)
	case formatYAML:
		return writeYAML(a.stdout, v)
	}
	tw := newTable(a.stdout)
	table(tw)
	return tw.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one tab-separated table row.
func row(w io.Writer, cols ...string) {
	fmt.Fprintln(w, strings.Join(cols, "\t"))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeYAML writes v as YAML with the field names and order of its JSON
// form, so that the two formats describe a value the same way.
func writeYAML(w io.Writer, v any) error {
	b, err := toYAML(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func toYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	n, err := jsonToNode(j)
	if err != nil {
		return nil, err
	}
	return encodeYAML(n)
}

func encodeYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// formatPercent prints a percentage without trailing zeros: 5, 12.5, 0.001.
func formatPercent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// formatTime prints a time for a table, "-" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// orDash returns s, or "-" for an empty cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// nonNil returns an empty slice for nil, so that JSON shows [] not null.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// printDone reports a change that returns no data, such as a deletion: a
// line "deleted flag KEY" in table format, an object otherwise.
func (a *app) printDone(what, kind, key string) error {
	return a.render(map[string]string{"result": what, "kind": kind, "key": key}, func(w io.Writer) {
		fmt.Fprintln(w, what, kind, key)
	})
}

// trimIs turns a message of ramp.CheckKey ("is required") into the tail of
// a sentence that names the key ("flag key required").
func trimIs(msg string) string { return strings.TrimPrefix(msg, "is ") }
