package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// maxRequestSize bounds an export's encoded request (before compression),
// as otlptracehttp does: a larger batch fails rather than being sent.
const maxRequestSize = 64 << 20

// errStopped is the cause of the cancellation of the exports under way when
// the client is stopped, and the error of any export after that.
var errStopped = errors.New("the OTLP client is stopped")

// Client is an otlptrace.Client that POSTs OTLP/HTTP protobuf to a traces
// endpoint, as the environment configures it (see the package
// documentation). Its methods are safe for concurrent use.
type Client struct {
	cfg  config
	http *http.Client
	// retry is the backoff of an export's retries.
	retry backoff
	// stopped is done once Stop was called; it cancels the exports under
	// way.
	stopped context.Context
	stop    context.CancelFunc
}

var _ otlptrace.Client = (*Client)(nil)

// NewClient returns a client configured by the OTEL_EXPORTER_OTLP_*
// variables of the process environment. Its error names the variable that
// is wrong and says what to do. Hand the client to otlptrace.New.
func NewClient() (*Client, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	stopped, stop := context.WithCancel(context.Background())
	return &Client{
		cfg:     cfg,
		http:    &http.Client{Transport: newTransport(cfg.tls)},
		retry:   defaultBackoff,
		stopped: stopped,
		stop:    stop,
	}, nil
}

// newTransport returns the HTTP transport of a client: net/http's default
// transport's settings (the proxy from HTTPS_PROXY, HTTP_PROXY and
// NO_PROXY among them) with tlsConfig, in a transport of its own so that a
// program replacing http.DefaultTransport does not change where its spans
// go.
func newTransport(tlsConfig *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       tlsConfig,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

// Endpoint returns the URL the client POSTs to, for a program's logs.
func (c *Client) Endpoint() string { return c.cfg.endpoint.String() }

// Start does nothing but fail when ctx is done: HTTP connects on the first
// export.
func (c *Client) Start(ctx context.Context) error {
	return ctx.Err()
}

// Stop cancels the exports under way, fails those that follow and closes
// the idle connections. The SDK calls it once the last spans were flushed.
// It fails only when ctx is done.
func (c *Client) Stop(ctx context.Context) error {
	c.stop()
	c.http.CloseIdleConnections()
	return ctx.Err()
}

// UploadTraces exports spans in one request, retried as the package
// documentation says, within the timeout of OTEL_EXPORTER_OTLP_TIMEOUT (and
// ctx). A partial success is reported through otel.Handle and is no error.
func (c *Client) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	if c.stopped.Err() != nil {
		return errStopped
	}
	body, err := marshalRequest(spans)
	if err != nil {
		return err
	}
	if len(body) > maxRequestSize {
		return fmt.Errorf("the export's request has %d bytes, more than the %d an export may have: make the batches smaller (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)", len(body), maxRequestSize)
	}
	if c.cfg.gzip {
		if body, err = gzipped(body); err != nil {
			return err
		}
	}
	ctx, cancel := c.exportContext(ctx)
	defer cancel()
	return c.send(ctx, body)
}

// exportContext returns the context of one export: ctx, cancelled when the
// client is stopped, within the export's timeout. The causes name what
// ended it.
func (c *Client) exportContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	unhook := context.AfterFunc(c.stopped, func() { cancel(errStopped) })
	cancelTimeout := context.CancelFunc(func() {})
	if c.cfg.timeout > 0 {
		from := c.cfg.timeoutFrom
		if from == "" {
			from = prefix + "TIMEOUT"
		}
		ctx, cancelTimeout = context.WithTimeoutCause(ctx, c.cfg.timeout,
			fmt.Errorf("the export took longer than its timeout (%s, %s)", c.cfg.timeout, from))
	}
	return ctx, func() {
		cancelTimeout()
		unhook()
		cancel(nil)
	}
}

// gzipped returns body compressed with gzip.
func gzipped(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(body) / 4)
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("compressing the spans: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the spans: %w", err)
	}
	return buf.Bytes(), nil
}
