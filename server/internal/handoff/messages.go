package handoff

import (
	"fmt"
	"strings"
)

// version is the handoff protocol this build speaks. Both processes must
// speak the same one: a process built with another refuses the handoff and
// the running one keeps serving. Tests build a binary with another version
// (-ldflags -X) to see the refusal.
var version = "wsify-handoff/1"

// Version is the handoff protocol this build speaks.
func Version() string { return version }

// Hello opens the link each way.
type Hello struct {
	Version string
	PID     int
}

// AppendHello appends h's payload.
func AppendHello(dst []byte, h Hello) []byte {
	e := enc{dst}
	e.string(h.Version)
	e.uint(uint64(h.PID))
	return e.b
}

// ParseHello parses a Hello payload. A payload that is no Hello of any
// version is an error whose text says what was received, so that the
// refusal names it.
func ParseHello(p []byte) (Hello, error) {
	d := dec{b: p}
	h := Hello{Version: d.string(), PID: int(d.uint())}
	if err := d.end(); err != nil || !strings.HasPrefix(h.Version, "wsify-handoff/") {
		return h, fmt.Errorf("handoff: not a wsify handoff hello (%q)", h.Version)
	}
	return h, nil
}

// AppendText appends a Refuse payload, or a Listener's name.
func AppendText(dst []byte, s string) []byte {
	e := enc{dst}
	e.string(s)
	return e.b
}

// ParseText parses a Refuse or Listener payload.
func ParseText(p []byte) (string, error) {
	d := dec{b: p}
	s := d.string()
	return s, d.end()
}

// Conn is one connection's state, sent with its socket. Times are
// relative, since the two processes' clocks share no origin.
type Conn struct {
	ID     string // the client id the authorizer and the events saw
	Remote string // address:port of the peer
	Open   bool   // upgraded; false: still sending its request head
	// Deflate is set when the connection negotiated permessage-deflate,
	// which wsify runs without context takeover: no compression state
	// outlives a message, so the flag is all there is to carry. Inflate
	// says the message being reassembled came compressed.
	Deflate, Inflate bool
	MsgOp            byte     // opcode of the message being reassembled; 0: none
	Message          []byte   // its fragments so far, unmasked
	Unparsed         []byte   // bytes read and not yet parsed: part of a frame or of a request head
	Unsent           []byte   // bytes queued and not yet written, a frame possibly begun
	Client           []byte   // the "client" member of the authorizer's bodies
	User             string   // the authorizer's user; empty: anonymous
	Info             []byte   // the authorizer's info, raw JSON; nil: none
	Identified       bool     // the authorizer gave an identity (User and Info hold it)
	Channels         []string // joined, in join order
	// RateWait, FloodWait and JoinWait are how long, in nanoseconds, until
	// each rate-limit bucket is full again; 0 or less: full.
	RateWait, FloodWait, JoinWait int64
	// Heard is how long ago the peer last sent bytes, in nanoseconds, and
	// Pinged whether a ping awaits its answer since then; Heard < 0: the
	// connection is not watched for liveness (not upgraded, pings off).
	Heard  int64
	Pinged bool
}

// AppendConns appends a Conns payload.
func AppendConns(dst []byte, cs []Conn) []byte {
	e := enc{dst}
	e.uint(uint64(len(cs)))
	for i := range cs {
		appendConn(&e, &cs[i])
	}
	return e.b
}

func appendConn(e *enc, c *Conn) {
	e.string(c.ID)
	e.string(c.Remote)
	e.bool(c.Open)
	e.bool(c.Deflate)
	e.bool(c.Inflate)
	e.uint(uint64(c.MsgOp))
	e.bytes(c.Message)
	e.bytes(c.Unparsed)
	e.bytes(c.Unsent)
	e.bytes(c.Client)
	e.bool(c.Identified)
	e.string(c.User)
	e.bytes(c.Info)
	e.uint(uint64(len(c.Channels)))
	for _, ch := range c.Channels {
		e.string(ch)
	}
	e.int(c.RateWait)
	e.int(c.FloodWait)
	e.int(c.JoinWait)
	e.int(c.Heard)
	e.bool(c.Pinged)
}

// minConn is the fewest bytes a Conn takes.
const minConn = 19

