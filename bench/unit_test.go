package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gobwas/ws"
)

func TestHistQuantilesWithinThreePercent(t *testing.T) {
	var h Hist
	vals := make([]uint64, 100000)
	for i := range vals {
		vals[i] = uint64(rand.ExpFloat64() * 5000)
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{.5, .9, .99, .999} {
		want := float64(vals[int(math.Ceil(q*float64(len(vals))))-1])
		if got := h.Quantile(q); math.Abs(got-want) > 0.03*want+1 {
			t.Errorf("q%v = %v, want %v within 3%%", q, got, want)
		}
	}
	if h.Max != vals[len(vals)-1] || h.N != uint64(len(vals)) {
		t.Errorf("max %d n %d, want %d %d", h.Max, h.N, vals[len(vals)-1], len(vals))
	}
}

func TestHistBucketsAreContiguous(t *testing.T) {
	for v := uint64(0); v < 1<<20; v += 1 + v/97 {
		i := bucketOf(v)
		if bucketLow(i) > v || bucketHigh(i) <= v {
			t.Fatalf("%d in bucket %d [%d,%d)", v, i, bucketLow(i), bucketHigh(i))
		}
	}
}

func TestHistMergeAddsCounts(t *testing.T) {
	var a, b Hist
	a.Record(10)
	b.Record(2000)
	b.Record(3)
	a.Merge(b)
	if a.N != 3 || a.Max != 2000 || a.Sum != 2013 || a.Quantile(1) != 2000 {
		t.Fatalf("merged %+v", a)
	}
}

func TestClientFrameIsMaskedAndReadable(t *testing.T) {
	for _, n := range []int{0, 125, 126, 70000} {
		p := bytes.Repeat([]byte("a"), n)
		f, err := ws.ReadFrame(bytes.NewReader(appendClientFrame(nil, ws.OpText, p)))
		if err != nil || !f.Header.Masked || !f.Header.Fin {
			t.Fatalf("len %d: %v %+v", n, err, f.Header)
		}
		ws.Cipher(f.Payload, f.Header.Mask, 0)
		if !bytes.Equal(f.Payload, p) {
			t.Fatalf("len %d: payload differs", n)
		}
	}
}

func TestParseServerFrameWaitsForWholeFrames(t *testing.T) {
	var buf bytes.Buffer
	for _, n := range []int{5, 300, 70000} {
		ws.WriteFrame(&buf, ws.NewTextFrame(bytes.Repeat([]byte("b"), n)))
	}
	b := buf.Bytes()
	for _, want := range []int{5, 300, 70000} {
		if _, n := parseServerFrame(b[:len(b)-1]); len(b) == want+10 && n != 0 {
			t.Fatal("incomplete frame parsed")
		}
		f, n := parseServerFrame(b)
		if n == 0 || len(f.payload) != want || f.op != ws.OpText {
			t.Fatalf("want %d-byte frame, got %d bytes (n=%d)", want, len(f.payload), n)
		}
		b = b[n:]
	}
	if _, n := parseServerFrame([]byte{0x81, 126, 1}); n != 0 {
		t.Fatal("partial extended length parsed")
	}
}

func TestContentHasSizeAndStamp(t *testing.T) {
	for _, size := range []int{80, 100, 1000} {
		c := appendContent(nil, "bench-3", 42, 1234567890123456789, size)
		frame := []byte(`{"channel":"bench-3","content":` + string(c) + `}`)
		if len(frame) != size {
			t.Errorf("size %d: payload is %d bytes: %s", size, len(frame), frame)
		}
		seq, sent, ok := parseStamp(frame)
		if !ok || seq != 42 || sent != 1234567890123456789 {
			t.Errorf("stamp %d %d %v", seq, sent, ok)
		}
		withOffset := []byte(`{"channel":"bench-3","offset":917,"content":` + string(c) + `}`)
		if seq, sent, ok := parseStamp(withOffset); !ok || seq != 42 || sent != 1234567890123456789 {
			t.Errorf("stamp with an offset %d %d %v", seq, sent, ok)
		}
	}
	if _, _, ok := parseStamp([]byte(`{"channel":"bench-3","offset":9`)); ok {
		t.Error("a cut frame parsed")
	}
}

func TestSizingRespectsFDAndPortLimits(t *testing.T) {
	sz, err := size(40000, 100000, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sz.Procs*sz.PerProc < 40000 || uint64(sz.PerProc) >= sz.FDLimit {
		t.Errorf("%d procs of %d for 40000 conns under fd limit %d", sz.Procs, sz.PerProc, sz.FDLimit)
	}
	if half := (sz.PortRange[1] - sz.PortRange[0] + 1) / 2; sz.PerSource > half {
		t.Errorf("%d ports per source: past half the range (%d), connect() scans for every port", sz.PerSource, half)
	}
	if len(sz.Sources)*sz.PerSource < 100000 || sz.Sources[0] == "127.0.0.1" {
		t.Errorf("%d sources of %d ports for 100000 ports: %v", len(sz.Sources), sz.PerSource, sz.Sources)
	}
}

func TestSpreadAndOwed(t *testing.T) {
	if got := spread(10, 3); !slices.Equal(got, []uint64{4, 3, 3}) {
		t.Errorf("spread(10,3) = %v", got)
	}
	// 10 subscribers over 3 channels (4,3,3), 7 publications (3,2,2)
	if got := owed(10, 3, 7); got != 4*3+3*2+3*2 {
		t.Errorf("owed = %d", got)
	}
}

func TestChartsAreWellFormedSVG(t *testing.T) {
	var h Hist
	for i := range 1000 {
		h.Record(uint64(100 + i*i%5000))
	}
	smp := []Sample{{Connections: 0, RSS: 8 << 20}, {Connections: 500, RSS: 9 << 20}}
	for name, svg := range map[string]string{
		"latency": latencyChart("x", map[string]*Hist{"a": &h, "b": &h}),
		"rss":     rssChart(smp, 8<<20, rssBudget),
	} {
		d := xml.NewDecoder(bytes.NewReader([]byte(svg)))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: %v", name, err)
				}
				break
			}
		}
		if !bytes.Contains([]byte(svg), []byte("<polyline")) {
			t.Errorf("%s: no data drawn", name)
		}
	}
}

