// Package server is the wsify event loop: it accepts TCP connections on raw
// non-blocking sockets, routes GET /ws to a gobwas/ws upgrade and everything
// else to fasthttp, and serves upgraded connections from a fixed pool of
// workers woken by the netpoll poller, with no goroutine per connection.
//
// A connection is handled by at most one worker at a time (its "handler"),
// which owns its read state, its channels and its closing. Writes come from
// any worker through the connection's bounded outbox.
//
// Lock order: a broker stripe lock (server/broker.go, held around a join or
// leave and the broker call it triggers), then hub locks, then conn.mu, then
// the poller's own lock. A connection never calls into the hub while holding
// conn.mu, and nothing calls the broker while holding a hub lock.
package server
