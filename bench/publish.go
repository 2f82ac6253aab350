package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// publisher sends publications and reads their acknowledgements; with a
// window above one, several are sent before the first answer is read.
type publisher interface {
	send(channel string, content []byte) error
	await() error // reads the oldest outstanding acknowledgement
	close()
}

// httpPublisher POSTs /broadcast on one keep-alive connection (pipelined
// when the window allows), with a minimal HTTP/1.1 client so the tool's
// cost stays small beside the server's.
type httpPublisher struct {
	c     net.Conn
	br    *bufio.Reader
	host  string
	extra []byte // members added to every publication (-filter)
	req   []byte
	body  []byte
}

func newHTTPPublisher(addr string, extra []byte) (*httpPublisher, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("bench: publisher: %w", err)
	}
	return &httpPublisher{c: c, br: bufio.NewReaderSize(c, 4096), host: addr, extra: extra}, nil
}

func (p *httpPublisher) send(channel string, content []byte) error {
	p.body = append(append(append(append(p.body[:0], `{"channel":"`...), channel...), `","content":`...), content...)
	p.body = append(append(p.body, p.extra...), '}')
	p.req = append(p.req[:0], "POST /broadcast HTTP/1.1\r\nHost: "...)
	p.req = append(p.req, p.host...)
	p.req = append(p.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	p.req = strconv.AppendInt(p.req, int64(len(p.body)), 10)
	p.req = append(append(p.req, "\r\n\r\n"...), p.body...)
	_, err := p.c.Write(p.req)
	return err
}

// await reads one response; anything but 201 is an error.
func (p *httpPublisher) await() error {
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewReader(p.br)
	status, err := tp.ReadLine()
	if err != nil {
		return fmt.Errorf("bench: POST /broadcast: %w", err)
	}
	length := 0
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return fmt.Errorf("bench: POST /broadcast: %w", err)
		}
		if line == "" {
			break
		}
		if k, v, ok := bytes.Cut([]byte(line), []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if _, err := io.CopyN(io.Discard, p.br, int64(length)); err != nil {
		return fmt.Errorf("bench: POST /broadcast body: %w", err)
	}
	if len(status) < 12 || status[9:12] != "201" {
		return fmt.Errorf("bench: POST /broadcast: %s", status)
	}
	return nil
}

func (p *httpPublisher) close() { p.c.Close() }

// wsPublisher sends broadcast commands with ids over one WebSocket; it
// joins nothing, so it only gets the acknowledgements back.
type wsPublisher struct {
	c     net.Conn
	rd    frameReader
	id    int
	extra []byte // members added to every command's args (-filter)
	frame []byte
	cmd   []byte
}

func newWSPublisher(addr string, extra []byte) (*wsPublisher, error) {
	d := ws.Dialer{Timeout: 5 * time.Second}
	c, br, _, err := d.Dial(context.Background(), "ws://"+addr+"/ws")
	if err != nil {
		return nil, fmt.Errorf("bench: publisher: %w", err)
	}
	p := &wsPublisher{c: c, rd: frameReader{r: c}, extra: extra}
	if br != nil {
		p.rd.buf, _ = br.Peek(br.Buffered())
	}
	return p, nil
}

func (p *wsPublisher) send(channel string, content []byte) error {
	p.id++
	p.cmd = append(append(p.cmd[:0], `{"command":"broadcast","id":`...), strconv.Itoa(p.id)...)
	p.cmd = append(append(append(p.cmd, `,"args":{"channel":"`...), channel...), `","content":`...)
	p.cmd = append(append(append(p.cmd, content...), p.extra...), "}}"...)
	p.frame = appendClientFrame(p.frame[:0], ws.OpText, p.cmd)
	_, err := p.c.Write(p.frame)
	return err
}

func (p *wsPublisher) await() error {
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := p.rd.next()
	switch {
	case err != nil:
		return fmt.Errorf("bench: broadcast command: %w", err)
	case f.op == ws.OpClose:
		return fmt.Errorf("bench: broadcast command: server closed with %d", closeCode(f.payload))
	case !bytes.Contains(f.payload, okReply):
		return fmt.Errorf("bench: broadcast command: %s", f.payload)
	}
	return nil
}

func (p *wsPublisher) close() {
	p.c.Write(closeFrame1000)
	p.c.Close()
}
