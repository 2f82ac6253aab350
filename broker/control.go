package broker

// Control messages ride on one broker channel that every node subscribes
// when it opens with a Handlers.Control: "\xffcontrol". No client channel
// can have that name, since channel names are valid UTF-8 and 0xff never
// occurs in UTF-8, so every driver carries it as an ordinary channel
// (Redis "<Prefix>:\xffcontrol", Redis Cluster "<Prefix>:{\xffcontrol}",
// NATS "<Prefix>.b.<base64url>") in the usual envelope, and a node skips
// its own messages as it does its own publications. The control channel
// is not counted in Stats.Subscriptions: those are the clients' channels.
const controlChannel = "\xffcontrol"

// isControl reports whether channel is the control channel.
func isControl[T string | []byte](channel T) bool { return string(channel) == controlChannel }

// deliver hands what another node sent on channel to the handler it is
// for: the control channel's to Control, a filtered publication's to
// Filtered, any other to Message.
func (h *Handlers) deliver(channel, filter, frame []byte) {
	switch {
	case isControl(channel):
		if h.Control != nil {
			h.Control(frame)
		}
	case filter != nil:
		if h.Filtered != nil {
			h.Filtered(channel, filter, frame)
		}
	case h.Message != nil:
		h.Message(channel, frame)
	}
}

// subscribeControl makes b subscribe the control channel when h wants
// control messages.
func subscribeControl(b interface{ Subscribe([]byte) }, h Handlers) {
	if h.Control != nil {
		b.Subscribe([]byte(controlChannel))
	}
}
