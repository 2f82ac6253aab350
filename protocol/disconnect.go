package protocol

// Disconnect is the body of POST /disconnect: {"user":"alice"} or
// {"client":"<connection id>"}, with an optional "reconnect":false.
type Disconnect struct {
	User   []byte // the connections of this user; nil when Client is given
	Client []byte // the connection of this id; nil when User is given
	// NoReconnect is "reconnect":false: the close reason tells the
	// clients not to come back.
	NoReconnect bool
}

// DecodeDisconnect decodes a POST /disconnect body.
func DecodeDisconnect(d *Disconnect, body []byte) *Error {
	*d = Disconnect{}
	var user, client, reconnect []byte
	err := scanMessage(body, func(key, value []byte) {
		switch {
		case keyIs(key, "user"):
			user = value
		case keyIs(key, "client"):
			client = value
		case keyIs(key, "reconnect"):
			reconnect = value
		}
	})
	if err != nil {
		return err
	}
	if (user == nil) == (client == nil) {
		return ErrBadDisconnect
	}
	var ok bool
	if user != nil {
		d.User, ok = stringValue(user)
		ok = ok && len(d.User) > 0 && len(d.User) <= MaxUserBytes
	} else {
		d.Client, ok = stringValue(client)
		ok = ok && len(d.Client) > 0 && len(d.Client) <= maxExceptBytes
	}
	switch string(reconnect) {
	case "", "true":
	case "false":
		d.NoReconnect = true
	default:
		ok = false
	}
	if !ok {
		*d = Disconnect{}
		return ErrBadDisconnect
	}
	return nil
}