func TestHistSurvivesJSON(t *testing.T) {
	var h Hist
	for _, v := range []uint64{1, 70, 70, 5000, 1 << 40} {
		h.Record(v)
	}
	b, err := json.Marshal(h)
	var back Hist
	if err == nil {
		err = json.Unmarshal(b, &back)
	}
	if err != nil || back.N != h.N || back.Max != h.Max || back.Quantile(.5) != h.Quantile(.5) || !slices.Equal(back.buckets(), h.buckets()) {
		t.Fatalf("%v: %s -> %+v", err, b, back)
	}
}

func TestCalibrateMeasuresAWrite(t *testing.T) {
	c, err := calibrate(100, 20, 20)
	if err != nil {
		t.Fatal(err)
	}
	if c.Writes != 400 || c.WriteUs <= 0 || c.WriteUs > 10000 {
		t.Fatalf("%+v", c)
	}
}

func TestTargetsCompareWithTheIssue(t *testing.T) {
	runs := []*Result{
		{Name: "idle", Idle: &IdleResult{RSSPerConn: 900, GoroutinesBefore: 74, GoroutinesAfter: 74, Window: Window{ServerCPUPct: 0.2}}},
		{Name: "fanout-latency", Fanout: &FanoutResult{Latency: Latency{P99: 30}}},
		{Name: "fanout-cost-http", Fanout: &FanoutResult{MicrosPerDeliv: 2.5, Lost: 1}},
		{Name: "connect", Connect: &ConnectResult{UpgradesPerSec: 9000}},
	}
	met := map[string]bool{}
	for _, c := range checkTargets(runs) {
		met[c.Run+": "+c.Target] = c.Met
	}
	for k, want := range map[string]bool{
		"idle: RSS growth <= 2 KiB per joined idle connection":                true,
		"fanout-latency: p99 publish-to-receive <= 25 ms":                     false,
		"fanout-cost-http: <= 3 us server CPU per delivery":                   true,
		"fanout-cost-http: nothing lost or every slow-consumer close counted": false,
		"connect: >= 8,000 upgrades/s without an authorizer":                  true,
	} {
		if got, ok := met[k]; !ok || got != want {
			t.Errorf("%s: met=%v (present %v), want %v", k, got, ok, want)
		}
	}
}
