package server

import (
	"io"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/wsify/wsify/events"
	"github.com/wsify/wsify/protocol"
	"github.com/wsify/wsify/server/internal/prom"
)

// handleMetrics serves GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	s.writeMetrics(ctx)
}

// writeMetrics writes wsify's own metrics from one Stats snapshot, the one
// GET /stats serves, then the Go runtime's and the process's
// (go_goroutines, process_open_fds, memory, CPU).
func (s *Server) writeMetrics(w io.Writer) {
	// The library writes # TYPE lines only when asked, process-wide; a
	// scrape without them would make every counter "untyped".
	metrics.ExposeMetadata(true)
	st := s.Stats()
	writeConnMetrics(w, &st)
	writeLimitMetrics(w, &st.Limits)
	writeFanoutMetrics(w, &st)
	writeCommandMetrics(w, &st)
	s.writeAuthMetrics(w, &st)
	writeEventMetrics(w, &st.Events)
	s.writeHistoryMetrics(w)
	metrics.WriteProcessMetrics(w)
	metrics.WriteFDMetrics(w)
}

func writeConnMetrics(w io.Writer, st *Stats) {
	prom.Gauge(w, "wsify_connections_open", "WebSocket connections open now.", st.Open)
	prom.Gauge(w, "wsify_sockets", "Sockets held, handshakes in progress included.", int64(st.Sockets))
	prom.Counter(w, "wsify_connections_accepted_total", "TCP connections accepted on the public address.", uint64(st.Accepted))
	prom.Family(w, "wsify_connections_closed_total", "counter", "WebSocket connections closed, by close code (1006: dropped without a close frame).")
	for i := range numCloseSlots {
		prom.Sample(w, "wsify_connections_closed_total", "code", closeLabel(i), st.ClosedBy[closeLabel(i)])
	}
	prom.Family(w, "wsify_handshakes_rejected_total", "counter", "WebSocket handshakes refused, by reason.")
	for _, r := range reasonNames {
		prom.Sample(w, "wsify_handshakes_rejected_total", "reason", r, uint64(st.RejectedBy[r]))
	}
	prom.Counter(w, "wsify_handshake_timeouts_total", "Connections closed for an incomplete request head.", uint64(st.HandshakeTimeouts))
	prom.Counter(w, "wsify_protocol_errors_total", "Connections closed for a WebSocket protocol violation.", uint64(st.ProtocolErrors))
	prom.Counter(w, "wsify_poller_errors_total", "Times the poller refused to watch a socket or the listener.", st.PollerErrors)
	prom.Counter(w, "wsify_panics_total", "Panics recovered; each is logged with its stack, and its connection closed with 1011.", st.Panics)
	prom.Family(w, "wsify_handoff_connections_total", "counter", "Connections a handoff moved: handed to a new process, or taken over from an old one.")
	prom.Sample(w, "wsify_handoff_connections_total", "direction", "handed", st.Handoff.Handed)
	prom.Sample(w, "wsify_handoff_connections_total", "direction", "taken", st.Handoff.Taken)
}

func writeLimitMetrics(w io.Writer, l *LimitStats) {
	prom.Counter(w, "wsify_slow_consumer_disconnects_total", "Connections closed with 1008 for a full outbox.", l.SlowConsumers)
	prom.Counter(w, "wsify_pings_total", "Pings sent to connections silent for the ping interval.", l.Pings)
	prom.Counter(w, "wsify_dead_peers_total", "Connections dropped for not answering a ping in time.", l.DeadPeers)
	prom.Counter(w, "wsify_flooders_total", "Connections closed with 1008 for sending on after being rate limited.", l.Flooders)
	prom.Counter(w, "wsify_rate_limited_total", "Commands refused with rate_limited.", l.RateLimited)
	prom.Counter(w, "wsify_too_many_channels_total", "Joins refused with too_many_channels.", l.TooManyChannels)
	prom.Counter(w, "wsify_sockets_refused_total", "Sockets closed at accept: past the connection cap and its headroom.", l.RefusedAtAccept)
}

func writeFanoutMetrics(w io.Writer, st *Stats) {
	prom.Gauge(w, "wsify_channels", "Channels with at least one subscriber on this node.", int64(st.Channels))
	prom.Counter(w, "wsify_messages_published_total", "Messages published (client broadcasts and POST /broadcast).", st.Published)
	prom.Counter(w, "wsify_deliveries_total", "Message frames queued to subscribers.", st.Deliveries)
	up := int64(0)
	if st.BrokerUp {
		up = 1
	}
	prom.Gauge(w, "wsify_broker_up", "1 when the broker linking the nodes works (always 1 without one).", up)
}

func writeCommandMetrics(w io.Writer, st *Stats) {
	prom.Family(w, "wsify_commands_total", "counter", "Client commands, by command and result.")
	for k := range protocol.NumKinds {
		kind := protocol.Kind(k).String()
		for _, r := range resultNames {
			if v, ok := st.Commands[kind][r]; ok {
				prom.Sample2(w, "wsify_commands_total", "command", kind, "result", r, v)
			}
		}
	}
}

func (s *Server) writeAuthMetrics(w io.Writer, st *Stats) {
	prom.Family(w, "wsify_authorizer_calls_total", "counter", "Authorizer calls, by verdict.")
	for _, v := range verdictNames {
		prom.Sample(w, "wsify_authorizer_calls_total", "verdict", v, st.AuthCalls[v])
	}
	s.stats.authLatency.Write(w, "wsify_authorizer_duration_seconds", "Time an authorizer call took.")
}

func writeEventMetrics(w io.Writer, e *events.Stats) {
	prom.Counter(w, "wsify_events_sent_total", "Lifecycle events the webhook took.", e.Sent)
	prom.Counter(w, "wsify_events_dropped_total", "Lifecycle events dropped: the webhook's queue was full.", e.Dropped)
	prom.Counter(w, "wsify_events_failed_requests_total", "Webhook requests that failed; their events are sent again.", e.Failed)
}

// writeHistoryMetrics writes the node's history memory and drops; nothing
// when no channel keeps history, or when the broker keeps it (Redis).
func (s *Server) writeHistoryMetrics(w io.Writer) {
	if s.ns == nil || s.remoteHistory {
		return
	}
	prom.Gauge(w, "wsify_history_bytes", "Memory charged to every channel history of this node.", s.hub.HistoryBytes())
	prom.Counter(w, "wsify_history_dropped_total", "Channel histories dropped for the node's history memory bound (their epochs changed).", s.hub.HistoriesDropped())
}
