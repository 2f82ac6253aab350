package server

import (
	"net/http"

	"github.com/wsify/wsify/server/internal/httphead"
)

// health is the answer to GET /healthz: 200 while the node serves, 503
// while it drains or while its broker is down, with the reason when
// detailed (the admin address).
func (s *Server) health(detailed bool) (status int, body []byte) {
	if s.draining.Load() {
		return http.StatusServiceUnavailable, []byte(`{"status":"draining"}`)
	}
	if body := s.brokerDown(detailed); body != nil {
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, []byte(`{"status":"ok"}`)
}

// loneHealthCheck reports whether the connection's first request is
// GET /healthz with nothing read behind it. Such a check is answered on
// the event loop: it then needs none of fasthttp's MaxHTTPConns slots, so
// idle keep-alive connections holding them all cannot fail a load
// balancer's probe. Anything behind it (a body, pipelined requests) goes
// to fasthttp, which answers every request in turn.
func (c *conn) loneHealthCheck(head []byte) bool {
	method, path, _, _ := httphead.RequestLine(head)
	return len(head) == len(c.rbuf) && string(method) == "GET" && string(path) == "/healthz"
}

// answerHealth answers the health check and closes: a connection kept
// alive here would have no one to read its next request.
func (c *conn) answerHealth() {
	status, body := c.srv.health(false) // the public port
	c.headWriter().Write(httpClose(status, "application/json", body))
	c.abort()
}
