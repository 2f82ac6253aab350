package bench

import (
	"fmt"
	"time"
)

// fanout has cfg.Conns subscribers, publishes cfg.Msgs stamped messages
// and measures publish-to-receive latency, losses and the server's CPU per
// delivery.
func (s *session) fanout() error {
	ramp, err := s.rampUp()
	s.res.Ramp = ramp
	if err != nil {
		return err
	}
	if ramp.Joined < ramp.Target {
		s.res.Notes = append(s.res.Notes, fmt.Sprintf("only %d of %d subscribers joined", ramp.Joined, ramp.Target))
	}
	pub, err := s.publisher()
	if err != nil {
		return err
	}
	defer pub.close()
	fr := &FanoutResult{Subscribers: ramp.Joined}
	s.res.Fanout = fr
	if err := s.fanoutMeasure(fr, pub); err != nil {
		return err
	}
	return s.historyCost(fr)
}

// historyCost reads the history's memory after a run with -history.
func (s *session) historyCost(fr *FanoutResult) error {
	if s.cfg.History == 0 {
		return nil
	}
	b, err := s.tgt.metric("wsify_history_bytes")
	if err != nil {
		return err
	}
	var kept uint64
	for _, n := range spread(fr.Published, s.cfg.Channels) {
		kept += min(n, uint64(s.cfg.History))
	}
	fr.HistoryBytes = int64(b)
	fr.HistoryPerPub = b / float64(max(kept, 1))
	return nil
}

func (s *session) publisher() (publisher, error) {
	extra, err := s.filterArgs()
	if err != nil {
		return nil, err
	}
	if s.cfg.Via == "ws" {
		return newWSPublisher(s.tgt.Addr, extra)
	}
	return newHTTPPublisher(s.tgt.Addr, extra)
}

func (s *session) fanoutMeasure(fr *FanoutResult, pub publisher) error {
	before, err := s.snap()
	if err != nil {
		return err
	}
	recv0, _ := s.fleet.progress()
	s.startProfile()
	sentAt := s.publish(fr, pub)
	lastRecv := s.drain(recv0.Recv, owed(fr.Subscribers, s.cfg.Channels, fr.Published))
	after, err := s.snap()
	s.stopProfile()
	if err != nil {
		return err
	}
	fr.Window = window(before, after)
	fr.DeliverySeconds = lastRecv.Sub(sentAt).Seconds()
	if err := s.stopFleet(); err != nil {
		return err
	}
	s.fanoutCounts(fr, before, after)
	return nil
}

// publish sends cfg.Msgs messages at cfg.Rate (0: each as soon as the
// window allows) and returns when the first left.
func (s *session) publish(fr *FanoutResult, pub publisher) time.Time {
	start := time.Now()
	outstanding := 0
	var content []byte
	for i := range s.cfg.Msgs {
		for outstanding >= s.cfg.Window {
			fr.acked(pub.await())
			outstanding--
		}
		if s.cfg.Rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(float64(i) / s.cfg.Rate * float64(time.Second)))))
		}
		ch := channelName(i % s.cfg.Channels)
		content = appendContent(content[:0], ch, i, time.Now().UnixNano(), s.cfg.Size)
		if err := pub.send(ch, content); err != nil {
			fr.acked(err)
			break
		}
		outstanding++
	}
	for ; outstanding > 0; outstanding-- {
		fr.acked(pub.await())
	}
	fr.PublishSeconds = time.Since(start).Seconds()
	fr.PublishRate = float64(fr.Published) / fr.PublishSeconds
	s.logf("published %d (%d errors) in %.2fs", fr.Published, fr.PublishErrors, fr.PublishSeconds)
	return start
}

func (fr *FanoutResult) acked(err error) {
	if err != nil {
		fr.PublishErrors++
		return
	}
	fr.Published++
}

// drain waits until the subscribers have received want broadcasts since
// base, or nothing arrived for a second, or cfg.Drain passed; it returns
// when the last one arrived (as far as 10ms polling tells).
func (s *session) drain(base, want uint64) time.Time {
	deadline := time.Now().Add(s.cfg.Drain)
	last, lastAt := uint64(0), time.Now()
	for time.Now().Before(deadline) {
		p, _ := s.fleet.progress()
		got := p.Recv - base
		if got != last {
			last, lastAt = got, time.Now()
		}
		if got >= want || time.Since(lastAt) > time.Second {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.logf("received %d of %d deliveries", last, want)
	return lastAt
}

// fanoutCounts fills the delivery figures from the workers and /stats.
func (s *session) fanoutCounts(fr *FanoutResult, before, after snapshot) {
	perChan := spread(fr.Published, s.cfg.Channels)
	var hist Hist
	fr.CloseCodes, fr.Failures = map[int]int{}, map[string]int{}
	var reads, frames uint64
	for _, r := range s.results {
		hist.Merge(r.Latency)
		reads, frames = reads+r.Reads, frames+r.Frames
		for c, k := range r.CloseCodes {
			fr.CloseCodes[c] += k
		}
		for c, k := range r.Failures {
			fr.Failures[c] += k
		}
		for i, c := range r.Channels {
			fr.Expected += uint64(c.Open) * perChan[i]
			fr.Received += c.RecvOpen + c.RecvClosed
			fr.Lost += satSub(uint64(c.Open)*perChan[i], c.RecvOpen)
			fr.DroppedByClose += satSub(uint64(c.Closed)*perChan[i], c.RecvClosed)
			fr.Disorder += c.Disorder
		}
	}
	fr.Latency = hist.Summary()
	s.hists = map[string]*Hist{"publish to receive": &hist}
	s.fanoutCost(fr, before, after, reads, frames)
}

// spread returns how many of n items numbered 0..n-1 fall on each of k
// slots when item i goes to slot i % k (publications to channels,
// subscribers to channels).
func spread(n, k int) []uint64 {
	out := make([]uint64, k)
	for i := range k {
		out[i] = uint64(n / k)
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// owed is how many deliveries subs subscribers over channels are owed
// after published publications.
func owed(subs, channels, published int) uint64 {
	var sum uint64
	s, p := spread(subs, channels), spread(published, channels)
	for i := range s {
		sum += s[i] * p[i]
	}
	return sum
}

func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

func (s *session) fanoutCost(fr *FanoutResult, before, after snapshot, reads, frames uint64) {
	fr.SlowConsumers = after.stats.SlowConsumers - before.stats.SlowConsumers
	fr.Deliveries = after.stats.Deliveries - before.stats.Deliveries
	d := float64(max(fr.Deliveries, 1))
	fr.CPUPerMillion = fr.Window.ServerCPU / d * 1e6
	fr.MicrosPerDeliv = fr.Window.ServerCPU / d * 1e6
	fr.ToolMicros = fr.Window.ToolCPU / d * 1e6
	if p := s.res.Profile; p != nil && p.Error == "" {
		fr.MicrosExclRx = fr.MicrosPerDeliv * (1 - p.LoopbackRxPct/100)
	}
	fr.WritesPerDeliv = float64(fr.Window.ServerWrites) / d
	fr.MicrosPerWrite = fr.Window.ServerCPU / float64(max(fr.Window.ServerWrites, 1)) * 1e6
	if reads > 0 {
		fr.FramesPerRead = float64(frames) / float64(reads)
	}
	if fr.DeliverySeconds > 0 {
		fr.DeliveriesPerSec = float64(fr.Received) / fr.DeliverySeconds
	}
}
