package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
)

// Client talks to one management API, or to those of a cluster's nodes:
// every request goes to the endpoint that answered last (at first the first
// one), and moves on to the next when that one cannot be reached
// (connection refused, dial timeout), not when it answers with an HTTP
// error. It is safe for concurrent use.
type Client struct {
	cfg     Config
	rh      *rabbithole.Client
	base    http.RoundTripper
	timeout time.Duration
}

// Options tunes a Client.
type Options struct {
	// Transport carries every request (default: a keep-alive transport
	// shared by the client), after the client picked its endpoint.
	// Benchmarks wrap it to count requests.
	Transport http.RoundTripper
	// Timeout bounds each request (default 60 s).
	Timeout time.Duration
}

// New returns a client for cfg. It makes no request.
func New(cfg Config, opts Options) (*Client, error) {
	eps := cfg.endpoints()
	rh, err := rabbithole.NewClient(eps[0], cfg.Username, cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("management API client for %s: %w", eps[0], err)
	}
	base := opts.Transport
	if base == nil {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		base = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tc,
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	rh.SetTimeout(timeout)
	if len(eps) > 1 {
		ft := &failover{base: base}
		for _, e := range eps {
			u, err := url.Parse(e)
			if err != nil {
				return nil, fmt.Errorf("management API endpoint %s: %w", e, err)
			}
			ft.endpoints = append(ft.endpoints, u)
		}
		base = ft
	}
	return &Client{cfg: cfg, rh: rh, base: base, timeout: timeout}, nil
}

// failover sends each request to the endpoint that answered last, trying
// the next ones in turn while an endpoint cannot be reached. Requests are
// built for the first endpoint (rabbit-hole knows only one); failover
// rewrites their scheme, host and path prefix.
type failover struct {
	base      http.RoundTripper
	endpoints []*url.URL
	current   atomic.Int32 // index of the endpoint that answered last
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	start := int(f.current.Load())
	tries := len(f.endpoints)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		tries = 1 // a body that cannot be read again is sent once
	}
	var firstErr error
	for i := range tries {
		k := (start + i) % len(f.endpoints)
		r, err := f.rewrite(req, k)
		if err != nil {
			return nil, err
		}
		res, err := f.base.RoundTrip(r)
		if err == nil {
			f.current.Store(int32(k))
			return res, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if !unreachable(err) || req.Context().Err() != nil {
			return nil, err
		}
	}
	return nil, firstErr
}

// rewrite returns req aimed at endpoint k, with a fresh body.
func (f *failover) rewrite(req *http.Request, k int) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	from, to := f.endpoints[0], f.endpoints[k]
	r.URL.Scheme, r.URL.Host, r.Host = to.Scheme, to.Host, to.Host
	if from.Path != to.Path {
		r.URL.Path = to.Path + strings.TrimPrefix(req.URL.Path, from.Path)
		if req.URL.RawPath != "" {
			r.URL.RawPath = to.EscapedPath() + strings.TrimPrefix(req.URL.RawPath, from.EscapedPath())
		}
	}
	return r, nil
}

// unreachable reports whether err means the endpoint could not be reached,
// so the request never got there and another endpoint may take it.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true // refused, no route, dial timeout, unknown host
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// Endpoint returns the API's base URL (without credentials).
func (c *Client) Endpoint() string { return c.cfg.Endpoint }

// ctxTransport carries a call's context into rabbit-hole's requests (which
// are built without one) and lets connections be reused (rabbit-hole asks
// to close each).
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

// RoundTrip also keeps the broker's reason for a 401: rabbit-hole drops a
// 401's body, which says whether the login failed or the user may not use
// the vhost. A 401 comes back as the rabbithole.ErrorResponse that
// rabbit-hole builds for the other refusals, for translate to read.
func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.WithContext(t.ctx)
	r.Close = false
	res, err := t.base.RoundTrip(r)
	if err != nil && t.ctx.Err() != nil {
		return nil, t.ctx.Err() // cancelled, not unreachable
	}
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		return res, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if err != nil && t.ctx.Err() != nil {
		return nil, t.ctx.Err()
	}
	rme := rabbithole.ErrorResponse{StatusCode: res.StatusCode}
	if json.Unmarshal(body, &rme) != nil || (rme.Message == "" && rme.Reason == "") {
		rme.Reason = strings.TrimSpace(string(body))
	}
	rme.StatusCode = res.StatusCode
	return nil, rme
}

// with returns a rabbit-hole client whose requests carry ctx.
func (c *Client) with(ctx context.Context) *rabbithole.Client {
	cp := *c.rh
	cp.SetTransport(ctxTransport{ctx: ctx, base: c.base})
	return &cp
}

