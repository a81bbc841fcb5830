package portal

// Charts drawn on the server as inline SVG, so the analytics need no
// JavaScript: a line chart (values over months) and a stacked bar chart
// (counts by kind over months). Every chart has a title and a text
// description for screen readers, and the table below it carries the same
// figures (and its CSV).

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// series is one line, or one stack of bars, of a chart.
type series struct {
	Name   string
	Values []float64
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH                  = 720, 240
	chartLeft, chartRight, chartTop = 56, 12, 12
	chartBottom                     = 44
	chartColours                    = 6
)

// niceMax rounds m up to 1, 2 or 5 times a power of ten (at least 1).
func niceMax(m float64) float64 {
	if m <= 0 || math.IsNaN(m) || math.IsInf(m, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= m {
			return f * p
		}
	}
	return 10 * p
}

// chartFrame writes the opening, the y grid with its labels and the x
// labels (every step-th) of a chart, and returns how to place a point.
func chartFrame(b *strings.Builder, title, desc string, labels []string, max float64, yfmt func(float64) string) (x func(i int) float64, y func(v float64) float64) {
	plotW, plotH := float64(chartW-chartLeft-chartRight), float64(chartH-chartTop-chartBottom)
	n := max1(len(labels))
	x = func(i int) float64 { return chartLeft + plotW*(float64(i)+0.5)/float64(n) }
	y = func(v float64) float64 { return chartTop + plotH*(1-v/max) }
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%[3]s-t %[3]s-d" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, svgID(title))
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%[1]s-d">%s</desc>`, svgID(title), html.EscapeString(title), html.EscapeString(desc))
	for i := 0; i <= 4; i++ {
		v := max * float64(i) / 4
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="ylab" x="%d" y="%.1f">%s</text>`,
			chartLeft, chartW-chartRight, y(v), y(v), chartLeft-6, y(v)+4, html.EscapeString(yfmt(v)))
	}
	step := max1((len(labels) + 7) / 8)
	for i, l := range labels {
		if i%step == 0 || i == len(labels)-1 {
			fmt.Fprintf(b, `<text class="xlab" x="%.1f" y="%d">%s</text>`, x(i), chartH-chartBottom+18, html.EscapeString(l))
		}
	}
	return x, y
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// svgID makes an element id of a title.
func svgID(title string) string {
	var b strings.Builder
	b.WriteString("c-")
	for _, r := range strings.ToLower(title) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// legend writes the legend of ss below the plot.
func legend(b *strings.Builder, ss []series) {
	x := chartLeft
	for i, s := range ss {
		fmt.Fprintf(b, `<rect class="s%d" x="%d" y="%d" width="12" height="12"/><text class="legend" x="%d" y="%d">%s</text>`,
			i%chartColours, x, chartH-16, x+16, chartH-6, html.EscapeString(s.Name))
		x += 28 + 8*len([]rune(s.Name))
	}
}

// lineChart draws ss as lines over labels (months); yfmt writes the y
// axis' values.
func lineChart(title, desc string, labels []string, ss []series, yfmt func(float64) string) template.HTML {
	var max float64
	for _, s := range ss {
		for _, v := range s.Values {
			max = math.Max(max, v)
		}
	}
	max = niceMax(max)
	var b strings.Builder
	x, y := chartFrame(&b, title, desc, labels, max, yfmt)
	for i, s := range ss {
		var pts []string
		for j, v := range s.Values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(j), y(v)))
		}
		fmt.Fprintf(&b, `<polyline class="line s%d" points="%s"/>`, i%chartColours, strings.Join(pts, " "))
	}
	legend(&b, ss)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above is escaped
}

// barChart draws ss as bars stacked per label; negative says which series
// count down (leaves below the axis are drawn as their own stack).
func barChart(title, desc string, labels []string, ss []series) template.HTML {
	var max float64
	for i := range labels {
		var sum float64
		for _, s := range ss {
			if i < len(s.Values) {
				sum += s.Values[i]
			}
		}
		max = math.Max(max, sum)
	}
	max = niceMax(max)
	var b strings.Builder
	x, y := chartFrame(&b, title, desc, labels, max, func(v float64) string { return fmt.Sprintf("%.0f", v) })
	bw := float64(chartW-chartLeft-chartRight) / float64(max1(len(labels))) * 0.7
	for i := range labels {
		base := 0.0
		for k, s := range ss {
			if i >= len(s.Values) || s.Values[i] <= 0 {
				continue
			}
			top := base + s.Values[i]
			fmt.Fprintf(&b, `<rect class="s%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %s</title></rect>`,
				k%chartColours, x(i)-bw/2, y(top), bw, y(base)-y(top), html.EscapeString(labels[i]), html.EscapeString(s.Name), trimFloat(s.Values[i]))
			base = top
		}
	}
	legend(&b, ss)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text above is escaped
}

// trimFloat writes v without a needless fraction.
func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
