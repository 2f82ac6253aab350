// Package jsclient embeds wsify-client (wsify.js, the JavaScript client of
// this directory) so the binary can serve it: the console imports it from
// GET /wsify.js, with no build step.
package jsclient

import _ "embed"

// Module is wsify.js, an ES module, served as text/javascript.
//
//go:embed wsify.js
var Module []byte
