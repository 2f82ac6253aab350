// Package events posts a node's lifecycle events (connect, disconnect,
// join, leave) to an HTTP endpoint in batches, so an app learns who comes
// and goes without polling. Emit never blocks its caller: events wait in a
// bounded queue, and what overflows it is dropped and counted. A batch
// that fails is retried with back-off; a leave that the same user undoes
// by joining again within the grace period is reported as neither.
package events
