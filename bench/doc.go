// Package bench is wsify's load tool: it drives a running or self-started
// wsify over loopback and measures what idle sockets cost (idle), how fast
// and how cheaply a publication reaches its subscribers (fanout) and how
// many connections per second the server upgrades (connect).
//
// The coordinator (Run) starts the server, spreads the client connections
// over worker processes (the same binary re-executed with WSBENCH_ROLE set;
// see Child) and over source addresses 127.0.0.2, 127.0.0.3, ... sized from
// the fd limit and the ephemeral port range, samples the server's /stats and
// /proc, and writes a JSON report and SVG charts. Workers hold their sockets
// on one epoll loop each, without a goroutine per connection, so the load
// generator stays lean beside the server on the same cores.
package bench
