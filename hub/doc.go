// Package hub is the channel registry and fan-out of wsify.
//
// Channels are hashed to a fixed array of shards, each with its own lock, so
// joins and publications on different channels rarely contend. A channel
// exists only while it has subscribers. The hub deals in encoded frames and
// Subscribers only: it never sees sockets or JSON.
//
// A publication is encoded once by the caller and the same bytes are queued
// on every subscriber under the channel's lock, which gives all subscribers
// one order of publications. The writes happen after the lock is released,
// split into chunks that run in parallel on the worker pool.
//
// A Message may carry a variant of its frame (the compressed form for
// subscribers that negotiated permessage-deflate); it is built at most once
// per publication, by the first subscriber that asks for it.
//
// A channel may keep a history (history.go, historyhub.go): its
// publications get offsets and are kept as encoded messages, and the
// offset, the history and every subscriber's queue change in one critical
// section, as does a join that replays what its client missed. Such a
// channel outlives its subscribers for its TTL. Channels without history
// take none of these paths.
//
// Locks nest as locksordering.txt at the repository root says: shard.mu,
// then channel.mu, then whatever a Subscriber locks in Enqueue. Nothing here
// calls into a Subscriber's Flush under a hub lock.
package hub
