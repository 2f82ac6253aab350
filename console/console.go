// Package console is wsify's operator page: one HTML file with its script
// and style inline, embedded in the binary, with no build step. It connects
// to /ws, joins, leaves and broadcasts, shows what arrives, and charts the
// server's numbers from /stats.
package console

import _ "embed"

// Page is the console, served as text/html at GET / (on the admin address
// when one is set).
//
//go:embed index.html
var Page []byte
