package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsify/wsify/internal/testutil"
	"github.com/wsify/wsify/server"
)

// stream publishes total publications on channel through POST /broadcast
// at about rate a second, and reports the first failure.
func stream(s *server.Server, channel string, total, rate int) <-chan error {
	done := make(chan error, 1)
	pad := strings.Repeat("x", 4000)
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 1; i <= total; i++ {
			<-tick.C
			body := fmt.Sprintf(`{"channel":%q,"content":{"n":%d,"pad":%q}}`, channel, i, pad)
			resp, err := http.Post(httpURL(s, "/broadcast"), "application/json", strings.NewReader(body))
			if err != nil {
				done <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				done <- fmt.Errorf("publication %d: %d", i, resp.StatusCode)
				return
			}
		}
		done <- nil
	}()
	return done
}

// continuity is what one subscriber received, in order, across its
// connections.
type continuity struct {
	t       *testing.T
	channel string
	epoch   string
	got     []uint64
}

func (c *continuity) last() uint64 {
	if len(c.got) == 0 {
		return 0
	}
	return c.got[len(c.got)-1]
}

// take records one message; it fails on anything but the next delivery.
func (c *continuity) take(msg []byte) {
	c.t.Helper()
	var d struct {
		Channel string
		Offset  uint64
		Content struct{ N uint64 }
	}
	if err := json.Unmarshal(msg, &d); err != nil || d.Channel != c.channel {
		c.t.Fatalf("not a delivery: %.100s", msg)
	}
	if d.Offset != c.last()+1 || d.Content.N != d.Offset {
		c.t.Fatalf("after offset %d came offset %d carrying publication %d", c.last(), d.Offset, d.Content.N)
	}
	c.got = append(c.got, d.Offset)
}

// readUntil takes deliveries until offset is reached.
func (c *continuity) readUntil(ws *websocket.Conn, offset uint64) {
	c.t.Helper()
	for c.last() < offset {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read after offset %d: %v", c.last(), err)
		}
		c.take(msg)
	}
}

// drain takes what reached a connection the server dropped, to its end.
func (c *continuity) drain(ws *websocket.Conn) {
	c.t.Helper()
	for range 100000 {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("a dropped connection stayed open: %v", err)
			}
			return
		}
		c.take(msg)
	}
}

// rejoin joins with since on a new connection and wants recovered.
func (c *continuity) rejoin(ws *websocket.Conn) {
	c.t.Helper()
	r := joinAt(c.t, ws, c.channel, sinceOf(c.last(), c.epoch))
	if r.Recovered == nil || !*r.Recovered || r.Epoch != c.epoch {
		c.t.Fatalf("rejoin after offset %d: %+v", c.last(), r)
	}
}

func dialSmallWindowWS(t *testing.T, s *server.Server) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: func(context.Context, string, string) (net.Conn, error) {
		return dialSmallWindowTCP(t, s), nil
	}}
	c, _, err := d.Dial(wsURL(s, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContinuityOnOneNode: a subscriber of a stream of 2,000 publications
// POSTed at about 200 a second is dropped as a slow consumer mid-stream,
// rejoins with since, has its TCP connection closed from its side, rejoins
// again, and ends with every publication exactly once, in offset order.
func TestContinuityOnOneNode(t *testing.T) {
	s := historyServer(t, server.Config{HistorySize: continuityTotal, HistoryTTL: 5 * time.Minute, OutboxBytes: 64 << 10})
	runContinuity(t, s, s, s)
}

const continuityTotal = 2000

// runContinuity subscribes on a, publishes the stream on b, cuts the
// subscriber twice and rejoins it on c each time.
func runContinuity(t *testing.T, a, b, c *server.Server) {
	const total = continuityTotal
	cont := &continuity{t: t, channel: freshChannel("continuity")}

	ws := dialSmallWindowWS(t, a)
	cont.epoch = joinAt(t, ws, cont.channel, "").Epoch
	published := stream(b, cont.channel, total, 200)

	cont.readUntil(ws, 200)
	slow := a.Stats().SlowConsumers // and read no more until the server drops it
	if !testutil.Poll(testutil.Timeout, func() bool { return a.Stats().SlowConsumers > slow }) {
		t.Fatal("the subscriber that stopped reading was not dropped")
	}
	cont.drain(ws)
	t.Logf("dropped as a slow consumer after offset %d", cont.last())
	if cont.last() >= total-200 {
		t.Fatalf("dropped too late to test anything: after offset %d", cont.last())
	}

	ws = dial(t, c)
	cont.rejoin(ws)
	cont.readUntil(ws, cont.last()+300)
	ws.UnderlyingConn().Close()
	t.Logf("closed from the client after offset %d", cont.last())

	ws = dial(t, c)
	cont.rejoin(ws)
	cont.readUntil(ws, total)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if len(cont.got) != total {
		t.Fatalf("got %d publications, want %d", len(cont.got), total)
	}
}

// TestContinuityOnThreeNodesOverRedis: the same on three nodes sharing a
// real redis-server: subscribed on A, published on B, rejoined on C.
func TestContinuityOnThreeNodesOverRedis(t *testing.T) {
	nodes, _ := redisHistoryNodes(t, 3, server.Config{HistorySize: continuityTotal, HistoryTTL: 5 * time.Minute, OutboxBytes: 64 << 10})
	runContinuity(t, nodes[0], nodes[1], nodes[2])
}
