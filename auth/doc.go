// Package auth is the client of the authorizer webhook: an HTTP service that
// says yes or no to every connection and every command.
//
// The verdict is read from the status code alone: 200 allows, 5xx, a timeout
// or an unreachable authorizer mean it is down, anything else denies. The
// calls block, so the server makes them from a bounded pool of goroutines of
// their own and never from the workers that serve sockets.
package auth
