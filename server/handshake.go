package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/gobwas/ws"

	"github.com/wsify/wsify/auth"
	"github.com/wsify/wsify/netpoll"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/httphead"
)

// handshake routes a complete request head: GET /ws is upgraded here,
// anything else goes to fasthttp with every byte read so far.
func (c *conn) handshake() bool {
	end := bytes.Index(c.rbuf, httphead.End)
	if end < 0 {
		if len(c.rbuf) >= c.srv.cfg.MaxHeaderBytes {
			c.reject(http.StatusRequestHeaderFieldsTooLarge, reasonTooLarge, "request head too large")
			return false
		}
		return true
	}
	head := c.rbuf[:end+len(httphead.End)]
	switch {
	case c.loneHealthCheck(head):
		c.answerHealth()
		return false
	case !httphead.IsUpgrade(head, "/ws"):
		c.toHTTP()
		return false
	case !c.admitUpgrade(head):
		return false
	case c.srv.auth != nil:
		c.authorizeConnect(head)
		return false
	}
	return c.upgrade(head)
}

// wsUpgrade answers the WebSocket handshake on rw, negotiating
// permessage-deflate when the server offers compression.
func (c *conn) wsUpgrade(rw io.ReadWriter) error {
	if !c.srv.cfg.Compression {
		_, err := c.srv.upgrader.Upgrade(rw)
		return err
	}
	u := c.srv.upgrader
	ext := c.negotiateDeflate(&u)
	if _, err := u.Upgrade(rw); err != nil {
		return err
	}
	_, c.deflate = ext.Accepted()
	return nil
}

// upgrade completes the WebSocket handshake on head and goes on with any
// frames the client sent right behind it.
func (c *conn) upgrade(head []byte) bool {
	w := c.headWriter()
	var held *bytes.Buffer
	if c.ident != nil && len(c.ident.Channels) > 0 {
		// The 101 goes out once the channels the authorizer named are
		// joined (and confirmed by the broker, joinconfirm.go): a client
		// that saw it may be published to there at once, from any node.
		held = new(bytes.Buffer)
		w = held
	}
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), w}
	if err := c.wsUpgrade(rw); err != nil {
		c.srv.stats.rejected(reasonBadHandshake)
		c.logRejected(reasonNames[reasonBadHandshake], err)
		c.abort()
		return false
	}
	c.opened(len(head))
	c.emitConnect()
	if held == nil {
		return c.frames()
	}
	c.hold(held.Bytes())
	c.joinAssigned()
	if waiting := c.unconfirmed(); waiting != nil {
		c.waitOn(&assignedCall{c: c, channels: waiting})
		return false
	}
	c.releaseHeld()
	return c.frames()
}

// hold queues the 101 first in c's outbox, where the publications of the
// channels about to be joined queue behind it, and keeps every writer off
// until releaseHeld.
func (c *conn) hold(answer []byte) {
	c.mu.Lock()
	c.held = true
	c.ob.push(answer)
	c.mu.Unlock()
}

// releaseHeld lets the 101, and what queued behind it, go.
func (c *conn) releaseHeld() {
	c.mu.Lock()
	c.held = false
	c.mu.Unlock()
	c.Flush()
}

// joinAssigned joins the channels the authorizer's connect answer named,
// as if the client had sent join, without asking again, before any frame
// the client sent behind its handshake runs. A name that is not a valid
// channel, and those past the channel limit, are skipped.
func (c *conn) joinAssigned() {
	if c.ident == nil {
		return
	}
	for _, name := range c.ident.Channels {
		ch, err := protocol.ChannelName(protocol.AppendString(nil, []byte(name)), c.srv.cfg.MaxChannelBytes)
		if err != nil || (c.srv.cfg.MaxChannels > 0 && len(c.channels) >= c.srv.cfg.MaxChannels) {
			continue
		}
		c.join(ch)
	}
	c.ident.Channels = nil // joined: nothing keeps them but c.channels
}

