package broker

import (
	"context"
	"errors"
	"io"
	"net"
)

// errNoMaster: the slot map has no master for a publication's slot; it
// was sent nowhere.
var errNoMaster = errors.New("no master")

// failure is what a failed publication says of itself: ErrUnconfirmed
// when err leaves unknown whether the broker ran it (it was handed to a
// connection and no reply came: a timeout, a connection lost mid-way),
// ErrUnavailable when the broker certainly did not: it replied with an
// error (MOVED, NOSCRIPT, CROSSSLOT... a reply means the command was
// refused), no connection could be dialled or taken from the pool, no
// master serves the slot, or the client library refused it (NATS).
func failure(err error) error {
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return ErrUnavailable
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrUnconfirmed
	}
	return ErrUnavailable
}