// Error is a refusal from the management API: the status and the broker's
// own words.
type Error struct {
	Op     string // what dge was doing: "declare queue input in vhost /"
	Status int
	Reason string // the broker's error and reason, verbatim
	Hint   string // what to do
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: the management API answered %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// IsNotFound reports whether err is a 404 from the management API.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// translate turns a transport or rabbit-hole error into one line that says
// what to do, without the password.
func (c *Client) translate(op, vhost string, err error) error {
	if err == nil {
		return nil
	}
	var rme rabbithole.ErrorResponse
	var perr *rabbithole.ErrorResponse
	switch {
	case errors.As(err, &rme):
		return c.statusError(op, vhost, rme.StatusCode, reasonOf(rme.Message, rme.Reason))
	case errors.As(err, &perr):
		return c.statusError(op, vhost, perr.StatusCode, reasonOf(perr.Message, perr.Reason))
	case strings.Contains(err.Error(), "401 Unauthorized"):
		return c.statusError(op, vhost, http.StatusUnauthorized, "")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	at := c.cfg.Endpoint
	if eps := c.cfg.endpoints(); len(eps) > 1 {
		at = "any of " + strings.Join(eps, ", ")
	}
	if advice := tlsAdvice(err, at); advice != "" {
		return fmt.Errorf("%s: %s", op, c.redact(advice))
	}
	return fmt.Errorf("%s: cannot reach the RabbitMQ management API at %s: %s. Is RabbitMQ running with the management plugin enabled? (rabbitmq-plugins enable rabbitmq_management; or set %s)",
		op, at, c.redact(rootCause(err)), URLEnv)
}

func rootCause(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}

func reasonOf(msg, reason string) string {
	switch {
	case msg != "" && reason != "" && msg != reason:
		return msg + ": " + reason
	case reason != "":
		return reason
	}
	return msg
}

func (c *Client) statusError(op, vhost string, status int, reason string) error {
	e := &Error{Op: op, Status: status, Reason: c.redact(reason)}
	switch status {
	case http.StatusUnauthorized:
		e.Hint = c.unauthorizedHint(vhost, reason)
	case http.StatusForbidden:
		e.Hint = fmt.Sprintf("permission denied for user %q: give it the management (or administrator) tag and permissions on vhost %q (rabbitmqctl set_user_tags / set_permissions)", c.cfg.Username, vhost)
	}
	return e
}

// unauthorizedHint says what to do about a 401, from the broker's reason:
// a failed login, a user without permissions on the vhost, or a user
// without the tag the request needs.
func (c *Client) unauthorizedHint(vhost, reason string) string {
	user := c.cfg.Username
	switch {
	case reason == "" || strings.Contains(reason, "Login failed"):
		return fmt.Sprintf("wrong credentials for user %q at %s: set %s and %s, put them in %s (http://user:password@host:15672), or set username and password in the broker block",
			user, c.cfg.Endpoint, UsernameEnv, PasswordEnv, URLEnv)
	case strings.Contains(reason, "access virtual host") || strings.Contains(reason, "access to vhost"):
		return fmt.Sprintf("user %q has no permissions on vhost %q: grant them with %s", user, vhost, setPermissions(vhost, user))
	case strings.Contains(reason, "Access refused"):
		return fmt.Sprintf("user %q has no permissions on vhost %q, or none that cover this object: grant them with %s", user, vhost, setPermissions(vhost, user))
	}
	return fmt.Sprintf("user %q lacks the tag this request needs: give it the policymaker (or administrator) tag with rabbitmqctl set_user_tags %s policymaker", user, shellQuote(user))
}

// setPermissions is the command that gives user every permission on vhost.
func setPermissions(vhost, user string) string {
	return fmt.Sprintf(`rabbitmqctl set_permissions -p %s %s ".*" ".*" ".*"`, shellQuote(vhost), shellQuote(user))
}

// redact removes the password from a string coming back from the broker
// or the network stack.
func (c *Client) redact(s string) string {
	if p := c.cfg.Password; len(p) >= 4 && p != c.cfg.Username {
		s = strings.ReplaceAll(s, p, "********")
		s = strings.ReplaceAll(s, url.QueryEscape(p), "********")
	}
	return s
}

// getJSON performs one GET of /api/<path> and decodes the body into v.
func (c *Client) getJSON(ctx context.Context, op, vhost, path string, query url.Values, v any) error {
	u := c.cfg.endpoints()[0] + "/api/" + path // failover aims it
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Accept", "application/json")
	hc := &http.Client{Transport: c.base, Timeout: c.timeout}
	res, err := hc.Do(req)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err()) // cancelled, not unreachable
	}
	if err != nil {
		return c.translate(op, vhost, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		var rme rabbithole.ErrorResponse
		reason := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &rme) == nil && (rme.Message != "" || rme.Reason != "") {
			reason = reasonOf(rme.Message, rme.Reason)
		}
		return c.statusError(op, vhost, res.StatusCode, reason)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: decode the management API's answer: %w", op, err)
	}
	return nil
}

// vhostPath escapes a vhost name as one path segment ("/" is "%2F").
func vhostPath(vhost string) string { return url.PathEscape(vhost) }
