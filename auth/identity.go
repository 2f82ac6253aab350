package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/valyala/fasthttp"
)

// Identity is what the authorizer's 200 answer to a connect may say about
// the connection: who it is (User), what to tell others about it (Info,
// raw JSON) and the channels it joins at once, without asking again.
type Identity struct {
	User     string          `json:"user"`
	Info     json.RawMessage `json:"info"`
	Channels []string        `json:"channels"`
}

// Bounds of an identity. A body past them is ignored as a whole, so the
// connection stays anonymous: nothing a misbehaving authorizer sends can
// make one connection cost more than this.
const (
	MaxIdentityBytes = 16 << 10 // the whole body
	MaxInfoBytes     = 4 << 10  // the info member, encoded
	MaxUserBytes     = 256      // the user member
)

// ErrIdentity wraps why a connect answer's body was not taken as an
// identity; the connection is allowed all the same.
var ErrIdentity = errors.New("auth: connect answer's body ignored")

// Connect posts a connect body like Authorize and, when the authorizer
// allows, reads the identity its answer may carry. A body that is not an
// identity is ignored: idErr says why, and the connection is anonymous.
func (c *Client) Connect(body []byte) (id Identity, idErr, err error) {
	var raw []byte
	err = c.post(body, func(resp *fasthttp.Response) {
		if resp.StatusCode() == 200 && isJSON(resp.Header.ContentType()) {
			raw, idErr = readIdentity(resp)
		}
	})
	if err != nil || raw == nil {
		return Identity{}, idErr, err
	}
	id, idErr = parseIdentity(raw)
	return id, idErr, nil
}

// readIdentity reads a body of at most MaxIdentityBytes.
func readIdentity(resp *fasthttp.Response) ([]byte, error) {
	s := resp.BodyStream()
	if s == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(s, MaxIdentityBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: read: %v", ErrIdentity, err)
	case len(b) > MaxIdentityBytes:
		return nil, fmt.Errorf("%w: over %d bytes", ErrIdentity, MaxIdentityBytes)
	}
	return b, nil
}

// parseIdentity takes a JSON object whose members are all optional;
// anything else is refused whole.
func parseIdentity(raw []byte) (Identity, error) {
	var id Identity
	if b := bytes.TrimSpace(raw); len(b) == 0 {
		return id, nil // an empty body: anonymous, nothing to say
	} else if b[0] != '{' {
		return id, fmt.Errorf("%w: not a JSON object", ErrIdentity)
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	switch {
	case len(id.User) > MaxUserBytes:
		return Identity{}, fmt.Errorf("%w: user over %d bytes", ErrIdentity, MaxUserBytes)
	case len(id.Info) > MaxInfoBytes:
		return Identity{}, fmt.Errorf("%w: info over %d bytes", ErrIdentity, MaxInfoBytes)
	case bytes.Equal(id.Info, []byte("null")):
		id.Info = nil
	}
	return id, nil
}

func isJSON(contentType []byte) bool {
	mt, _, err := mime.ParseMediaType(string(contentType))
	return err == nil && mt == "application/json"
}
