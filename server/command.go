package server

import (
	"errors"
	"slices"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/pool"
)

// message handles one complete client message.
func (c *conn) message(op ws.OpCode, p []byte) {
	if !c.admitMessage(p) {
		return
	}
	var cmd protocol.Command
	if err := protocol.Decode(&cmd, p, c.srv.cfg.MaxChannelBytes); err != nil {
		if err == protocol.ErrBadUTF8 && op == ws.OpText {
			c.fail(protocol.ErrInvalidUTF8)
			return
		}
		c.srv.stats.command(cmd.Kind, resultInvalid)
		c.replyError(cmd.ID, err)
		return
	}
	if !c.admitCommand(&cmd) {
		return
	}
	if c.srv.auth != nil {
		c.authMsg = c.commandBody(&cmd) // finishCommand runs what it decodes from this very body
		c.askAuthorizer(c.authMsg)
		return
	}
	c.execute(&cmd)
}

// commandHook, set only by tests (export_test.go), runs before every
// command, to inject a fault where a bug would strike.
var commandHook func(*protocol.Command)

// execute runs an allowed command and replies when the client gave an id.
func (c *conn) execute(cmd *protocol.Command) {
	if commandHook != nil {
		commandHook(cmd)
	}
	var err error
	switch history := c.srv.keepsHistory(cmd.Channel); {
	case cmd.Kind == protocol.KindHistory && history && c.srv.hist != nil:
		c.askHistory(cmd, false)
		return
	case cmd.Kind == protocol.KindHistory:
		c.historyCommand(cmd)
		return
	case cmd.Kind == protocol.KindPresence || cmd.Kind == protocol.KindPresenceStats:
		c.presenceCommand(cmd)
		return
	case cmd.Kind == protocol.KindJoin && history && c.srv.hist != nil:
		c.joinRemote(cmd)
		return
	case cmd.Kind == protocol.KindJoin && history:
		c.joinWithHistory(cmd)
		return
	case cmd.Kind == protocol.KindBroadcast && history && c.srv.hist != nil:
		c.askBroker(cmd) // concluded in resume
		return
	case cmd.Kind == protocol.KindBroadcast && history:
		_, pos := c.srv.publishHistory(cmd.Channel, cmd.Content)
		c.concludeAt(cmd.Kind, cmd.ID, pos, protocol.NoRecovery)
		return
	case cmd.Kind == protocol.KindJoin:
		c.join(cmd.Channel)
		if c.needsConfirm(cmd.Channel) {
			c.askConfirm(cmd) // concluded in resume
			return
		}
		if cmd.Since.Given { // no history to recover from
			c.concludeAt(cmd.Kind, cmd.ID, nil, protocol.NotRecovered)
			return
		}
	case cmd.Kind == protocol.KindLeave:
		c.leave(cmd.Channel)
	case cmd.Kind == protocol.KindBroadcast:
		if c.srv.link.pubs != nil {
			c.askBroker(cmd) // concluded in resume
			return
		}
		_, err = c.srv.Publish(cmd.Channel, cmd.Content)
	}
	c.conclude(cmd.Kind, cmd.ID, err)
}

// concludeAt answers a command that succeeded on a channel with history
// (pos) or named a position in one (rec).
func (c *conn) concludeAt(kind protocol.Kind, id []byte, pos *protocol.Position, rec protocol.Recovery) {
	c.srv.stats.command(kind, resultOK)
	if id != nil {
		c.send(protocol.AppendPositionFrame(nil, id, pos, rec))
	}
}

// conclude counts a command's outcome and answers the client: always on
// failure, with ok when it gave an id.
func (c *conn) conclude(kind protocol.Kind, id []byte, err error) {
	if err != nil {
		c.srv.stats.command(kind, resultUnavailable)
		c.replyError(id, publishRefusal(err))
		return
	}
	c.srv.stats.command(kind, resultOK)
	if id != nil {
		c.send(protocol.AppendOKFrame(make([]byte, 0, 20+len(id)), id))
	}
}

func (c *conn) join(name []byte) {
	if slices.Contains(c.channels, string(name)) {
		return
	}
	c.channels = append(c.channels, string(name))
	c.srv.joinChannel(name, c)
	c.emitChannel(events.Join, c.channels[len(c.channels)-1])
}

func (c *conn) leave(name []byte) {
	i := slices.Index(c.channels, string(name))
	if i < 0 {
		return
	}
	ch := c.channels[i]
	c.channels = slices.Delete(c.channels, i, i+1)
	c.srv.leaveChannel(name, c)
	c.emitChannel(events.Leave, ch)
}

