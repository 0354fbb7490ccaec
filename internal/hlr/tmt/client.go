package tmt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// Defaults.
const (
	DefaultBaseURL  = "https://api.tmtvelocity.com/live/json"
	DefaultTimeout  = 5 * time.Second
	DefaultMaxConns = 256
	maxBody         = 64 << 10
)

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("tmt: bad configuration")

// Options configures a Client.
type Options struct {
	BaseURL   string        // HLR_BASE_URL (default DefaultBaseURL)
	APIKey    string        // HLR_API_KEY (required)
	APISecret string        // HLR_API_SECRET (required)
	Timeout   time.Duration // per call (HLR_TIMEOUT_SECONDS; default 5 s)
	// MaxConns sizes the keep-alive pool (MaxIdleConnsPerHost); use the
	// concurrency limit (default 256).
	MaxConns int
	// HTTPClient replaces the tuned client (tests). Redirects are still
	// refused.
	HTTPClient *http.Client
	ErrCodes   hlr.ErrCodes
	Logger     *slog.Logger // nil: discard
}

// Client is the TMT Velocity Live provider. It is safe for concurrent use.
type Client struct {
	base     string // without trailing slash
	prefix   string // base + escaped key and secret
	redacted string // base, its user info password masked, + "/***/***/"
	timeout  time.Duration
	http     *http.Client
	codes    hlr.ErrCodes
	log      *slog.Logger
}

var _ hlr.Lookuper = (*Client)(nil)

// New validates o and returns a client.
func New(o Options) (*Client, error) {
	if o.APIKey == "" || o.APISecret == "" {
		return nil, fmt.Errorf("%w: HLR_API_KEY and HLR_API_SECRET are required", ErrConfig)
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: HLR_BASE_URL %q is not an http(s) URL", ErrConfig, o.BaseURL)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base := strings.TrimRight(o.BaseURL, "/")
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: NewTransport(o.MaxConns)}
	} else {
		c := *hc
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{
		base:     base,
		prefix:   base + "/" + url.PathEscape(o.APIKey) + "/" + url.PathEscape(o.APISecret) + "/",
		redacted: strings.TrimRight(u.Redacted(), "/") + "/***/***/",
		timeout:  o.Timeout,
		http:     hc,
		codes:    o.ErrCodes,
		log:      o.Logger,
	}
	return c, nil
}

// NewTransport returns an http.Transport tuned for many concurrent calls to
// one host: a keep-alive pool of maxConns connections.
func NewTransport(maxConns int) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 0, // the context bounds the call
		ExpectContinueTimeout: time.Second,
	}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// RedactedURL returns the request URL for msisdn with key and secret
// replaced by "***".
func (c *Client) RedactedURL(msisdn string) string { return c.redacted + url.PathEscape(msisdn) }

// Lookup implements hlr.Lookuper.
func (c *Client) Lookup(ctx context.Context, msisdn string) (hlr.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	redacted := c.RedactedURL(msisdn)
	res, err := c.do(ctx, msisdn)
	if err != nil {
		err = c.classifyErr(ctx, redacted, err)
		c.log.DebugContext(ctx, "hlr.lookup.failed", slog.String("provider", "tmt"),
			slog.String("url", redacted), slog.String("error", err.Error()))
		return hlr.Result{}, err
	}
	c.log.DebugContext(ctx, "hlr.lookup", slog.String("provider", "tmt"),
		slog.String("url", redacted), slog.String("class", res.Class.String()),
		slog.String("reason", res.Reason), slog.Int("status", res.Status), slog.Int("error", res.Error))
	return res, nil
}

func (c *Client) do(ctx context.Context, msisdn string) (hlr.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.prefix+url.PathEscape(msisdn), nil)
	if err != nil {
		return hlr.Result{}, errors.New("cannot build request")
	}
	req.Header.Set("Accept", "application/json")
	req.Body = noReplay{}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// *url.Error embeds the full URL: keep only the cause.
			return hlr.Result{}, transportError{cause: ue.Err, timeout: ue.Timeout()}
		}
		return hlr.Result{}, transportError{cause: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Decided by the status alone, before the body: an error page
		// sent slowly must not turn a provider error (HLR_ERROR_POLICY)
		// into a timeout (HLR_TIMEOUT_POLICY) by running out the clock.
		return hlr.Result{}, fmt.Errorf("%w: HTTP %d", hlr.ErrProvider, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return hlr.Result{}, transportError{cause: fmt.Errorf("read body: %w", err)}
	}
	if len(body) > maxBody {
		return hlr.Result{}, fmt.Errorf("%w: response body over %d bytes", hlr.ErrProvider, maxBody)
	}
	a, err := Parse(body)
	if err != nil {
		return hlr.Result{}, err
	}
	return hlr.Classify(a, c.codes)
}

// noReplay is an empty request body without GetBody. net/http's
// Transport sends a GET again when the connection it reused breaks before
// the answer (once per pooled connection, then on a new one), though the
// request may have reached TMT and been billed; it retries only requests
// with no body or a body it can rewind. The body reads as empty, so
// nothing but the GET's headers is sent.
type noReplay struct{}

func (noReplay) Read([]byte) (int, error) { return 0, io.EOF }
func (noReplay) Close() error             { return nil }

// transportError carries a net/http failure whose URL has been dropped.
type transportError struct {
	cause   error
	timeout bool
}

func (e transportError) Error() string { return e.cause.Error() }
func (e transportError) Unwrap() error { return e.cause }

// classifyErr maps err to hlr.ErrTimeout/hlr.ErrProvider (or the caller's
// cancellation). Its text names the redacted URL: the credentials travel
// only in the request URL, which no error below carries (do drops the
// *url.Error), so no text is searched and replaced: a blind replacement
// of a short secret mangled unrelated words.
func (c *Client) classifyErr(ctx context.Context, redacted string, err error) error {
	var te transportError
	isTransport := errors.As(err, &te)
	var sentinel error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (isTransport && te.timeout) || errors.Is(err, context.DeadlineExceeded):
		sentinel = hlr.ErrTimeout
	case errors.Is(ctx.Err(), context.Canceled):
		sentinel = context.Canceled
	case errors.Is(err, hlr.ErrProvider):
		// Already an HLR error (status, parse); keep its identity.
		return &scrubbed{msg: "tmt: GET " + redacted + ": " + err.Error(), is: []error{err}}
	default:
		sentinel = hlr.ErrProvider
	}
	msg := "tmt: GET " + redacted + ": "
	switch sentinel {
	case hlr.ErrTimeout:
		msg += hlr.ErrTimeout.Error() + ": "
	case hlr.ErrProvider:
		msg += hlr.ErrProvider.Error() + ": "
	}
	is := []error{sentinel}
	if sentinel == hlr.ErrTimeout {
		is = append(is, context.DeadlineExceeded)
	}
	return &scrubbed{msg: msg + err.Error(), is: is}
}

// scrubbed is an error whose text has no credentials and which unwraps only
// to sentinels (never to a *url.Error that could print the URL).
type scrubbed struct {
	msg string
	is  []error
}

func (e *scrubbed) Error() string   { return e.msg }
func (e *scrubbed) Unwrap() []error { return e.is }
