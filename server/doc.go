// Package server is the wsify event loop: it accepts TCP connections on raw
// non-blocking sockets, routes GET /ws to a gobwas/ws upgrade and everything
// else to fasthttp, and serves upgraded connections from a fixed pool of
// workers woken by the netpoll poller, with no goroutine per connection.
//
// Where each path lives (a plain connection's path first; TLS and
// compression are branches taken from it, in files of their own):
//
//	server.go      Server, New, Start, Shutdown
//	config.go      Config: every setting, its default and its check
//	accept.go      accept, register a socket, forget it
//	table.go       every socket by fd: counting, shutdown, the ping sweep
//	conn.go        type conn, its events and its handler (Run)
//	handshake.go   the request head: upgrade, refuse, or hand to fasthttp
//	read.go        read the socket, parse frames, reassemble messages
//	command.go     decode a message, ask the authorizer, run the command
//	publish.go     Publish, and Enqueue: a publication onto subscribers,
//	               each checking itself against the filter of to, except
//	               and echo:false
//	write.go       enqueue, Flush and the writev loop
//	outbox.go      the per-connection queue of frames
//	close.go       requestClose, close, linger and release
//	disconnect.go  the table of ways a connection ends (code, reason)
//	ping.go        the sweeper that pings silent peers and drops dead ones
//	limits.go      connection cap, origins; ratelimit.go: commands per second
//	history.go     channel history: publishing with offsets, recovering joins,
//	               the history command; historyhttp.go: GET /history;
//	               historyremote.go: histories the broker (Redis) keeps
//	presence.go    presence: joins and leaves handed to the broker, join and
//	               leave events, the presence and presence_stats commands;
//	               presencehttp.go: GET /presence and /presence_stats
//	joinconfirm.go a join answered once the broker confirmed its subscription
//	idempotency.go POST /broadcast Idempotency-Key: retries published once
//	broker.go      the link between the hub and the broker; client broadcasts
//	               waiting on a networked broker, off the workers
//	tls.go         TLS stages; tls_write.go: sealing the outbox
//	deflate.go     permessage-deflate negotiation and decompression
//	broadcasthttp.go  POST /broadcast: one publication, a channels list,
//	               an array body; the receivers in every answer
//	kick.go        POST /disconnect, and the control messages that carry
//	               it to the other nodes
//	http.go        the public port's HTTP; admin.go: the admin address;
//	               httplisten.go: how fasthttp gets the sockets routed to it;
//	               protected.go: operator endpoints for loopback only
//	health.go      /healthz, answered on the event loop when it can be
//	stats.go       every counter; metrics.go: /metrics from the same snapshot
//	logs.go        debug lines for connections that end badly
//	handoff.go     a new process takes the sockets over: the control socket;
//	               handoff_give.go: the old side, one ordered queue of
//	               connections and publications; handoff_conn.go: a
//	               connection recorded and adopted; handoff_take.go: the
//	               new side; handoff_switch.go: from the old process's
//	               broker subscription to the new one's; drain.go: the
//	               gentle drain of what stays
//
// Leaves that never touch a connection are packages of their own under
// internal/: pool (the workers), wheel (deadlines), httphead (request
// heads and origins), tlsio (ClientHello and the TLS transport) and prom
// (the Prometheus text format).
//
// A connection is handled by at most one worker at a time (its "handler"),
// which owns its read state, its channels and its closing. Writes come from
// any worker through the connection's bounded outbox.
//
// Locks nest in the order written in locksordering.txt at the repository
// root; conn.mu is below the hub's locks and above the wheel, table,
// poller and pool locks.
package server
