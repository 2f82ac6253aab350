package protocol

import "net/http"

// Error is a command the server refuses without closing the connection. Code
// is the machine-readable code of the error reply and Status the HTTP status
// the same refusal gets on POST /broadcast.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The refusals of the wire protocol, as documented in README.md.
var (
	ErrBadJSON         = &Error{"bad_json", "message is not valid JSON", http.StatusBadRequest}
	ErrBadUTF8         = &Error{"bad_json", "message is not valid UTF-8", http.StatusBadRequest}
	ErrNotObject       = &Error{"bad_command", "message must be a JSON object", http.StatusBadRequest}
	ErrNoCommand       = &Error{"bad_command", `"command" must be a string`, http.StatusBadRequest}
	ErrBadID           = &Error{"bad_command", `"id" must be a string or a number`, http.StatusBadRequest}
	ErrBadArgs         = &Error{"bad_command", `"args" must be an object`, http.StatusBadRequest}
	ErrNoContent       = &Error{"bad_command", `broadcast needs "content"`, http.StatusBadRequest}
	ErrUnknownCommand  = &Error{"unknown_command", "command is not join, leave, broadcast, history, presence or presence_stats", http.StatusBadRequest}
	ErrBadChannel      = &Error{"bad_channel", "channel must be a non-empty string within the length limit", http.StatusBadRequest}
	ErrNotAuthorized   = &Error{"not_authorized", "the authorizer refused this command", http.StatusForbidden}
	ErrTooManyChannels = &Error{"too_many_channels", "this connection has joined too many channels", http.StatusBadRequest}
	ErrRateLimited     = &Error{"rate_limited", "too many commands per second", http.StatusTooManyRequests}
	ErrBadSince        = &Error{"bad_command", `"since" must be {"offset":<integer from 0>,"epoch":<string>}`, http.StatusBadRequest}
	ErrBadLimit        = &Error{"bad_command", `"limit" must be an integer from 0`, http.StatusBadRequest}
	ErrNotEnabled      = &Error{"not_enabled", "this channel keeps no history", http.StatusBadRequest}
	ErrUnavailable     = &Error{"unavailable", "the server cannot take this now, try again later", http.StatusServiceUnavailable}
	ErrNoPresence      = &Error{"not_enabled", "this channel keeps no presence", http.StatusBadRequest}
	ErrNotJoined       = &Error{"not_joined", "presence is answered only for a channel this connection has joined", http.StatusForbidden}
	ErrTooLarge        = &Error{"too_large", "more clients are present than presence lists (1000): use presence_stats", http.StatusBadRequest}
	ErrUnconfirmed     = &Error{"unconfirmed", "the broker did not confirm the publication in time: it may have been delivered", http.StatusGatewayTimeout}
)
