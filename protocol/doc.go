// Package protocol holds the wsify wire format: WebSocket frame headers parsed
// from caller-owned buffers, the JSON commands clients send, and the replies
// and broadcast frames the server sends back.
//
// Nothing here performs I/O or keeps state between calls, so the same code
// serves the event loop, the HTTP handlers, the tests and the benchmarks.
// The hot-path functions (ParseHeader, Decode, AppendBroadcastFrame) do not
// allocate; their tests pin that with testing.AllocsPerRun.
package protocol