// ParseConns parses a Conns payload.
func ParseConns(p []byte) ([]Conn, error) {
	d := dec{b: p}
	cs := make([]Conn, d.count(minConn))
	for i := range cs {
		parseConn(&d, &cs[i])
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return cs, nil
}

func parseConn(d *dec, c *Conn) {
	c.ID = d.string()
	c.Remote = d.string()
	c.Open = d.bool()
	c.Deflate = d.bool()
	c.Inflate = d.bool()
	c.MsgOp = byte(d.uint())
	c.Message = d.bytes()
	c.Unparsed = d.bytes()
	c.Unsent = d.bytes()
	c.Client = d.bytes()
	c.Identified = d.bool()
	c.User = d.string()
	c.Info = d.bytes()
	if n := d.count(1); n > 0 {
		c.Channels = make([]string, n)
		for i := range c.Channels {
			c.Channels[i] = d.string()
		}
	}
	c.RateWait = d.int()
	c.FloodWait = d.int()
	c.JoinWait = d.int()
	c.Heard = d.int()
	c.Pinged = d.bool()
}

// Pub is a publication the giving process queued on its own subscribers
// while it handed connections over: the taking process queues it on the
// connections it already holds, so each gets it once, in order.
type Pub struct {
	// Seq, when not 0, asks for an Ack once it is queued: the giving
	// process answers its publisher only then, so that a publication the
	// taking process accepts after it cannot overtake it.
	Seq     uint64
	Channel []byte
	Frame   []byte // the frame as subscribers get it
	// Offset is the publication's offset on a channel whose history the
	// giving process kept (0: none); the taking process keeps it under
	// the same offset.
	Offset uint64
	// Filter is the encoded hub.Filter of a publication narrowed with to,
	// except or echo:false; empty: none.
	Filter []byte
}

// AppendPubs appends a Pub payload.
func AppendPubs(dst []byte, ps []Pub) []byte {
	e := enc{dst}
	e.uint(uint64(len(ps)))
	for _, p := range ps {
		e.uint(p.Seq)
		e.bytes(p.Channel)
		e.bytes(p.Frame)
		e.uint(p.Offset)
		e.bytes(p.Filter)
	}
	return e.b
}

// ParsePubs parses a Pub payload.
func ParsePubs(p []byte) ([]Pub, error) {
	d := dec{b: p}
	ps := make([]Pub, d.count(5))
	for i := range ps {
		ps[i] = Pub{Seq: d.uint(), Channel: d.bytes(), Frame: d.bytes(), Offset: d.uint(), Filter: d.bytes()}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return ps, nil
}

// History is the kept publications of one channel, oldest first, and
// where its offsets stand.
type History struct {
	Channel []byte
	Epoch   string
	Last    uint64 // offset of the latest publication
	Entries []Entry
	Touched int64 // unix nanoseconds of the last publication, creation or last leave
}

// Entry is one kept publication.
type Entry struct {
	At    int64 // when it was published, unix nanoseconds
	Frame []byte
}

// AppendHistories appends a History payload.
func AppendHistories(dst []byte, hs []History) []byte {
	e := enc{dst}
	e.uint(uint64(len(hs)))
	for _, h := range hs {
		e.bytes(h.Channel)
		e.string(h.Epoch)
		e.uint(h.Last)
		e.int(h.Touched)
		e.uint(uint64(len(h.Entries)))
		for _, en := range h.Entries {
			e.int(en.At)
			e.bytes(en.Frame)
		}
	}
	return e.b
}

// ParseHistories parses a History payload.
func ParseHistories(p []byte) ([]History, error) {
	d := dec{b: p}
	hs := make([]History, d.count(5))
	for i := range hs {
		h := &hs[i]
		h.Channel, h.Epoch, h.Last, h.Touched = d.bytes(), d.string(), d.uint(), d.int()
		if n := d.count(2); n > 0 {
			h.Entries = make([]Entry, n)
			for j := range h.Entries {
				h.Entries[j] = Entry{At: d.int(), Frame: d.bytes()}
			}
		}
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return hs, nil
}

// AppendSeq appends an Ack payload.
func AppendSeq(dst []byte, seq uint64) []byte {
	e := enc{dst}
	e.uint(seq)
	return e.b
}

// ParseSeq parses an Ack payload.
func ParseSeq(p []byte) (uint64, error) {
	d := dec{b: p}
	v := d.uint()
	return v, d.end()
}
