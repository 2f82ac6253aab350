package hub

import (
	"encoding/binary"
	"errors"
)

// Filter narrows a publication to some subscribers of its channel: when
// it has a user list, those whose user is listed, and never the
// connection whose id Except returns. The hub only carries it on the Message; each subscriber checks
// itself against it in Enqueue (and calls Skip when it is left out), as
// only the subscriber knows who it is. A Filter is read-only once made,
// so every chunk of a fan-out and every channel of a multi-channel
// publication share one.
type Filter struct {
	only    bool
	users   [][]byte
	set     map[string]struct{} // users, when a list this long costs more to scan than to hash
	except  []byte
	encoded []byte // the form the broker carries, made once
}

// setFrom is the length of a user list from which AdmitsUser hashes rather
// than scans: below it, comparing a few short strings is cheaper than a
// map lookup.
const setFrom = 8

// NewFilter makes the filter that lets through, when only, the users
// listed, and never the connection except names (nil: none). It keeps
// none of the slices it is given: the filter is read from its own
// encoding, so it may outlive the buffer they point into.
func NewFilter(only bool, users [][]byte, except []byte) *Filter {
	f, err := ParseFilter(appendFilter(nil, only, users, except))
	if err != nil {
		panic("hub: a filter does not read back its own encoding: " + err.Error())
	}
	return f
}

func newFilter(only bool, users [][]byte, except []byte) *Filter {
	f := &Filter{only: only, users: users, except: except}
	if only && len(users) >= setFrom {
		f.set = make(map[string]struct{}, len(users))
		for _, u := range users {
			f.set[string(u)] = struct{}{}
		}
	}
	return f
}

// AdmitsUser reports whether a subscriber whose user is user may receive
// the publication, as far as the user list goes.
func (f *Filter) AdmitsUser(user string) bool {
	if !f.only {
		return true
	}
	if f.set != nil {
		_, ok := f.set[user]
		return ok
	}
	for _, u := range f.users {
		if string(u) == user {
			return true
		}
	}
	return false
}

// Except is the id of the connection left out; nil when none is.
func (f *Filter) Except() []byte { return f.except }

// Encoded is the filter as the broker carries it between nodes (below),
// made once when the filter was.
func (f *Filter) Encoded() []byte { return f.encoded }

// The encoded form, version 1, all lengths unsigned varints:
//
//	byte 0    1, the version
//	byte 1    flags: bit 0 set when the user list applies (only)
//	varint    length of the excluded connection id, then its bytes (0: none)
//	varint    number of users, then each user as length and bytes
//
// A node that meets another version refuses the publication rather than
// deliver it to subscribers it may not be meant for.
const filterVersion = 1

// maxFilterUsers bounds the users a decoded filter may list, whatever the
// bytes say: a publication lists at most protocol.MaxTo.
const maxFilterUsers = 1 << 16

func appendFilter(dst []byte, only bool, users [][]byte, except []byte) []byte {
	var flags byte
	if only {
		flags = 1
	}
	dst = append(dst, filterVersion, flags)
	dst = binary.AppendUvarint(dst, uint64(len(except)))
	dst = append(dst, except...)
	dst = binary.AppendUvarint(dst, uint64(len(users)))
	for _, u := range users {
		dst = binary.AppendUvarint(dst, uint64(len(u)))
		dst = append(dst, u...)
	}
	return dst
}

// errFilter is returned for bytes that are not a filter this node reads.
var errFilter = errors.New("hub: malformed filter")

// ParseFilter reads a filter another node encoded (Encoded). The result
// keeps slices of p.
func ParseFilter(p []byte) (*Filter, error) {
	if len(p) < 2 || p[0] != filterVersion || p[1]&^1 != 0 {
		return nil, errFilter
	}
	only := p[1] == 1
	rest := p[2:]
	except, rest, ok := lengthPrefixed(rest)
	if !ok {
		return nil, errFilter
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxFilterUsers || n > uint64(len(rest)) {
		return nil, errFilter
	}
	rest = rest[k:]
	users := make([][]byte, 0, n)
	for range n {
		var u []byte
		if u, rest, ok = lengthPrefixed(rest); !ok {
			return nil, errFilter
		}
		users = append(users, u)
	}
	if len(rest) != 0 {
		return nil, errFilter
	}
	if len(except) == 0 {
		except = nil
	}
	f := newFilter(only, users, except)
	f.encoded = p
	return f, nil
}

// lengthPrefixed reads a length-prefixed byte string off the front of p.
func lengthPrefixed(p []byte) (b, rest []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, false
	}
	end := k + int(n)
	return p[k:end], p[end:], true
}
