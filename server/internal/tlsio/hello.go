package tlsio

import "errors"

// The ClientHello is collected on the event loop, like a request head, before
// any goroutine or crypto is spent on the connection: a client that stalls
// before its ClientHello is complete costs its socket and this buffer only,
// and the handshake timeout drops it.

const (
	recordHeaderLen  = 5
	recordHandshake  = 0x16
	typeClientHello  = 1
	MaxHelloRecord   = 16384 + 2048 // a TLSPlaintext fragment may not exceed 2^14; leave room
	MaxClientHello   = 64 << 10     // no real ClientHello comes close
	HelloBufferStart = 2048
)

var (
	ErrNotTLS        = errors.New("tlsio: not a TLS client")
	ErrPlainHTTP     = errors.New("tlsio: plain HTTP on the TLS port")
	ErrHelloTooLarge = errors.New("tlsio: ClientHello too large")
)

// HelloDone reports whether b holds a complete ClientHello: one or
// more handshake records whose fragments add up to a client_hello message
// of the length it declares.
func HelloDone(b []byte) (bool, error) {
	if len(b) > 0 && b[0] != recordHandshake {
		return false, notTLS(b[0])
	}
	var msg [4]byte // handshake type and 24-bit length, from the fragments
	got := 0        // fragment bytes seen
	for len(b) >= recordHeaderLen {
		n := int(b[3])<<8 | int(b[4])
		if b[0] != recordHandshake || b[1] != 3 || n == 0 || n > MaxHelloRecord {
			return false, ErrNotTLS
		}
		if len(b) < recordHeaderLen+n {
			return false, nil
		}
		for _, x := range b[recordHeaderLen : recordHeaderLen+n] {
			if got < len(msg) {
				msg[got] = x
			}
			got++
		}
		if done, err := helloLength(msg, got); done || err != nil {
			return done, err
		}
		b = b[recordHeaderLen+n:]
	}
	return false, nil
}

// helloLength checks the message header once its 4 bytes are in and
// reports whether got covers the whole message.
func helloLength(msg [4]byte, got int) (bool, error) {
	if got < len(msg) {
		return false, nil
	}
	size := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	switch {
	case msg[0] != typeClientHello:
		return false, ErrNotTLS
	case size > MaxClientHello:
		return false, ErrHelloTooLarge
	}
	return got >= len(msg)+size, nil
}

// notTLS tells a plain HTTP request (a method starts with a capital) from
// other garbage, so the former gets an answer it can show.
func notTLS(first byte) error {
	if first >= 'A' && first <= 'Z' {
		return ErrPlainHTTP
	}
	return ErrNotTLS
}
