// Package httphead reads the parts of an HTTP/1.1 request head that the
// event loop needs before it decides where a connection goes: the request
// line, named header values and the Origin of a browser's page (and, for
// the HTTP server, the Idempotency-Key of a POST /broadcast). It works
// on the raw bytes the event loop has read, which may be hostile, and
// never allocates on the paths taken per request.
package httphead
