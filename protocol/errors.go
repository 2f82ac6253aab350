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
	ErrUnknownCommand  = &Error{"unknown_command", "command is not join, leave, broadcast, history, presence, presence_stats or whoami", http.StatusBadRequest}
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

	// Targeted delivery and the publish API (targets.go, publish.go).
	ErrBadTo           = &Error{"bad_command", `"to" must be an array of at most 1000 user names, each a non-empty string of at most 256 bytes`, http.StatusBadRequest}
	ErrBadEcho         = &Error{"bad_command", `"echo" must be true or false`, http.StatusBadRequest}
	ErrBadExcept       = &Error{"bad_command", `"except" must be a connection id: a non-empty string of at most 256 bytes`, http.StatusBadRequest}
	ErrFilteredHistory = &Error{"bad_command", `"to", "except" and "echo":false cannot be used on a channel with history`, http.StatusBadRequest}
	ErrBadChannels     = &Error{"bad_channel", `"channels" must be an array of 1 to 100 channel names, each a non-empty string within the length limit`, http.StatusBadRequest}
	ErrChannelAndList  = &Error{"bad_command", `give "channel" or "channels", not both`, http.StatusBadRequest}
	ErrBadDisconnect   = &Error{"bad_command", `give "user" (a non-empty string of at most 256 bytes) or "client" (a connection id), not both, and "reconnect" only as true or false`, http.StatusBadRequest}
	ErrBadBatch        = &Error{"bad_command", "an array body must hold 1 to 100 publications, counting every channel of a channels list", http.StatusBadRequest}
)
