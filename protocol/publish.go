package protocol

import (
	"strconv"
	"unicode/utf8"
)

// Publication is the body of POST /broadcast: {"channel":..,"content":..},
// or the older {"channel":..,"args":{"content":..}}, with optional "to"
// and "except" (Targets), or "channels":[..] in place of "channel".
type Publication struct {
	Channel []byte // unescaped, trimmed channel name; nil when Channels is given
	// Channels are the names of a "channels" list, in order: one content
	// published to each. Nil when "channel" is given.
	Channels [][]byte
	Content  []byte // raw JSON of the content, forwarded byte for byte
	Targets  Targets
}

// Count is how many publications p makes: one per channel.
func (p *Publication) Count() int {
	if p.Channels != nil {
		return len(p.Channels)
	}
	return 1
}

// Names are the channels p publishes to: Channels, or Channel alone.
func (p *Publication) Names() [][]byte {
	if p.Channels != nil {
		return p.Channels
	}
	return [][]byte{p.Channel}
}

// DecodePublication decodes a POST /broadcast body that is one object.
func DecodePublication(p *Publication, body []byte, maxChannel int) *Error {
	*p = Publication{}
	var f publicationFields
	err := scanMessage(body, f.member(p))
	if err != nil {
		return err
	}
	return p.finish(&f, maxChannel)
}

// publicationFields are the raw members of a publication object.
type publicationFields struct {
	channel, channels, args, to, except []byte
}

func (f *publicationFields) member(p *Publication) member {
	return func(key, value []byte) {
		switch {
		case keyIs(key, "channel"):
			f.channel = value
		case keyIs(key, "channels"):
			f.channels = value
		case keyIs(key, "content"):
			p.Content = value
		case keyIs(key, "args"):
			f.args = value
		case keyIs(key, "to"):
			f.to = value
		case keyIs(key, "except"):
			f.except = value
		}
	}
}

func (p *Publication) finish(f *publicationFields, maxChannel int) *Error {
	if err := p.decodeChannels(f, maxChannel); err != nil {
		return err
	}
	if p.Content == nil && len(f.args) > 0 && f.args[0] == '{' {
		scanObject(f.args, 0, 1, func(key, value []byte) {
			if keyIs(key, "content") {
				p.Content = value
			}
		})
	}
	if p.Content == nil {
		return ErrNoContent
	}
	if err := p.Targets.decodeTo(f.to); err != nil {
		return err
	}
	return p.Targets.decodeExcept(f.except)
}

// decodeChannels reads "channel", or "channels": 1 to MaxBatch names.
func (p *Publication) decodeChannels(f *publicationFields, maxChannel int) *Error {
	switch {
	case f.channels == nil:
		ch, err := channelName(f.channel, maxChannel)
		p.Channel = ch
		return err
	case f.channel != nil:
		return ErrChannelAndList
	case f.channels[0] != '[':
		return ErrBadChannels
	}
	p.Channels = [][]byte{}
	var err *Error
	eachElement(f.channels, func(v []byte) {
		if err != nil {
			return
		}
		ch, cerr := channelName(v, maxChannel)
		if cerr != nil || len(p.Channels) == MaxBatch {
			err = ErrBadChannels
			return
		}
		p.Channels = append(p.Channels, ch)
	})
	if err == nil && len(p.Channels) == 0 {
		err = ErrBadChannels
	}
	if err != nil {
		p.Channels = nil
	}
	return err
}

// IsBatch reports whether a POST /broadcast body is a JSON array (several
// publications) rather than one object: its first byte past white space.
func IsBatch(body []byte) bool {
	i := skipSpace(body, 0)
	return i < len(body) && body[i] == '['
}

// DecodeBatch decodes a POST /broadcast body that is a JSON array of
// publication objects, making at most MaxBatch publications in all. An
// element's refusal names its index: "publication 2: ...".
func DecodeBatch(body []byte, maxChannel int) ([]Publication, *Error) {
	if err := scanArrayBody(body); err != nil {
		return nil, err
	}
	var out []Publication
	var err *Error
	total := 0
	eachElement(body[skipSpace(body, 0):], func(v []byte) {
		if err != nil {
			return
		}
		var p Publication
		if e := decodeElement(&p, v, maxChannel); e != nil {
			err = ElementError(len(out), e)
			return
		}
		if total += p.Count(); total > MaxBatch {
			err = ErrBadBatch
			return
		}
		out = append(out, p)
	})
	if err == nil && len(out) == 0 {
		err = ErrBadBatch
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ElementError is e as it refuses element i of an array body.
func ElementError(i int, e *Error) *Error {
	return &Error{e.Code, "publication " + strconv.Itoa(i) + ": " + e.Message, e.Status}
}

// scanArrayBody checks that body is valid UTF-8 holding one JSON array.
func scanArrayBody(body []byte) *Error {
	if !utf8.Valid(body) {
		return ErrBadUTF8
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '[' {
		return ErrBadJSON
	}
	end, ok := scanArray(body, i, 1)
	if !ok || skipSpace(body, end) != len(body) {
		return ErrBadJSON
	}
	return nil
}

// decodeElement decodes one validated element of an array body.
func decodeElement(p *Publication, v []byte, maxChannel int) *Error {
	*p = Publication{}
	if v[0] != '{' {
		return ErrNotObject
	}
	var f publicationFields
	scanObject(v, 0, 1, f.member(p))
	return p.finish(&f, maxChannel)
}
