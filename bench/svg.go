package bench

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// plot draws one panel of an SVG chart: data coordinates map onto a
// pixel rectangle, with a logarithmic x axis when logx is set.
type plot struct {
	sb                     *strings.Builder
	left, top, w, h        float64 // pixel rectangle
	xmin, xmax, ymin, ymax float64
	logx                   bool
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}

func (p *plot) px(x float64) float64 {
	if p.logx {
		x, p0, p1 := math.Log10(math.Max(x, p.xmin)), math.Log10(p.xmin), math.Log10(p.xmax)
		return p.left + (x-p0)/(p1-p0)*p.w
	}
	return p.left + (x-p.xmin)/(p.xmax-p.xmin)*p.w
}

func (p *plot) py(y float64) float64 { return p.top + p.h - (y-p.ymin)/(p.ymax-p.ymin)*p.h }

func (p *plot) text(x, y float64, anchor, style, s string) {
	fmt.Fprintf(p.sb, `<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, style, html.EscapeString(s))
}

func (p *plot) line(x1, y1, x2, y2 float64, style string) {
	fmt.Fprintf(p.sb, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, x2, y2, style)
}

// axes draws the frame, the grid at the ticks and the labels.
func (p *plot) axes(title, xlabel, ylabel string, xt, yt []float64, fx, fy func(float64) string) {
	fmt.Fprintf(p.sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", p.left, p.top, p.w, p.h)
	grid := `stroke="#ddd"`
	for _, x := range xt {
		p.line(p.px(x), p.top, p.px(x), p.top+p.h, grid)
		p.text(p.px(x), p.top+p.h+16, "middle", `font-size="11"`, fx(x))
	}
	for _, y := range yt {
		p.line(p.left, p.py(y), p.left+p.w, p.py(y), grid)
		p.text(p.left-6, p.py(y)+4, "end", `font-size="11"`, fy(y))
	}
	p.text(p.left+p.w/2, p.top-10, "middle", `font-size="14" font-weight="bold"`, title)
	p.text(p.left+p.w/2, p.top+p.h+34, "middle", `font-size="12"`, xlabel)
	fmt.Fprintf(p.sb, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		p.left-48, p.top+p.h/2, p.left-48, p.top+p.h/2, html.EscapeString(ylabel))
}

func (p *plot) polyline(pts [][2]float64, color, extra string) {
	var b strings.Builder
	for _, pt := range pts {
		fmt.Fprintf(&b, "%.1f,%.1f ", p.px(pt[0]), p.py(pt[1]))
	}
	fmt.Fprintf(p.sb, `<polyline fill="none" stroke="%s" stroke-width="1.8" %s points="%s"/>`+"\n", color, extra, b.String())
}

// legend labels series i in the top left corner.
func (p *plot) legend(i int, color, label string) {
	x, y := p.left+12, p.top+16+float64(i)*16
	p.line(x, y-4, x+18, y-4, fmt.Sprintf(`stroke="%s" stroke-width="2"`, color))
	p.text(x+24, y, "start", `font-size="11"`, label)
}

// legendLow labels series i of n in the bottom right corner, which a
// CDF leaves empty.
func (p *plot) legendLow(i, n int, color, label string) {
	x, y := p.left+p.w-12, p.top+p.h-12-float64(n-1-i)*16
	p.line(x-18, y-4, x, y-4, fmt.Sprintf(`stroke="%s" stroke-width="2"`, color))
	p.text(x-24, y, "end", `font-size="11"`, label)
}

func svgDoc(w, h int, body string) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+
		"\n"+`<rect width="100%%" height="100%%" fill="white"/>`+"\n%s</svg>\n", w, h, w, h, body)
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	var t []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step/1e6; v += step {
		t = append(t, v)
	}
	return t
}

// logTicks returns 1, 2, 5 times the powers of ten within [lo, hi].
func logTicks(lo, hi float64) []float64 {
	var t []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				t = append(t, v)
			}
		}
	}
	return t
}

func fmtMs(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func labels(h map[string]*Hist) []string {
	var ls []string
	for l, x := range h {
		if x.N > 0 {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	return ls
}
