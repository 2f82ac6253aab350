package bench

import (
	"fmt"
	"math"
	"strings"
)

// latencyChart draws the distributions in hists: their density over
// log-spaced bins on top, their CDF below, with p50/p90/p99 marked.
func latencyChart(title string, hists map[string]*Hist) string {
	ls := labels(hists)
	if len(ls) == 0 {
		return ""
	}
	lo, hi := math.Inf(1), 0.0
	for _, l := range ls {
		h := hists[l]
		b := h.buckets()
		lo = math.Min(lo, math.Max(float64(bucketLow(b[0])), 1)/1000)
		hi = math.Max(hi, float64(h.Max+1)/1000)
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	var sb strings.Builder
	dens := &plot{sb: &sb, left: 80, top: 40, w: 640, h: 200, xmin: lo, xmax: hi, logx: true}
	cdf := &plot{sb: &sb, left: 80, top: 330, w: 640, h: 260, xmin: lo, xmax: hi, logx: true, ymin: 0, ymax: 100}
	series := make([][][2]float64, len(ls))
	for i, l := range ls {
		series[i] = density(hists[l], lo, hi, 60)
		for _, pt := range series[i] {
			dens.ymax = math.Max(dens.ymax, pt[1])
		}
	}
	dens.ymax = math.Max(dens.ymax*1.1, 1e-9)
	dens.axes(title+": distribution", "", "% of samples per bin", logTicks(lo, hi), niceTicks(0, dens.ymax, 4), fmtMs, fmtPct)
	cdf.axes(title+": cumulative", "latency (ms, log scale)", "% at or below", logTicks(lo, hi), niceTicks(0, 100, 5), fmtMs, fmtPct)
	for i, l := range ls {
		color := palette[i%len(palette)]
		dens.polyline(series[i], color, "")
		cdf.polyline(cumulative(hists[l]), color, "")
		s := hists[l].Summary()
		cdf.legendLow(i, len(ls), color, fmt.Sprintf("%s: n=%d  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms", l, s.Count, s.P50, s.P90, s.P99, s.Max))
	}
	markQuantiles(cdf, hists[ls[0]])
	return svgDoc(760, 640, sb.String())
}

func fmtPct(v float64) string { return fmtMs(math.Round(v*100) / 100) }

// density bins h into n log-spaced bins between lo and hi (ms) and
// returns a step line of the percentage in each.
func density(h *Hist, lo, hi float64, n int) [][2]float64 {
	bins := make([]float64, n)
	step := math.Log10(hi/lo) / float64(n)
	for _, i := range h.buckets() {
		mid := float64(bucketLow(i)+bucketHigh(i)) / 2 / 1000
		k := int(math.Log10(math.Max(mid, lo)/lo) / step)
		bins[min(max(k, 0), n-1)] += float64(h.counts[i])
	}
	var pts [][2]float64
	for k, c := range bins {
		x0, x1 := lo*math.Pow(10, float64(k)*step), lo*math.Pow(10, float64(k+1)*step)
		y := 100 * c / float64(h.N)
		pts = append(pts, [2]float64{x0, y}, [2]float64{x1, y})
	}
	return pts
}

// cumulative returns the CDF of h as (ms, percent) points.
func cumulative(h *Hist) [][2]float64 {
	var pts [][2]float64
	var seen uint64
	for _, i := range h.buckets() {
		x := math.Min(float64(bucketHigh(i)), float64(h.Max+1)) / 1000
		if len(pts) == 0 {
			pts = append(pts, [2]float64{float64(bucketLow(i)) / 1000, 0})
		}
		seen += h.counts[i]
		pts = append(pts, [2]float64{x, 100 * float64(seen) / float64(h.N)})
	}
	return pts
}

func markQuantiles(p *plot, h *Hist) {
	for k, q := range []float64{.5, .9, .99} {
		x := h.Quantile(q) / 1000
		p.line(p.px(x), p.top, p.px(x), p.top+p.h, `stroke="#888" stroke-dasharray="4 3"`)
		p.text(p.px(x)-3, p.top+14+float64(k)*14, "end", `font-size="10" fill="#555"`, fmt.Sprintf("p%g %.2f ms", q*100, x))
	}
}

// rssChart draws the server's RSS against its connection count, with the
// 2 KiB per connection budget drawn from the baseline.
func rssChart(smp []Sample, baseline int64, budget float64) string {
	if len(smp) == 0 {
		return ""
	}
	var sb strings.Builder
	p := &plot{sb: &sb, left: 80, top: 40, w: 640, h: 360}
	var pts, ref [][2]float64
	for _, s := range smp {
		mb := float64(s.RSS) / (1 << 20)
		pts = append(pts, [2]float64{float64(s.Connections), mb})
		p.xmax, p.ymax = math.Max(p.xmax, float64(s.Connections)), math.Max(p.ymax, mb)
	}
	p.xmax = math.Max(p.xmax, 1)
	base := float64(baseline) / (1 << 20)
	ref = [][2]float64{{0, base}, {p.xmax, base + p.xmax*budget/(1<<20)}}
	p.ymax = math.Max(p.ymax, ref[1][1]) * 1.1
	p.axes("server RSS vs connections", "connections (GET /stats)", "RSS (MiB)", niceTicks(0, p.xmax, 6), niceTicks(0, p.ymax, 5),
		func(v float64) string { return fmt.Sprintf("%.0f", v) }, func(v float64) string { return fmt.Sprintf("%.0f", v) })
	p.polyline(ref, "#888", `stroke-dasharray="6 4"`)
	p.polyline(pts, palette[0], "")
	p.legend(0, palette[0], "RSS, sampled every 200ms during the ramp and after settling")
	p.legend(1, "#888", fmt.Sprintf("budget: baseline + %.0f B per connection", budget))
	return svgDoc(760, 460, sb.String())
}
