package otlp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// backoff is the retry policy of an export, otlptracehttp's: exponential
// backoff with jitter, each interval 1.5 times the last up to max, each
// delay drawn within ±50% of its interval, for at most maxElapsed in all.
type backoff struct {
	initial, max, maxElapsed time.Duration
}

// defaultBackoff is the policy otlptracehttp retries with.
var defaultBackoff = backoff{initial: 5 * time.Second, max: 30 * time.Second, maxElapsed: time.Minute}

// delays returns the function that gives the delay before each retry of one
// export in turn.
func (b backoff) delays() func() time.Duration {
	interval := b.initial
	return func() time.Duration {
		d := interval/2 + rand.N(interval+1) // within ±50% of interval
		interval = min(interval*3/2, b.max)
		return d
	}
}

// retryable is the error of an attempt worth making again: a transport
// error or a status asking for it (429, 502, 503, 504).
type retryable struct {
	err error
	// after is how long the response's Retry-After asked the client to
	// wait (0 when it did not).
	after time.Duration
}

// Error is the attempt's error.
func (e *retryable) Error() string { return e.err.Error() }

// Unwrap returns the attempt's error.
func (e *retryable) Unwrap() error { return e.err }

// retryAfter returns the wait a Retry-After header asks for: a number of
// seconds (the longest Duration when it is longer), or an HTTP date; 0 when
// v is empty or neither.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	const forever = time.Duration(1<<63 - 1)
	s, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && s > uint64(forever/time.Second):
		return forever
	case err == nil:
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// transient reports whether a transport error is worth retrying: a
// timeout (of the dial, the TLS handshake or the response's headers), or a
// connection dropped or reset after it was made (a collector restarting).
// A connection that could not be made (refused: nothing listens) is not
// retried, as with the SDK's own exporter: a short command such as publish
// would otherwise wait seconds at exit to flush its spans, and a node's
// next batch tries again anyway. Nor is a rejected certificate or a TLS
// alert.
func transient(err error) bool {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return false
	}
	if ue.Timeout() {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// send makes the attempts of one export of body until one succeeds, one
// fails in a way no retry can fix, the backoff's time is up, or the next
// attempt would come after ctx's deadline (it gives up at once then rather
// than wait for nothing).
func (c *Client) send(ctx context.Context, body []byte) error {
	start := time.Now()
	next := c.retry.delays()
	for attempt := 1; ; attempt++ {
		err := c.post(ctx, body)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (attempt %d: %w)", context.Cause(ctx), attempt, err)
		}
		var r *retryable
		if !errors.As(err, &r) {
			return err
		}
		delay := max(next(), r.after)
		if elapsed := time.Since(start); delay > c.retry.maxElapsed-elapsed { // not elapsed+delay: a Retry-After may be huge
			return fmt.Errorf("giving up after %d attempts in %s, the next in %s would pass the retries' limit of %s: %w",
				attempt, elapsed.Round(time.Millisecond), delay.Round(time.Millisecond), c.retry.maxElapsed, r.err)
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return fmt.Errorf("giving up after %d attempts: the next, in %s, would pass the export's deadline: %w",
				attempt, delay.Round(time.Millisecond), r.err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (attempt %d: %w)", context.Cause(ctx), attempt, r.err)
		case <-t.C:
		}
	}
}
