package protocol

import "bytes"

// Limits of targeted delivery and of one POST /broadcast request, as
// README.md documents them.
const (
	// MaxTo is how many users one "to" lists at most.
	MaxTo = 1000
	// MaxUserBytes is the longest user name: the authorizer's identity
	// is bounded alike (auth.MaxUserBytes), so a longer one names nobody.
	MaxUserBytes = 256
	// MaxBatch is how many publications one POST /broadcast makes at
	// most: the channels of a "channels" list, over every element of an
	// array body.
	MaxBatch = 100
	// maxExceptBytes bounds "except", a connection id (node id, '-',
	// connection number: about 30 bytes).
	maxExceptBytes = 256
)

// Targets narrows a publication to some subscribers of its channel. The
// zero value narrows nothing: every subscriber receives it.
type Targets struct {
	// To are the users "to" lists, unescaped, in order; only when Only.
	To [][]byte
	// Only says "to" was given: only connections whose user it lists
	// receive the publication (an empty list: nobody).
	Only bool
	// Except is the connection id POST /broadcast's "except" names, which
	// does not receive it; nil when absent.
	Except []byte
	// NoEcho is a client broadcast's "echo":false: the sender does not
	// receive it.
	NoEcho bool
}

// Narrowed reports whether t leaves any subscriber out.
func (t *Targets) Narrowed() bool { return t.Only || t.Except != nil || t.NoEcho }

// decodeTo reads "to": a validated JSON value that must be an array of
// at most MaxTo non-empty strings of at most MaxUserBytes (unescaped).
func (t *Targets) decodeTo(raw []byte) *Error {
	if raw == nil {
		return nil
	}
	if raw[0] != '[' {
		return ErrBadTo
	}
	t.Only, t.To = true, [][]byte{}
	var err *Error
	eachElement(raw, func(v []byte) {
		if err != nil {
			return
		}
		u, ok := stringValue(v)
		if !ok || len(u) == 0 || len(u) > MaxUserBytes || len(t.To) == MaxTo {
			err = ErrBadTo
			return
		}
		t.To = append(t.To, u)
	})
	if err != nil {
		t.Only, t.To = false, nil
	}
	return err
}

// decodeEcho reads "echo": true (the default) or false.
func (t *Targets) decodeEcho(raw []byte) *Error {
	switch string(raw) {
	case "", "true":
		return nil
	case "false":
		t.NoEcho = true
		return nil
	}
	return ErrBadEcho
}

// decodeExcept reads "except": a non-empty string.
func (t *Targets) decodeExcept(raw []byte) *Error {
	if raw == nil {
		return nil
	}
	id, ok := stringValue(raw)
	if !ok || len(id) == 0 || len(id) > maxExceptBytes {
		return ErrBadExcept
	}
	t.Except = id
	return nil
}

// AppendTargetArgs appends the members "to" and "echo" of a client
// broadcast as they go in the args of the authorizer's body: what the
// server will run, each user re-encoded from its decoded name, and
// "echo" only as false (true is the same as leaving it out).
func AppendTargetArgs(dst []byte, t *Targets) []byte {
	if t.Only {
		dst = append(dst, `,"to":[`...)
		for i, u := range t.To {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, u)
		}
		dst = append(dst, ']')
	}
	if t.NoEcho {
		dst = append(dst, `,"echo":false`...)
	}
	return dst
}

// stringValue returns the decoded string of a validated JSON value, and
// false when it is not a string. It allocates only for escapes.
func stringValue(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		s = unescape(make([]byte, 0, len(s)), s)
	}
	return s, true
}

// eachElement calls fn with every element of the validated JSON array
// that starts at b[0].
func eachElement(b []byte, fn func(v []byte)) {
	i := skipSpace(b, 1)
	for i < len(b) && b[i] != ']' {
		end, ok := scanValue(b, i, 1)
		if !ok {
			return
		}
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}