func (c *conn) opened(headLen int) {
	c.rbuf = c.rbuf[:copy(c.rbuf, c.rbuf[headLen:])]
	c.state = stateOpen
	c.heard()
	c.srv.wheel.Clear(c)
	c.srv.connOpened()
}

// headWriter writes HTTP responses of the handshake stage: straight to the
// socket on a plain listener, through the writer's encryption on a TLS one.
func (c *conn) headWriter() io.Writer {
	if c.tls != nil {
		return tlsHeadWriter{c}
	}
	return fdWriter(c.fd)
}

// handoverConn is the net.Conn fasthttp gets for a plain HTTP request: a
// runtime-polled dup of the socket, or on a TLS listener the tls.Conn.
func (c *conn) handoverConn() (net.Conn, error) {
	if c.tls != nil {
		return c.tlsHandoverConn()
	}
	return netpoll.ToNetConn(c.fd)
}

// toHTTP hands the connection to fasthttp, replaying what was read.
func (c *conn) toHTTP() {
	c.srv.poller.Remove(c.fd)
	nc, err := c.handoverConn()
	if err == nil {
		c.srv.httpLn.push(&prefixConn{Conn: nc, prefix: append([]byte(nil), c.rbuf...)})
	}
	c.abort()
}

// reject answers the request head with an HTTP error, counted under why,
// and closes. The head has been read, so the close is a FIN after the
// answer.
func (c *conn) reject(status int, why rejectReason, body string) {
	c.srv.stats.rejected(why)
	c.logRejected(reasonNames[why], body)
	c.headWriter().Write(httpRefusal(status, body))
	c.abort()
}

// httpRefusal is a complete "Connection: close" HTTP response carrying body
// as plain text.
func httpRefusal(status int, body string) []byte {
	return httpClose(status, "text/plain; charset=utf-8", []byte(body))
}

// httpClose is a complete HTTP response that closes its connection, with
// any extra header lines given.
func httpClose(status int, contentType string, body []byte, headers ...string) []byte {
	b := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n",
		status, http.StatusText(status), contentType, len(body))
	for _, h := range headers {
		b = append(append(b, h...), "\r\n"...)
	}
	return append(append(b, "\r\n"...), body...)
}

// authorizeConnect validates the handshake, then asks the authorizer from
// its own pool; the worker goes on serving others meanwhile.
func (c *conn) authorizeConnect(head []byte) {
	var resp bytes.Buffer
	u := c.srv.upgrader
	u.OnBeforeUpgrade = c.srv.stopBeforeUpgrade
	_, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), &resp})
	if !errors.Is(err, errAuthPending) {
		c.srv.stats.rejected(reasonBadHandshake)
		c.logRejected(reasonNames[reasonBadHandshake], err)
		c.headWriter().Write(resp.Bytes())
		c.abort()
		return
	}
	headers, query := httphead.Parse(head)
	c.authMsg = append([]byte(nil), head...)
	c.waitFor(c.srv.authPool, &authCall{c: c, body: auth.ConnectBody(headers, query), connect: true})
}

var errAuthPending = errors.New("server: handshake waits for the authorizer")

func (s *Server) stopBeforeUpgrade() (h ws.HandshakeHeader, err error) { return nil, errAuthPending }

// finishConnect upgrades or rejects after the authorizer's verdict.
func (c *conn) finishConnect(head []byte, verdict error) {
	var ae *auth.Error
	if errors.As(verdict, &ae) {
		c.reject(ae.Status, authReason(ae.Status), "authorizer: "+http.StatusText(ae.Status))
		return
	}
	_, query := httphead.Parse(head)
	c.client = c.clientJSON(query) // with the user the authorizer named
	c.upgrade(head)
}

// fdWriter writes to a non-blocking socket that has room, as a fresh
// connection's does; a full socket is an error, not a wait.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n, err := netpoll.Writev(int(w), [][]byte{p}, 0)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}
