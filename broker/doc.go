// Package broker connects wsify nodes so a publication on any node reaches
// the subscribers of every node.
//
// A Broker is opened from a Config whose zero value is the in-process
// "memory" driver: no network, one node. The "redis" driver rides on Redis
// pub/sub (github.com/redis/go-redis/v9), the "redis-cluster" driver on
// Redis Cluster sharded pub/sub (cluster.go) and the "nats" driver on core
// NATS (github.com/nats-io/nats.go).
//
// The node tells its broker which channels it wants (Subscribe when the
// first local client joins, Unsubscribe when the last one leaves), so each
// node holds at most one broker subscription per channel, never one per
// client. These calls only record the wish and never wait on the network:
// the driver applies it in the background and, after a reconnect, applies
// the whole wish list again.
//
// What travels is the WebSocket frame the publishing node already encoded,
// behind a short envelope naming the node (see envelope.go), so receiving
// nodes fan it out without re-encoding and a node ignores its own
// publications, which it has delivered locally already.
//
// A networked driver is up or down (Health). While it is down Publish fails
// with ErrUnavailable at once, subscriptions are kept as wishes, and the
// driver reconnects with exponential backoff and jitter between
// Config.MinBackoff and Config.MaxBackoff. It reports itself up again only
// once the broker has confirmed every subscription, so a publication made
// after that reaches this node.
//
// Presence (Presencer): who is in each channel, shared by the nodes of a
// memory bus (presence.go) or kept in Redis by the redis and redis-cluster
// drivers (redispresence.go), with the join and leave events that follow
// each change to the other nodes. NATS keeps none.
// after that reaches this node. A publication sent that got no answer in
// time fails with ErrUnconfirmed (unconfirmed.go): it may have been
// delivered.
//
// The Redis drivers also say when one channel's subscription is confirmed
// (Confirmer, confirm.go: by the reply to the last command naming it on
// its connection) and keep channel histories shared by every node
// (Historian: redishistory.go, clusterhistory.go), with idempotency keys
// stored by the script that publishes.
package broker
