// Package console is wsify's operator page: one HTML file with its script
// and style inline, embedded in the binary, with no build step. It connects
// to /ws through the JavaScript client (clients/js, served beside it at
// /wsify.js), joins, leaves and broadcasts, shows what arrives, and charts
// the server's numbers from /stats.
package console

import (
	_ "embed"

	jsclient "github.com/wsify/wsify/clients/js"
)

// Page is the console, served as text/html at GET / (on the admin address
// when one is set).
//
//go:embed index.html
var Page []byte

// Client is the JavaScript client the page imports, an ES module served
// as text/javascript at GET /wsify.js beside the page.
var Client = jsclient.Module
