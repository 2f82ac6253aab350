// Package tlsio is the TLS plumbing of the event loop that never touches a
// connection's own state: telling a complete ClientHello from a partial one
// (hello.go) and the net.Conn that crypto/tls runs over, blocking on a dup
// of the socket for the handshake and non-blocking under readiness after it
// (transport.go).
package tlsio
