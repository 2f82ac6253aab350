package server

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/protocol"
)

// POST /disconnect closes connections on every node: every connection of
// a user (the identity the authorizer gave at connect) or the one
// connection of a client id. The node that serves the request hands the
// order to the other nodes as a control message (broker.Control) and,
// once the broker took it, closes its own matching connections, which it
// counts in its answer; the other nodes act as the message reaches them
// and report nothing back. No index is kept for it: a connection's
// identity and id are on the conn, and the fd table already holds every
// connection, so an order costs one walk of this node's connections and
// nothing at all until one is given.

// kickOrder is what the control message tells the nodes to close.
type kickOrder struct {
	User        string `json:"user,omitempty"`
	Client      string `json:"client,omitempty"`
	NoReconnect bool   `json:"no_reconnect,omitempty"`
}

// controlMessage is the payload of a control message between nodes: JSON,
// so a node ignores what a newer one adds.
type controlMessage struct {
	Disconnect *kickOrder `json:"disconnect,omitempty"`
}

// handleDisconnect serves POST /disconnect, guarded as POST /broadcast is.
func (s *Server) handleDisconnect(ctx *fasthttp.RequestCtx) {
	if !s.operatorPost(ctx) {
		return
	}
	var d protocol.Disconnect
	if err := protocol.DecodeDisconnect(&d, ctx.PostBody()); err != nil {
		httpError(ctx, err.Status, err.Code, err.Message)
		return
	}
	k := kickOrder{User: string(d.User), Client: string(d.Client), NoReconnect: d.NoReconnect}
	payload, _ := json.Marshal(controlMessage{Disconnect: &k})
	if err := s.link.b.Control(payload); err != nil {
		httpError(ctx, errUnavailableHTTP.Status, errUnavailableHTTP.Code, errUnavailableHTTP.Message)
		return
	}
	n := s.kick(k)
	ctx.SetContentType("application/json")
	ctx.SetBody(strconv.AppendInt([]byte(`{"ok":true,"disconnected":`), int64(n), 10))
	ctx.Response.AppendBodyString("}")
}

// fromControl acts on another node's control message. It runs on the
// broker's receiving goroutine.
func (s *Server) fromControl(payload []byte) {
	var m controlMessage
	if err := json.Unmarshal(payload, &m); err != nil || m.Disconnect == nil {
		s.log.Debug("broker control message not understood; ignored", "bytes", len(payload))
		return
	}
	s.kick(*m.Disconnect)
}

// kick asks every connection of this node that k names to close, and
// returns how many it asked.
func (s *Server) kick(k kickOrder) int {
	var client []byte
	if k.Client != "" {
		if client = []byte(k.Client); !s.mayHoldClientID(client) {
			return 0 // another node's connection: nothing here to walk for
		}
	}
	d := discKicked
	if k.NoReconnect {
		d = discBanned
	}
	n := 0
	s.conns.each(func(c *conn) {
		if c.kick(k.User, client, d) {
			n++
		}
	})
	return n
}

// mayHoldClientID reports whether a connection of this node may have id:
// one this node made (conn.id), or any once it took connections over from
// another process, which keep the ids they had there.
func (s *Server) mayHoldClientID(id []byte) bool {
	if s.ho.taken.Load() > 0 {
		return true
	}
	return len(id) > len(s.nodeID) && string(id[:len(s.nodeID)]) == s.nodeID && id[len(s.nodeID)] == '-'
}

// kick asks c to close for d when it is user's (user not empty) or has
// id client (client not nil), and reports whether it did: a connection
// already closing is not counted again.
func (c *conn) kick(user string, client []byte, d *disconnect) bool {
	c.mu.Lock()
	match := client != nil && c.isID(client) || user != "" && c.ident != nil && c.ident.User == user
	if !match || c.closed || c.closing != nil {
		c.mu.Unlock()
		return false
	}
	c.unlockSubmit(c.requestCloseLocked(d))
	return true
}
