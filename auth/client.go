package auth

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Config configures a Client. The zero value with a URL works.
type Config struct {
	// URL of the authorizer; empty disables authorization.
	URL string
	// Timeout bounds each call, connecting included. 0 means 1s.
	Timeout time.Duration
	// MaxConns bounds the keep-alive connections to the authorizer, and so
	// the calls in flight. 0 means 64.
	MaxConns int
}

// Error is a refusal. Status is the HTTP status a handshake gets for it;
// what a command gets is the server's business (its table of disconnects).
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// The two refusals. Check with errors.Is.
var (
	ErrDenied      = errors.New("auth: denied")
	ErrUnavailable = errors.New("auth: authorizer unavailable")
)

func denied(status int) error {
	return &Error{Status: 403, Err: fmt.Errorf("%w: authorizer answered %d", ErrDenied, status)}
}

func unavailable(cause error) error {
	return &Error{Status: 503, Err: fmt.Errorf("%w: %w", ErrUnavailable, cause)}
}

// Client calls the authorizer over a keep-alive pool.
type Client struct {
	url     string
	shown   string // url without its credentials, for errors, which end up in logs
	timeout time.Duration
	hc      *fasthttp.Client
}

// WithDefaults returns c with an unset (or negative) Timeout and MaxConns
// given their documented defaults.
func (c Config) WithDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 64
	}
	return c
}

// New returns a client, or nil when cfg.URL is empty.
func New(cfg Config) *Client {
	if cfg.URL == "" {
		return nil
	}
	cfg = cfg.WithDefaults()
	return &Client{url: cfg.URL, shown: redactURL(cfg.URL), timeout: cfg.Timeout, hc: &fasthttp.Client{
		MaxConnsPerHost:          cfg.MaxConns,
		MaxConnWaitTimeout:       cfg.Timeout,
		MaxIdleConnDuration:      30 * time.Second,
		ReadTimeout:              cfg.Timeout,
		WriteTimeout:             cfg.Timeout,
		NoDefaultUserAgentHeader: true,
		RetryIfErr:               retryOnClosedConn,
	}}
}

// Authorize posts body (JSON) and returns nil when the authorizer allows,
// or an *Error wrapping ErrDenied or ErrUnavailable.
func (c *Client) Authorize(body []byte) error {
	return c.post(body, nil)
}

// post posts body and returns the verdict; read, when not nil, sees the
// answer before its body is drained.
func (c *Client) post(body []byte, read func(*fasthttp.Response)) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	resp.StreamBody = true
	if err := c.hc.DoTimeout(req, resp, c.timeout); err != nil {
		return unavailable(fmt.Errorf("auth: post %s: %w", c.shown, err))
	}
	if read != nil {
		read(resp)
	}
	discardBody(resp)
	return verdict(resp.StatusCode())
}

// maxDrain is the most of a response body read to keep its connection.
const maxDrain = 4096

// discardBody reads what is left of a small body, so the kept connection
// starts clean for the next call. A larger body is not read: closing the
// stream unread closes the connection, so no byte of a body is ever taken
// for the next answer (SkipBody left it on the connection).
func discardBody(resp *fasthttp.Response) {
	if s := resp.BodyStream(); s != nil {
		io.Copy(io.Discard, io.LimitReader(s, maxDrain))
	}
	resp.CloseBodyStream()
}

// retryOnClosedConn retries a call whose kept connection the authorizer
// had closed meanwhile, as servers do to idle connections: the check
// changes nothing, so asking again is safe, and retries stay within the
// call's timeout and fasthttp's attempt limit.
func retryOnClosedConn(_ *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	return false, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

func verdict(status int) error {
	switch {
	case status == 200:
		return nil
	case status >= 500:
		return unavailable(fmt.Errorf("authorizer answered %d", status))
	default:
		return denied(status)
	}
}
