package events

import "encoding/json"

// Kind names an event.
type Kind string

// The events of a connection's life.
const (
	Connect    Kind = "connect"
	Disconnect Kind = "disconnect"
	Join       Kind = "join"
	Leave      Kind = "leave"
)

// Event is one lifecycle event, as the endpoint receives it.
type Event struct {
	Kind    Kind            `json:"event"`
	Time    int64           `json:"time"` // Unix milliseconds when it happened
	Client  string          `json:"client"`
	User    string          `json:"user"`
	Info    json.RawMessage `json:"info,omitempty"`    // connect only
	Channel string          `json:"channel,omitempty"` // join and leave
	Code    int             `json:"code,omitempty"`    // disconnect: the close code, 1006 when none was sent
}
