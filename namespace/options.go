package namespace

import (
	"bytes"
	"time"
)

// Options are what applies to every channel of a namespace. The zero value
// keeps no history.
type Options struct {
	HistorySize int           // publications kept per channel; 0: no history
	HistoryTTL  time.Duration // how long a publication, and an unjoined channel's history, is kept
	Presence    bool          // who is in a channel is kept, for presence and presence_stats
	JoinLeave   bool          // subscribers are told who joins and leaves
}

// History reports whether channels with these options keep publications.
func (o Options) History() bool { return o.HistorySize > 0 && o.HistoryTTL > 0 }

// Table maps a channel to its options.
type Table struct {
	def   Options
	names map[string]Options
}

// NewTable applies def to the default namespace and to every field the
// file left unset in its namespaces (file may be nil: no file).
func NewTable(def Options, file *File) *Table {
	t := &Table{def: def, names: map[string]Options{}}
	if file != nil {
		for name, f := range file.Namespaces {
			t.names[name] = f.apply(def)
		}
	}
	return t
}

// Lookup returns the options of channel; it does not allocate.
func (t *Table) Lookup(channel []byte) Options {
	if t == nil {
		return Options{}
	}
	i := bytes.IndexByte(channel, ':')
	if i < 0 || len(t.names) == 0 {
		return t.def
	}
	if o, ok := t.names[string(channel[:i])]; ok {
		return o
	}
	return t.def
}

// AnyHistory reports whether some namespace keeps history.
func (t *Table) AnyHistory() bool { return t.any(Options.History) }

// AnyPresence reports whether some namespace keeps presence or tells of
// joins and leaves.
func (t *Table) AnyPresence() bool {
	return t.any(func(o Options) bool { return o.Presence || o.JoinLeave })
}

func (t *Table) any(f func(Options) bool) bool {
	if t == nil {
		return false
	}
	if f(t.def) {
		return true
	}
	for _, o := range t.names {
		if f(o) {
			return true
		}
	}
	return false
}
