package handoff

import (
	"net"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func sampleConns() []Conn {
	return []Conn{
		{ID: "ab12-1", Remote: "127.0.0.1:5000", Open: true, Deflate: true, Inflate: true, MsgOp: 1,
			Message: []byte("frag"), Unparsed: []byte{0x81, 0x85}, Unsent: []byte("half a frame"),
			Client: []byte(`{"id":"ab12-1"}`), Identified: true, User: "u", Info: []byte(`{"a":1}`),
			Channels: []string{"a", "b"}, RateWait: 5, FloodWait: -1, JoinWait: 7, Heard: 123, Pinged: true},
		{ID: "ab12-2", Remote: "[::1]:1", Heard: -1},
	}
}

func TestConnsRoundTrip(t *testing.T) {
	want := sampleConns()
	got, err := ParseConns(AppendConns(nil, want))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v\nwant %+v", got, err, want)
	}
	pubs := []Pub{{Seq: 3, Channel: []byte("c"), Frame: []byte{0x81, 1, 'x'}, Offset: 9}, {Channel: []byte("d"), Frame: []byte{0x81, 1, 'y'}, Filter: []byte("f")}}
	if got, err := ParsePubs(AppendPubs(nil, pubs)); err != nil || !reflect.DeepEqual(got, pubs) {
		t.Fatalf("pubs: %+v %v", got, err)
	}
	hs := []History{{Channel: []byte("h"), Epoch: "e-1", Last: 4, Touched: 99, Entries: []Entry{{At: 1, Frame: []byte("f")}}}}
	if got, err := ParseHistories(AppendHistories(nil, hs)); err != nil || !reflect.DeepEqual(got, hs) {
		t.Fatalf("histories: %+v %v", got, err)
	}
	if h, err := ParseHello(AppendHello(nil, Hello{Version: Version(), PID: 42})); err != nil || h.PID != 42 || h.Version != Version() {
		t.Fatalf("hello: %+v %v", h, err)
	}
}

// Every cut of a payload is an error, never a panic or a wrong value.
func TestTruncatedPayloadsFail(t *testing.T) {
	b := AppendConns(nil, sampleConns())
	for i := range len(b) {
		if _, err := ParseConns(b[:i]); err == nil {
			t.Fatalf("%d of %d bytes parsed", i, len(b))
		}
	}
}

// A link carries more descriptors than one sendmsg may, in order, with
// payloads longer than one read.
func TestLinkCarriesDescriptors(t *testing.T) {
	a, b := linkPair(t)
	const n = 3 * MaxFDs
	var files []*os.File
	for i := range n {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte{byte(i)})
		w.Close()
		files = append(files, r)
	}
	payload := make([]byte, 1<<20)
	go func() {
		for i := 0; i < n; i += MaxFDs {
			var fds []int
			for _, f := range files[i : i+MaxFDs] {
				fds = append(fds, int(f.Fd()))
			}
			payload[0] = byte(i / MaxFDs)
			if err := a.Send(KindConns, payload, fds); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := 0
	for got < n {
		m, err := b.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != KindConns || len(m.Payload) != len(payload) || int(m.Payload[0]) != got/MaxFDs || len(m.FDs) != MaxFDs {
			t.Fatalf("message %d: kind %q, %d bytes, %d descriptors", got/MaxFDs, m.Kind, len(m.Payload), len(m.FDs))
		}
		for _, fd := range m.FDs {
			var one [1]byte
			if k, _ := unix.Read(fd, one[:]); k != 1 || int(one[0]) != got%256 {
				t.Fatalf("descriptor %d reads %d %v", got, k, one)
			}
			unix.Close(fd)
			got++
		}
	}
}

func linkPair(t *testing.T) (*Link, *Link) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *Link {
		f := os.NewFile(uintptr(fd), "link")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		l := NewLink(c.(*net.UnixConn))
		t.Cleanup(func() { l.Close() })
		return l
	}
	return conn(fds[0]), conn(fds[1])
}
