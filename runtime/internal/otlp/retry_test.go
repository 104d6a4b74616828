package otlp

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fastBackoff retries within milliseconds, so that a test waits only for
// what a Retry-After asks.
var fastBackoff = backoff{initial: 10 * time.Millisecond, max: 20 * time.Millisecond, maxElapsed: 10 * time.Second}

// TestRetryAfter503 checks that a 503 with Retry-After: 1 is retried after
// a second (not the backoff's few milliseconds), and the export then
// succeeds.
func TestRetryAfter503(t *testing.T) {
	var first, second time.Time
	rc, srv := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		second = time.Now()
	})
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	c := newClient(t)
	c.retry = fastBackoff
	if err := c.UploadTraces(t.Context(), testSpans("retried")); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d requests, want 2", len(got))
	}
	if d := second.Sub(first); d < time.Second || d > 3*time.Second {
		t.Errorf("retried after %s, want after the second Retry-After asked for", d)
	}
	if got[1].export.ResourceSpans[0].ScopeSpans[0].Spans[0].Name != "retried" {
		t.Errorf("the retry carried %v, want the same spans", got[1].export)
	}
}

// TestRetryStatuses checks that 429, 502 and 504 are retried too, and a
// dropped connection (a transport error).
func TestRetryStatuses(t *testing.T) {
	rc, srv := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3:
			w.WriteHeader(http.StatusGatewayTimeout)
		case 4:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_ = conn.Close()
		}
	})
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	c := newClient(t)
	c.retry = fastBackoff
	if err := c.UploadTraces(t.Context(), testSpans("persistent")); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.requests()); n != 5 {
		t.Errorf("the receiver got %d requests, want 5", n)
	}
}

// TestRetryGivesUp checks the limits of the retries: a Retry-After past the
// export's timeout ends it at once; the backoff's limit ends a receiver
// that keeps answering 503; a refused connection is not retried (as with
// the SDK's exporter).
func TestRetryGivesUp(t *testing.T) {
	cleanEnv(t)
	_, srv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	t.Setenv(prefix+"TIMEOUT", "5000")
	start := time.Now()
	err := newClient(t).UploadTraces(t.Context(), testSpans("throttled"))
	if err == nil || !strings.Contains(err.Error(), "giving up after 1 attempts: the next, in 30s, would pass the export's deadline") ||
		!strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("Retry-After past the timeout: error %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Retry-After past the timeout: gave up after %s, want at once", d)
	}

	_, srv = newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "9999999999999999999")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	t.Setenv(prefix+"TIMEOUT", "0")
	start = time.Now()
	err = newClient(t).UploadTraces(t.Context(), testSpans("throttled for ever"))
	if err == nil || !strings.Contains(err.Error(), "would pass the retries' limit of 1m0s") {
		t.Errorf("Retry-After for ever, no timeout: error %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Retry-After for ever, no timeout: gave up after %s, want at once", d)
	}

	rc, srv := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	c := newClient(t)
	c.retry = backoff{initial: 40 * time.Millisecond, max: 40 * time.Millisecond, maxElapsed: 300 * time.Millisecond}
	err = c.UploadTraces(t.Context(), testSpans("unavailable"))
	if err == nil || !strings.Contains(err.Error(), "would pass the retries' limit of 300ms") {
		t.Errorf("503 for ever: error %v", err)
	}
	if n := len(rc.requests()); n < 3 || n > 16 {
		t.Errorf("503 for ever: %d attempts, want several within 300ms", n)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	t.Setenv(prefix+"ENDPOINT", "http://"+addr)
	t.Setenv(prefix+"TIMEOUT", "300")
	c = newClient(t)
	c.retry = fastBackoff
	err = c.UploadTraces(t.Context(), testSpans("refused"))
	if err == nil || !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "attempt") {
		t.Errorf("refused: error %v, want the refusal at the first attempt", err)
	}

}

// TestRetryAfterHeader checks the parsing of Retry-After.
func TestRetryAfterHeader(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "0": 0, "3": 3 * time.Second, "-1": 0, "soon": 0, "1.5": 0,
		"99999999999": 1<<63 - 1, "99999999999999999999999": 1<<63 - 1} {
		if got := retryAfter(v); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
	if got := retryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); got < 59*time.Minute || got > time.Hour {
		t.Errorf("retryAfter(a date in an hour) = %s", got)
	}
	if got := retryAfter(time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)); got != 0 {
		t.Errorf("retryAfter(a date an hour ago) = %s, want 0", got)
	}
}

// TestBackoffDelays checks the default policy's delays: within ±50% of an
// interval that starts at 5s and grows 1.5 times up to 30s.
func TestBackoffDelays(t *testing.T) {
	for range 20 {
		next := defaultBackoff.delays()
		interval := 5 * time.Second
		for i := range 8 {
			d := next()
			if d < interval/2 || d > interval*3/2 {
				t.Fatalf("delay %d: %s, want within ±50%% of %s", i, d, interval)
			}
			interval = min(interval*3/2, 30*time.Second)
		}
	}
}
