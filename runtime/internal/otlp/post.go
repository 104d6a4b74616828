package otlp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
)

// The limits on what the client reads of a response.
const (
	// maxResponseSize bounds the body of a successful response (a partial
	// success), as otlptracehttp does; a larger one is not decoded.
	maxResponseSize = 4 << 20
	// maxErrorBody bounds what is read of a failed response's body, to let
	// the connection be reused; a longer one closes the connection.
	maxErrorBody = 64 << 10
	// maxExcerpt bounds how much of a failed response's body its error
	// holds.
	maxExcerpt = 200
)

// contentType is the media type of OTLP/HTTP protobuf, the requests' and
// the responses' alike.
const contentType = "application/x-protobuf"

// userAgent names dge (and its version, when the program's build knows it)
// in every request, as the specification asks an exporter to name itself.
var userAgent = "dge/" + dgeVersion() + " (OTLP/HTTP trace exporter; Go)"

// dgeVersion returns the version of the module github.com/dgehq/dge the
// program was built with: the main module's, or the dependency's in a
// generated program; "devel" when the build does not say.
func dgeVersion() string {
	const module = "github.com/dgehq/dge"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == module {
		v = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			v = d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// statusError is a response other than 2xx: its status and the start of
// its body.
type statusError struct {
	url    string
	status string
	body   string
}

// Error says which endpoint answered what.
func (e *statusError) Error() string {
	return fmt.Sprintf("%s answered %s: %s", e.url, e.status, e.body)
}

// post makes one attempt at an export: it POSTs body to the endpoint and
// reads and closes the response. The error of a failure worth retrying is a
// *retryable.
func (c *Client) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent) // the variables' headers may replace it, as in the SDK
	for k, vs := range c.cfg.headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", contentType)
	if c.cfg.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil || !transient(err) {
			return err
		}
		return &retryable{err: err}
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		c.readSuccess(resp)
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	err = &statusError{url: c.cfg.endpoint.String(), status: resp.Status, body: excerpt(b)}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &retryable{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return err
}

// readSuccess reads a successful response and reports the partial success
// it holds, if any, through otel.Handle. A body it cannot read or decode is
// reported the same way: the spans were delivered all the same.
func (c *Client) readSuccess(resp *http.Response) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	switch {
	case err != nil:
		otel.Handle(fmt.Errorf("reading the response of %s: %w", c.cfg.endpoint, err))
		return
	case len(b) > maxResponseSize:
		otel.Handle(fmt.Errorf("the response of %s has more than %d bytes: not decoded", c.cfg.endpoint, maxResponseSize))
		return
	case len(b) == 0:
		return
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != contentType {
		return // not the protobuf asked for: the SDK ignores it too
	}
	ps, err := parseResponse(b)
	switch {
	case err != nil:
		otel.Handle(fmt.Errorf("the response of %s: %w", c.cfg.endpoint, err))
	case ps != nil:
		otel.Handle(ps)
	}
}

// excerpt returns the start of a failed response's body for its error: at
// most maxExcerpt bytes of valid UTF-8, trimmed, "(empty)" for none.
func excerpt(b []byte) string {
	cut := len(b) > maxExcerpt
	if cut {
		b = b[:maxExcerpt]
		for len(b) > 0 && !utf8.Valid(b) && len(b) > maxExcerpt-utf8.UTFMax {
			b = b[:len(b)-1] // a rune cut in two
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	switch {
	case s == "":
		return "(empty)"
	case cut:
		return s + " ..."
	}
	return s
}
