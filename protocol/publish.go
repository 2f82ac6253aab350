package protocol

// Publication is the body of POST /broadcast: {"channel":..,"content":..},
// or the older {"channel":..,"args":{"content":..}}.
type Publication struct {
	Channel []byte // unescaped, trimmed channel name
	Content []byte // raw JSON of the content, forwarded byte for byte
}

// DecodePublication decodes a POST /broadcast body.
func DecodePublication(p *Publication, body []byte, maxChannel int) *Error {
	*p = Publication{}
	var channel, args []byte
	err := scanMessage(body, func(key, value []byte) {
		switch {
		case keyIs(key, "channel"):
			channel = value
		case keyIs(key, "content"):
			p.Content = value
		case keyIs(key, "args"):
			args = value
		}
	})
	if err != nil {
		return err
	}
	return p.finish(channel, args, maxChannel)
}

func (p *Publication) finish(channel, args []byte, maxChannel int) *Error {
	ch, err := channelName(channel, maxChannel)
	if err != nil {
		return err
	}
	p.Channel = ch
	if p.Content == nil && len(args) > 0 && args[0] == '{' {
		scanObject(args, 0, 1, func(key, value []byte) {
			if keyIs(key, "content") {
				p.Content = value
			}
		})
	}
	if p.Content == nil {
		return ErrNoContent
	}
	return nil
}