func (c *conn) replyError(id []byte, e *protocol.Error) {
	c.send(protocol.AppendErrorFrame(nil, id, e))
}

// clientJSON is the "client" member of the authorizer's command bodies.
func (c *conn) clientJSON(query map[string][]string) []byte {
	ci := auth.ClientInfo{ID: c.id(), RemoteAddr: c.remote.String(), Query: query}
	if c.ident != nil {
		ci.User = c.ident.User
	}
	return ci.JSON()
}

// commandBody is what the authorizer is asked about cmd: only what runs.
// A join or leave does nothing with content, so it is left out.
func (c *conn) commandBody(cmd *protocol.Command) []byte {
	content := cmd.Content
	if cmd.Kind != protocol.KindBroadcast {
		content = nil
	}
	return auth.CommandBodyArgs(cmd.Kind.String(), cmd.Channel, content, protocol.AppendHistoryArgs(nil, cmd), cmd.ID, c.client)
}

// askAuthorizer hands the call to the authorizer pool (waitFor).
func (c *conn) askAuthorizer(body []byte) {
	c.waitFor(c.srv.authPool, &authCall{c: c, body: body})
}

// askConnect asks the authorizer about a connection and returns the
// identity its answer gives, nil for none; a body that is not one is
// logged and the connection stays anonymous. It runs on the authorizer
// pool.
func (c *conn) askConnect(body []byte) (*auth.Identity, error) {
	id, idErr, err := c.srv.auth.Connect(body)
	if idErr != nil && c.srv.debugging() {
		c.srv.log.Debug("authorizer's connect answer is no identity; the connection is anonymous",
			"remote", c.remote.String(), "err", idErr)
	}
	if err != nil || (id.User == "" && id.Info == nil && id.Channels == nil) {
		return nil, err
	}
	return &id, nil
}

// waitFor pauses reading and hands t to p, which resumes c (evResume)
// when it is done: the connection's later messages wait, so its commands
// run in order, and no worker waits with them.
func (c *conn) waitFor(p *pool.Pool, t pool.Task) {
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
	p.Submit(t)
}

// authCall is one authorizer request, run on the authorizer pool.
type authCall struct {
	c       *conn
	body    []byte
	connect bool // the connect call, whose answer may carry an identity
}

func (a *authCall) Run() {
	if a.c.isClosed() { // gone while queued: asking would only delay the others
		return
	}
	began := time.Now()
	var ident *auth.Identity
	var err error
	if a.connect {
		ident, err = a.c.askConnect(a.body)
	} else {
		err = a.c.srv.auth.Authorize(a.body)
	}
	a.c.srv.stats.authorized(err, time.Since(began))
	a.c.mu.Lock()
	a.c.answer = err
	if a.connect {
		a.c.ident = ident
	}
	a.c.unlockSubmit(a.c.scheduleLocked(evResume))
}

// resume acts on the authorizer's verdict or the broker's answer, then
// processes what the client sent meanwhile.
func (c *conn) resume() {
	c.mu.Lock()
	verdict, was := c.answer, c.paused
	c.answer, c.paused = nil, false
	c.mu.Unlock()
	msg := c.authMsg
	c.authMsg = nil
	if !was {
		return
	}
	switch {
	case c.state == stateHandshake:
		c.finishConnect(msg, verdict)
	case c.call != nil:
		call := c.call
		c.call = nil
		call.finish(c, verdict)
		c.frames()
	default:
		c.finishCommand(msg, verdict)
		c.frames()
	}
	c.sendPong()
	c.settleBuffer()
}

// finishCommand runs or refuses the command of body, the authorizer's
// request. Decoding the body the server built, rather than keeping the
// client's message, makes what runs exactly what was approved: the body
// has one member of each name, a trimmed channel and nothing of the
// client's but content and id, so every parser reads it alike.
func (c *conn) finishCommand(body []byte, verdict error) {
	var cmd protocol.Command
	protocol.Decode(&cmd, body, c.srv.cfg.MaxChannelBytes)
	switch {
	case verdict == nil:
		c.execute(&cmd)
	case errors.Is(verdict, auth.ErrDenied):
		c.srv.stats.command(cmd.Kind, resultDenied)
		c.replyError(cmd.ID, protocol.ErrNotAuthorized)
	default:
		c.srv.stats.command(cmd.Kind, resultUnavailable)
		c.close(discAuthDown)
	}
}
