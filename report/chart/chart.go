// Package chart draws small time-series charts as standalone SVG: lines and
// steps over a time axis, with value and time axes, a legend and shaded
// bands that mark periods such as the stages of a rollout. It needs no
// script and no external resource, so the SVG can be written to a file or
// inlined in an HTML page as it is.
//
// Every text that reaches the SVG (titles, labels, series names) is
// escaped, so any input gives well-formed XML.
package chart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Point is one observation of a series.
type Point struct {
	X time.Time
	Y float64
	// Break starts a new run of the line at this point instead of joining
	// it to the previous one: for values that start again from nothing,
	// such as cumulative figures at a new stage.
	Break bool
}

// Series is one line of a chart.
type Series struct {
	// Name is shown in the legend.
	Name   string
	Points []Point
	// Step draws the series as a step function: each value holds until the
	// next point, and the last one until End (or the chart's end).
	Step bool
	// End, for a step series, is where its last value stops; zero means
	// the chart's end.
	End time.Time
	// Color is an SVG colour; empty picks one from the palette.
	Color string
	// Dashed draws the line dashed.
	Dashed bool
}

// Band is a shaded period of the time axis with a label at its top.
type Band struct {
	From, To time.Time
	Label    string
}

// Chart is one chart. Its zero value, with series added, draws a 720×280
// chart whose value axis starts at zero.
type Chart struct {
	// Title is drawn above the plot.
	Title string
	// YLabel names the value axis, such as "error rate (%)".
	YLabel string
	// YFormat formats a value axis tick; nil prints the number.
	YFormat func(float64) string
	// YMax, if above zero, is the least top of the value axis (100 for a
	// percentage that should show its whole range).
	YMax   float64
	Series []Series
	Bands  []Band
	// From and To bound the time axis; zero ones fit the data and bands.
	From, To time.Time
	// Width and Height are the SVG's size in pixels; zero means 720×280.
	Width, Height int
	// Empty is the text drawn when there is nothing to plot; "" means
	// "no data".
	Empty string
}

// palette holds the default colours, chosen to be told apart in print and
// by most colour-blind readers.
var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// maxMarkers is the most points of a series drawn with a marker each;
// longer series are drawn as a line alone, to keep the SVG small.
const maxMarkers = 150

// Layout of the plot inside the SVG.
const (
	marginLeft   = 64
	marginRight  = 16
	marginTop    = 48
	marginBottom = 40
)

// SVG returns the chart as a standalone SVG document (with an XML
// namespace, without an XML declaration, so that it can also be inlined in
// HTML). It fails only when the chart's size is negative or too small to
// hold a plot.
func (c Chart) SVG() ([]byte, error) {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 720
	}
	if h == 0 {
		h = 280
	}
	if w < marginLeft+marginRight+40 || h < marginTop+marginBottom+40 {
		return nil, fmt.Errorf("chart %dx%d is too small: use at least %dx%d", w, h, marginLeft+marginRight+40, marginTop+marginBottom+40)
	}
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)
	from, to, ok := c.timeRange()
	ymax := c.valueMax()

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" font-family="sans-serif" font-size="11">`, w, h, w, h)
	b.WriteString("<title>")
	b.WriteString(escape(c.Title))
	b.WriteString("</title>")
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold" fill="#222222">%s</text>`, marginLeft, escape(c.Title))

	if !ok {
		empty := c.Empty
		if empty == "" {
			empty = "no data"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%s" fill="none" stroke="#bbbbbb"/>`, marginLeft, marginTop, num(pw), num(ph))
		fmt.Fprintf(&b, `<text class="empty" x="%s" y="%s" text-anchor="middle" fill="#666666">%s</text>`, num(marginLeft+pw/2), num(marginTop+ph/2), escape(empty))
		b.WriteString("</svg>")
		return b.Bytes(), nil
	}

	span := to.Sub(from).Seconds()
	xOf := func(t time.Time) float64 {
		return marginLeft + pw*t.Sub(from).Seconds()/span
	}
	yOf := func(v float64) float64 {
		return marginTop + ph*(1-v/ymax)
	}

	// Bands first, under everything else.
	for i, band := range c.Bands {
		x0, x1 := clamp(xOf(band.From), marginLeft, marginLeft+pw), clamp(xOf(band.To), marginLeft, marginLeft+pw)
		if x1 <= x0 {
			continue
		}
		fill := "#f3f3f3"
		if i%2 == 1 {
			fill = "#e6eef7"
		}
		fmt.Fprintf(&b, `<rect class="band" x="%s" y="%d" width="%s" height="%s" fill="%s"/>`, num(x0), marginTop, num(x1-x0), num(ph), fill)
		if band.Label != "" && x1-x0 >= 18 {
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="#555555">%s</text>`, num((x0+x1)/2), marginTop+12, escape(band.Label))
		}
	}

	// Value axis: grid lines and ticks.
	yfmt := c.YFormat
	if yfmt == nil {
		yfmt = func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	}
	for _, v := range niceTicks(ymax) {
		y := yOf(v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%s" x2="%s" y2="%s" stroke="#dddddd"/>`, marginLeft, num(y), num(marginLeft+pw), num(y))
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" fill="#444444">%s</text>`, marginLeft-6, num(y+4), escape(yfmt(v)))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text x="14" y="%s" transform="rotate(-90 14 %s)" text-anchor="middle" fill="#444444">%s</text>`, num(marginTop+ph/2), num(marginTop+ph/2), escape(c.YLabel))
	}

	// Time axis.
	for _, t := range timeTicks(from, to) {
		x := xOf(t)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#444444"/>`, num(x), num(marginTop+ph), num(x), num(marginTop+ph+4))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#444444">%s</text>`, num(x), num(marginTop+ph+16), escape(timeLabel(t, to.Sub(from))))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle" fill="#666666">%s</text>`, num(marginLeft+pw/2), h-6, escape(axisCaption(from, to)))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%s" fill="none" stroke="#888888"/>`, marginLeft, marginTop, num(pw), num(ph))

	// Series.
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		d := pathOf(s, to, xOf, yOf)
		fmt.Fprintf(&b, `<g class="series" data-name="%s">`, escape(s.Name))
		if d != "" {
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, d, escape(color), dash)
		}
		for _, p := range s.Points {
			if !finite(p.Y) || len(s.Points) > maxMarkers {
				continue
			}
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2" fill="%s"/>`, num(xOf(p.X)), num(yOf(p.Y)), escape(color))
		}
		b.WriteString("</g>")
	}

	// Legend, top right, one entry per series.
	x := float64(w - marginRight)
	for i := len(c.Series) - 1; i >= 0; i-- {
		s := c.Series[i]
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		tw := float64(len([]rune(s.Name)))*6.2 + 26
		x -= tw
		fmt.Fprintf(&b, `<line x1="%s" y1="34" x2="%s" y2="34" stroke="%s" stroke-width="3"/>`, num(x), num(x+16), escape(color))
		fmt.Fprintf(&b, `<text x="%s" y="38" fill="#222222">%s</text>`, num(x+20), escape(s.Name))
	}
	b.WriteString("</svg>")
	return b.Bytes(), nil
}

