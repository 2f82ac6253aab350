// Package prom writes metrics in the Prometheus text exposition format
// (version 0.0.4). The values come from the caller's atomics at scrape
// time, so the paths that count pay nothing for the format.
package prom

import (
	"fmt"
	"io"
)

// Family writes the # HELP and # TYPE lines that head a metric family.
func Family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// Sample writes one sample of a family with one label.
func Sample(w io.Writer, name, label, value string, v uint64) {
	fmt.Fprintf(w, "%s{%s=%q} %d\n", name, label, value, v)
}

// Sample2 writes one sample of a family with two labels.
func Sample2(w io.Writer, name, label1, value1, label2, value2 string, v uint64) {
	fmt.Fprintf(w, "%s{%s=%q,%s=%q} %d\n", name, label1, value1, label2, value2, v)
}

// Gauge writes a family of one unlabelled gauge.
func Gauge(w io.Writer, name, help string, v int64) {
	Family(w, name, "gauge", help)
	fmt.Fprintf(w, "%s %d\n", name, v)
}

// Counter writes a family of one unlabelled counter.
func Counter(w io.Writer, name, help string, v uint64) {
	Family(w, name, "counter", help)
	fmt.Fprintf(w, "%s %d\n", name, v)
}
