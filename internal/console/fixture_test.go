package console_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/console"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/redact"
	"github.com/dgehq/dge/plan"
)

// fixture is a console serving an applied three-node graph (start.start ->
// process.a on a_in -> terminate.out on out) on a vhost of its own, with
// two messages parked at process.a.
type fixture struct {
	vh   brokertest.Vhost
	g    *config.Graph
	srv  *console.Server
	base string // http://127.0.0.1:PORT
	host string // 127.0.0.1:PORT
	conn *amqp.Connection
	rec  *recorder
}

// traceParent is the W3C trace context of message a0.
const traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// longBody is a0's body: longer than a list's preview, so that the message
// page shows more.
var longBody = `{"n":0,"pad":"` + strings.Repeat("x", 300) + `"}`

// chainGraph writes the fixture's graph for vhost and returns its folder.
func chainGraph(t *testing.T, vhost string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`graph "c" {
  handlers = "example.com/h"
}
broker {
  vhost      = %q
  queue_type = "classic"
}
start "start" {}
process "a" {
  from    = start.start
  queue   = "a_in"
  message = "M"
  handler = "A"
  retry   = "5s"
}
terminate "out" {
  from    = process.a
  queue   = "out"
  message = "M"
}
`, vhost)
	if err := os.WriteFile(filepath.Join(dir, "graph.dge.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// applyGraph loads the graph in dir and applies it as dge apply does.
func applyGraph(t testing.TB, dir string, client *mgmt.Client) *config.Graph {
	t.Helper()
	g, diags := config.NewLoader().Load(dir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", dir, diags)
	}
	snap, err := client.Read(t.Context(), g.Broker.Vhost)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(plan.Desired(g), snap, plan.Options{DgeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Apply(t.Context(), mgmt.NewApplyBroker(client), p, apply.Options{}); err != nil {
		t.Fatal(err)
	}
	return g
}

// managementClient returns a client of the management API at url.
func managementClient(t testing.TB, url string) *mgmt.Client {
	t.Helper()
	cfg, err := mgmt.Resolve([]string{mgmt.URLEnv + "=" + url}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mgmt.New(cfg, mgmt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newFixture applies the graph, parks two messages and starts a console,
// actions allowed or not.
func newFixture(t *testing.T, allow bool) *fixture {
	t.Helper()
	vh := brokertest.NewVhost(t)
	client := managementClient(t, vh.ManagementURL)
	g := applyGraph(t, chainGraph(t, vh.Name), client)
	f := &fixture{vh: vh, g: g, conn: vh.Dial(t)}
	park(t, f.conn, "a_in.dead", "process.a")
	f.start(t, console.Config{Graph: g, Management: client, AllowActions: allow,
		TraceURL: "http://jaeger.example:16686/trace/{trace_id}?run={run_id}"})
	return f
}

// start serves a console with cfg (Dial, Addr, Scrub and the sampling
// filled in) on a free port of 127.0.0.1, until the test ends.
func (f *fixture) start(t *testing.T, cfg console.Config) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	f.host = ts.Listener.Addr().String()
	f.base = "http://" + f.host
	if cfg.Dial == nil {
		cfg.Dial = func() (*apply.Mover, error) { return apply.DialMover(f.vh.AMQPURL, "dge console test "+t.Name()) }
	}
	cfg.Addr = f.host
	cfg.Scrub = func(s string) string {
		return redact.Scrub(redact.Scrub(s, f.vh.AMQPURL), f.vh.ManagementURL)
	}
	cfg.SampleEvery = 200 * time.Millisecond
	srv, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	ts.Config.Handler = srv.Handler()
	ts.Start()
	f.rec = &recorder{}
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
		f.rec.check(t, srv.URL())
	})
}

// park publishes two parked-like messages of runs r0 and r1 straight into
// dead, as the runtime parks them: a0 (max-attempts, a long JSON body and
// a traceparent) and a1 (permanent).
func park(t *testing.T, conn *amqp.Connection, dead, node string) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i, reason := range []string{"max-attempts", "permanent"} {
		body := []byte(fmt.Sprintf(`{"n":%d}`, i))
		h := amqp.Table{
			"x-dge-run-id": fmt.Sprintf("r%d", i), "x-dge-source": "start.start",
			"x-dge-attempt": int64(3), "x-dge-reason": reason,
			"x-dge-error": fmt.Sprintf("boom %d", i), "x-dge-node": node, "x-dge-parked-at": "2026-12-01T20:00:23.000Z",
			"x-death": []any{amqp.Table{"count": int64(3), "queue": "a_in", "reason": "rejected", "exchange": "c.work"}},
		}
		if i == 0 {
			body = []byte(longBody)
			h["traceparent"] = traceParent
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", dead, true, false, amqp.Publishing{
			MessageId: fmt.Sprintf("a%d", i), DeliveryMode: amqp.Persistent, ContentType: "application/json",
			Body: body, Headers: h,
		})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("publish to %s: confirmed %v, %v", dead, ok, err)
		}
	}
}

// messages returns how many messages queue holds, ready ones, by passive
// declare; it waits a moment for messages a channel closed just before
// gave back.
func (f *fixture) messages(t *testing.T, queue string) int {
	t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	time.Sleep(300 * time.Millisecond)
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Messages
}

// request is one HTTP request of a test.
type request struct {
	method, path, body string
	header             map[string]string
}

// do sends rq to the console (Host the console's own unless rq's header
// says) without following redirects, records the response and returns
// it with its body.
func (f *fixture) do(t *testing.T, rq request) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), rq.method, f.base+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rq.header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	f.rec.add(rq, res, b)
	return res, string(b)
}

// recorder keeps every response of a test, to scan them for secrets.
type recorder struct {
	mu   sync.Mutex
	seen []recorded
}

type recorded struct {
	what   string
	header http.Header
	body   []byte
}

func (r *recorder) add(rq request, res *http.Response, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, recorded{what: rq.method + " " + rq.path, header: res.Header.Clone(), body: body})
}

// check fails the test when a response holds a credential of the broker
// or the token (but in the cookie that carries it); url is the console's
// URL, with its token when actions are allowed.
func (r *recorder) check(t *testing.T, url string) {
	secrets := []string{"guest:guest", ":guest@", "s3cret-console-pw"}
	if _, tok, ok := strings.Cut(url, "?token="); ok {
		secrets = append(secrets, tok)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return
	}
	for _, s := range r.seen {
		h := s.header.Clone()
		h.Del("Set-Cookie")
		var hb bytes.Buffer
		h.Write(&hb)
		for _, secret := range secrets {
			if bytes.Contains(s.body, []byte(secret)) || bytes.Contains(hb.Bytes(), []byte(secret)) {
				t.Errorf("%s: response holds a secret (%.12s...):\n%s\n%s", s.what, secret, hb.String(), s.body)
			}
		}
		for k := range s.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: CORS header %s sent", s.what, k)
			}
		}
	}
}
