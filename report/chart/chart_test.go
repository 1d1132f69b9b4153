package chart

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// element is a parsed SVG element.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

// parse decodes an SVG with encoding/xml and returns its elements in
// document order; it fails the test on malformed XML.
func parse(t *testing.T, svg []byte) []element {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var out []element
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := element{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(tk)
			}
		}
	}
	if len(out) == 0 || out[0].name != "svg" || out[0].attrs["xmlns"] != "http://www.w3.org/2000/svg" {
		t.Fatalf("the root is not an svg element in the SVG namespace: %+v", out[:min(1, len(out))])
	}
	return out
}

func TestChartSeriesBandsAndAxes(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	c := Chart{
		Title:  "Error rate",
		YLabel: "error rate (%)",
		Series: []Series{
			{Name: "canary (on)", Points: []Point{{X: at(0), Y: 1}, {X: at(10), Y: 3}, {X: at(20), Y: 2, Break: true}, {X: at(30), Y: 4}}},
			{Name: "baseline (off)", Points: []Point{{X: at(0), Y: 0.5}, {X: at(30), Y: 0.5}}, Dashed: true},
		},
		Bands: []Band{{From: at(0), To: at(20), Label: "5%"}, {From: at(20), To: at(40), Label: "25%"}},
	}
	svg, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	els := parse(t, svg)
	var series, bands, circles []element
	texts := map[string]bool{}
	for _, e := range els {
		switch {
		case e.name == "g" && e.attrs["class"] == "series":
			series = append(series, e)
		case e.name == "rect" && e.attrs["class"] == "band":
			bands = append(bands, e)
		case e.name == "circle":
			circles = append(circles, e)
		case e.name == "text":
			texts[e.text] = true
		}
	}
	if len(series) != 2 || series[0].attrs["data-name"] != "canary (on)" || series[1].attrs["data-name"] != "baseline (off)" {
		t.Errorf("series groups %+v", series)
	}
	if len(bands) != 2 {
		t.Errorf("%d bands, want 2", len(bands))
	}
	if len(circles) != 6 {
		t.Errorf("%d points drawn, want 6", len(circles))
	}
	for _, want := range []string{"Error rate", "error rate (%)", "5%", "25%", "canary (on)", "baseline (off)", "12:00:00", "time (UTC), 2026-03-01"} {
		if !texts[want] {
			t.Errorf("no text %q in the chart; texts: %v", want, texts)
		}
	}
	// The break starts a new run of the canary's line.
	if s := string(svg); strings.Count(s, `d="M`) != 2 || !strings.Contains(s, " M") {
		t.Errorf("want the canary's path in two runs and the baseline's in one:\n%s", s)
	}
	// The value axis reaches the largest value: 4 rounds up to 5.
	if !texts["5"] {
		t.Errorf("the value axis does not reach 5: %v", texts)
	}
}

func TestChartStepSeriesHoldsItsLastValue(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := Chart{Title: "Percentage", YMax: 100, Width: 400, Height: 200, Series: []Series{{
		Name: "canary", Step: true, End: t0.Add(3 * time.Hour),
		Points: []Point{{X: t0, Y: 5}, {X: t0.Add(time.Hour), Y: 25}, {X: t0.Add(2 * time.Hour), Y: 0}},
	}}}
	svg, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	var path string
	for _, e := range parse(t, svg) {
		if e.name == "path" {
			path = e.attrs["d"]
		}
	}
	// Three values, two rises/falls (H then V) and the hold to End.
	if strings.Count(path, "H") != 3 || strings.Count(path, "V") != 3 || !strings.HasPrefix(path, "M") {
		t.Errorf("step path %q", path)
	}
	// The plot's right edge is x = 400 - marginRight: the hold ends there.
	if !strings.Contains(path, "H384 ") {
		t.Errorf("the last value does not hold to the end of the axis: %q", path)
	}
}

func TestChartEscapesText(t *testing.T) {
	t0 := time.Now()
	nasty := `<script>alert("x")</script> & ]]> ` + "\x00\x1b"
	c := Chart{Title: nasty, YLabel: nasty, Series: []Series{{Name: nasty, Color: `red"/><script>`, Points: []Point{{X: t0, Y: 1}}}},
		Bands: []Band{{From: t0.Add(-time.Minute), To: t0.Add(time.Minute), Label: nasty}}}
	svg, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	els := parse(t, svg)
	for _, e := range els {
		if e.name == "script" {
			t.Fatalf("text became an element: %s", svg)
		}
	}
	if !strings.Contains(string(svg), "&lt;script&gt;") {
		t.Errorf("the title is not escaped: %s", svg)
	}
}

func TestChartWithoutData(t *testing.T) {
	c := Chart{Title: "p99 latency", Empty: "no latency guard", Series: []Series{{Name: "canary", Points: []Point{{X: time.Now(), Y: math.NaN()}}}}}
	svg, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range parse(t, svg) {
		if e.name == "text" && e.attrs["class"] == "empty" && e.text == "no latency guard" {
			found = true
		}
		if e.name == "path" {
			t.Errorf("a chart without data drew a path")
		}
	}
	if !found {
		t.Errorf("no empty-chart message: %s", svg)
	}
}

func TestChartLongSeriesHasNoMarkers(t *testing.T) {
	t0 := time.Now()
	var ps []Point
	for i := range 1000 {
		ps = append(ps, Point{X: t0.Add(time.Duration(i) * time.Minute), Y: float64(i % 7)})
	}
	svg, err := (Chart{Title: "long", Series: []Series{{Name: "x", Points: ps}}}).SVG()
	if err != nil {
		t.Fatal(err)
	}
	paths, circles := 0, 0
	for _, e := range parse(t, svg) {
		switch e.name {
		case "path":
			paths++
		case "circle":
			circles++
		}
	}
	if paths != 1 || circles != 0 || len(svg) > 40000 {
		t.Errorf("%d paths, %d markers, %d bytes", paths, circles, len(svg))
	}
}

func TestChartRejectsTinySize(t *testing.T) {
	if _, err := (Chart{Width: 50, Height: 50}).SVG(); err == nil {
		t.Error("a 50x50 chart was drawn")
	}
}

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{0.7, 1}, {1, 1}, {1.2, 2}, {2.2, 2.5}, {3, 5}, {7, 10}, {42, 50}, {0.031, 0.05}, {100, 100}} {
		if got := niceCeil(c.in); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestTimeTicksAreFewAndInside(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 7, 0, time.UTC)
	for _, span := range []time.Duration{3 * time.Second, 40 * time.Second, 7 * time.Minute, 5 * time.Hour, 11 * 24 * time.Hour} {
		ticks := timeTicks(from, from.Add(span))
		if len(ticks) < 1 || len(ticks) > 7 {
			t.Errorf("span %v: %d ticks", span, len(ticks))
		}
		for _, tk := range ticks {
			if tk.Before(from) || tk.After(from.Add(span)) {
				t.Errorf("span %v: tick %v outside the axis", span, tk)
			}
		}
	}
}
