package server

import (
	"fmt"
	"io"
	"strconv"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// handleMetrics serves GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	s.writeMetrics(ctx)
}

// writeMetrics writes wsify's own metrics, then the Go runtime's and the
// process's (go_goroutines, process_open_fds, memory, CPU). Ours are read
// from the atomics in stats, so a scrape costs the hot path nothing.
func (s *Server) writeMetrics(w io.Writer) {
	// The library writes # TYPE lines only when asked, process-wide; a
	// scrape without them would make every counter "untyped".
	metrics.ExposeMetadata(true)
	s.writeConnMetrics(w)
	s.writeFanoutMetrics(w)
	s.writeCommandMetrics(w)
	s.writeAuthMetrics(w)
	metrics.WriteProcessMetrics(w)
	metrics.WriteFDMetrics(w)
}

func (s *Server) writeConnMetrics(w io.Writer) {
	st := &s.stats
	gauge(w, "wsify_connections_open", "WebSocket connections open now.", st.open.Load())
	gauge(w, "wsify_sockets", "Sockets held, handshakes in progress included.", int64(s.conns.len()))
	counter(w, "wsify_connections_accepted_total", "TCP connections accepted on the public address.", uint64(st.accepted.Load()))
	family(w, "wsify_connections_closed_total", "counter", "WebSocket connections closed, by close code (1006: dropped without a close frame).")
	for i := range st.closedBy {
		sample(w, "wsify_connections_closed_total", "code", closeLabel(i), st.closedBy[i].Load())
	}
	family(w, "wsify_handshakes_rejected_total", "counter", "WebSocket handshakes refused, by reason.")
	for r := range st.rejectedBy {
		sample(w, "wsify_handshakes_rejected_total", "reason", reasonNames[r], uint64(st.rejectedBy[r].Load()))
	}
	counter(w, "wsify_handshake_timeouts_total", "Connections closed for an incomplete request head.", uint64(st.handshakeTimeouts.Load()))
	counter(w, "wsify_protocol_errors_total", "Connections closed for a WebSocket protocol violation.", uint64(st.protocolErrors.Load()))
	counter(w, "wsify_slow_consumer_disconnects_total", "Connections closed with 1008 for a full outbox.", uint64(st.slowConsumers.Load()))
}

func closeLabel(slot int) string {
	if slot == len(closeCodes) {
		return "other"
	}
	return strconv.Itoa(int(closeCodes[slot]))
}

func (s *Server) writeFanoutMetrics(w io.Writer) {
	st := &s.stats
	gauge(w, "wsify_channels", "Channels with at least one subscriber on this node.", int64(s.hub.Channels()))
	counter(w, "wsify_messages_published_total", "Messages published (client broadcasts and POST /broadcast).", st.published.Load())
	counter(w, "wsify_deliveries_total", "Message frames queued to subscribers.", st.deliveries.Load())
	up := int64(0)
	if s.link.b.Health().Up {
		up = 1
	}
	gauge(w, "wsify_broker_up", "1 when the broker linking the nodes works (always 1 without one).", up)
}

func (s *Server) writeCommandMetrics(w io.Writer) {
	family(w, "wsify_commands_total", "counter", "Client commands, by command and result.")
	for k := range s.stats.commands {
		for r := range s.stats.commands[k] {
			if k == 0 && commandResult(r) != resultInvalid {
				continue // an unrecognized command can only be invalid
			}
			fmt.Fprintf(w, "wsify_commands_total{command=%q,result=%q} %d\n",
				kindNames[k], resultNames[r], s.stats.commands[k][r].Load())
		}
	}
}

func (s *Server) writeAuthMetrics(w io.Writer) {
	st := &s.stats
	family(w, "wsify_authorizer_calls_total", "counter", "Authorizer calls, by verdict.")
	for v := range st.authCalls {
		sample(w, "wsify_authorizer_calls_total", "verdict", verdictNames[v], st.authCalls[v].Load())
	}
	const name = "wsify_authorizer_duration_seconds"
	family(w, name, "histogram", "Time an authorizer call took.")
	counts := st.authLatency.cumulative()
	for i, bound := range latencyBuckets {
		fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", name, strconv.FormatFloat(bound.Seconds(), 'g', -1, 64), counts[i])
	}
	total := counts[len(counts)-1]
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, total, name, st.authLatency.sumSeconds(), name, total)
}

// family writes the # HELP and # TYPE lines that head a metric family.
func family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func sample(w io.Writer, name, label, value string, v uint64) {
	fmt.Fprintf(w, "%s{%s=%q} %d\n", name, label, value, v)
}

func gauge(w io.Writer, name, help string, v int64) {
	family(w, name, "gauge", help)
	fmt.Fprintf(w, "%s %d\n", name, v)
}

func counter(w io.Writer, name, help string, v uint64) {
	family(w, name, "counter", help)
	fmt.Fprintf(w, "%s %d\n", name, v)
}
