package server

// maxIdleOut is the outbox capacity kept between bursts, so steady
// deliveries reuse it without allocating and a burst's spike is let go.
const maxIdleOut = 16

// outbox is what waits to be written to one connection: frames shared with
// every subscriber of a publication, written with one writev. It belongs to
// its conn and is guarded by conn.mu; the writer works on out[first:] with
// the lock released during the writev, which is safe because only the
// writer removes frames and publishers only append.
type outbox struct {
	out     [][]byte // frames queued; out[first:] unsent
	first   int      // index of the first unsent frame
	head    int      // bytes of out[first] already sent
	bytes   int      // bytes queued and unsent
	sending int      // of bytes, those in the writev under way
	// sealed is, on TLS only, how many frames of out are ciphertext: the
	// writer encrypts out[sealed:] before it writes (tls_write.go).
	sealed     int
	closeFrame []byte    // sent once what close keeps is written
	closeKeep  closeKeep // what close keeps of the frames queued; trimmed by the writer
}

// closeKeep is what a close keeps of an outbox. The writer trims it, under
// conn.mu between two writevs, never the closing handler: a writev under
// way holds frames that must stay until it has been accounted for.
type closeKeep uint8

const (
	keepOpen  closeKeep = iota // not closing
	keepAll                    // every frame queued goes before the close frame (shutdown)
	keepFrame                  // only a frame already started is finished, so none is cut
	keepNone                   // nothing more is written (no close frame: the peer is gone)
	kept                       // trimmed
)

// trimForClose applies closeKeep once. On TLS the unit is sealed
// ciphertext: it holds whole frames, so finishing what is sealed cuts none.
func (o *outbox) trimForClose(tls bool) {
	keep := len(o.out)
	switch {
	case o.closeKeep == keepAll:
	case o.closeKeep == keepFrame && tls:
		keep = o.sealed
	case o.closeKeep == keepFrame && o.head != 0:
		keep = o.first + 1
	default:
		keep = o.first
	}
	clear(o.out[keep:])
	o.out = o.out[:keep]
	o.sealed = min(o.sealed, keep)
	if keep == o.first {
		o.head = 0
	}
	o.bytes = -o.head
	for _, f := range o.out[o.first:] {
		o.bytes += len(f)
	}
	o.closeKeep = kept
}

// waiting is the bytes queued that no writev has taken yet: bytes in the
// writev under way are not waiting, since the kernel may have taken them
// while their writer waits for a core.
func (o *outbox) waiting() int { return o.bytes - o.sending }

// empty reports whether every queued byte was written.
func (o *outbox) empty() bool { return o.first == len(o.out) }

func (o *outbox) push(frame []byte) {
	o.out = append(o.out, frame)
	o.bytes += len(frame)
}

// consume accounts for n bytes written.
func (o *outbox) consume(n int) {
	o.bytes -= n
	for n > 0 {
		rest := len(o.out[o.first]) - o.head
		if n < rest {
			o.head += n
			return
		}
		n -= rest
		o.out[o.first] = nil
		o.first++
		o.head = 0
	}
}

// compact moves the unsent frames to the front once the sent ones take
// half of out. out is otherwise reset only when it empties, so a subscriber
// that stays behind without reaching the outbox limit, or a stream that
// never lets the writer catch up, would grow it by a slot per frame for as
// long as it lasts. It runs on the writer between writevs.
func (o *outbox) compact() {
	if o.first == 0 || o.first < len(o.out)/2 {
		return
	}
	n := copy(o.out, o.out[o.first:])
	clear(o.out[n:])
	o.out = o.out[:n]
	o.sealed = max(0, o.sealed-o.first)
	o.first = 0
}

// reset empties the outbox once everything was written, keeping a small
// slice for the next burst.
func (o *outbox) reset() {
	if cap(o.out) > maxIdleOut {
		o.out = nil
	} else {
		o.out = o.out[:0]
	}
	o.first, o.head, o.bytes, o.sealed = 0, 0, 0, 0
}

// drop lets everything go: the connection is closed and done writing.
func (o *outbox) drop() {
	*o = outbox{closeKeep: kept}
}