// pathOf returns the path data of a series, or "" when it has no finite
// point.
func pathOf(s Series, end time.Time, xOf func(time.Time) float64, yOf func(float64) float64) string {
	var d strings.Builder
	started := false
	lastY := 0.0
	for _, p := range s.Points {
		if !finite(p.Y) {
			started = false
			continue
		}
		x, y := xOf(p.X), yOf(p.Y)
		switch {
		case !started || p.Break:
			fmt.Fprintf(&d, "M%s %s", num(x), num(y))
		case s.Step:
			fmt.Fprintf(&d, "H%s V%s", num(x), num(y))
		default:
			fmt.Fprintf(&d, "L%s %s", num(x), num(y))
		}
		d.WriteByte(' ')
		started, lastY = true, y
	}
	if s.Step && started {
		e := s.End
		if e.IsZero() {
			e = end
		}
		fmt.Fprintf(&d, "H%s V%s", num(xOf(e)), num(lastY))
	}
	return strings.TrimSpace(d.String())
}

// timeRange returns the time axis: the chart's own bounds, else those of
// its points and bands. ok is false when there is no finite point.
func (c Chart) timeRange() (from, to time.Time, ok bool) {
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !finite(p.Y) {
				continue
			}
			ok = true
			if from.IsZero() || p.X.Before(from) {
				from = p.X
			}
			if to.IsZero() || p.X.After(to) {
				to = p.X
			}
		}
		if s.Step && !s.End.IsZero() && s.End.After(to) {
			to = s.End
		}
	}
	if !ok {
		return from, to, false
	}
	for _, band := range c.Bands {
		if band.From.Before(from) {
			from = band.From
		}
		if band.To.After(to) {
			to = band.To
		}
	}
	if !c.From.IsZero() {
		from = c.From
	}
	if !c.To.IsZero() {
		to = c.To
	}
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	return from, to, true
}

// valueMax returns the top of the value axis: a nice number at or above
// the largest value and YMax.
func (c Chart) valueMax() float64 {
	m := c.YMax
	for _, s := range c.Series {
		for _, p := range s.Points {
			if finite(p.Y) && p.Y > m {
				m = p.Y
			}
		}
	}
	if m <= 0 {
		return 1
	}
	return niceCeil(m)
}

// niceCeil rounds x up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// niceTicks returns the value ticks from 0 to top: five steps.
func niceTicks(top float64) []float64 {
	step := top / 5
	ticks := make([]float64, 0, 6)
	for i := 0; i <= 5; i++ {
		ticks = append(ticks, float64(i)*step)
	}
	return ticks
}

// tickSteps are the spacings tried for time ticks, smallest first.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// timeTicks returns round times between from and to, at most seven.
func timeTicks(from, to time.Time) []time.Time {
	span := to.Sub(from)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	var ticks []time.Time
	for t := from.UTC().Truncate(step); !t.After(to); t = t.Add(step) {
		if !t.Before(from) {
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// timeLabel formats a tick for the span of the axis, in UTC.
func timeLabel(t time.Time, span time.Duration) string {
	t = t.UTC()
	switch {
	case span < 10*time.Minute:
		return t.Format("15:04:05")
	case span < 2*24*time.Hour:
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

// axisCaption names the time axis: the date or dates it covers.
func axisCaption(from, to time.Time) string {
	f, t := from.UTC().Format("2006-01-02"), to.UTC().Format("2006-01-02")
	if f == t {
		return "time (UTC), " + f
	}
	return "time (UTC), " + f + " to " + t
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// num formats a coordinate with at most two decimals.
func num(x float64) string { return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) }

// escape returns s escaped for XML text and attribute values.
func escape(s string) string {
	var b strings.Builder
	// EscapeText writes to a strings.Builder, which never fails.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
