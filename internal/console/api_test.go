package console_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/parked"
	"github.com/dgehq/dge/internal/status"
)

// getJSON GETs path, wants code and decodes the body into v.
func (f *fixture) getJSON(t *testing.T, path string, code int, v any) string {
	t.Helper()
	res, body := f.do(t, request{method: "GET", path: path})
	if res.StatusCode != code {
		t.Fatalf("GET %s: %d, want %d: %s", path, res.StatusCode, code, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return body
}

// act POSTs an action with the token, from the console's own page.
func (f *fixture) act(t *testing.T, path, body string, v any) {
	t.Helper()
	res, got := f.do(t, request{method: "POST", path: path, body: body, header: f.pageHeaders()})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s %s: %d: %s", path, body, res.StatusCode, got)
	}
	if err := json.Unmarshal([]byte(got), v); err != nil {
		t.Fatalf("POST %s: %v: %s", path, err, got)
	}
}

// pageHeaders are the headers a browser sends with a page's fetch.
func (f *fixture) pageHeaders() map[string]string {
	_, tok, _ := strings.Cut(f.srv.URL(), "?token=")
	return map[string]string{"Content-Type": "application/json", "Cookie": "dge_console_token=" + tok,
		"Origin": f.base, "Sec-Fetch-Site": "same-origin"}
}

// TestAPI drives every endpoint of the API against the real broker, with
// two messages parked at process.a: the graph and its layout, the status
// as dge status -json reads it (parked counted, the problem said), the
// history of a queue, the parked list and its filters, one message in
// full, a run with its trace link, a dry-run count that changes nothing,
// a redrive of one run (its message back in a_in, the other still
// parked) and a purge.
func TestAPI(t *testing.T) {
	f := newFixture(t, true)

	var graph struct {
		Graph, Vhost string
		Actions      bool
		TraceURL     bool `json:"trace_url"`
		Layout       struct {
			Width  int
			Nodes  []struct{ Addr string }
			Edges  []struct{ Queue, From, To string }
		}
	}
	f.getJSON(t, "/api/graph", 200, &graph)
	if graph.Graph != "c" || graph.Vhost != f.vh.Name || !graph.Actions || !graph.TraceURL || graph.Layout.Width <= 0 ||
		len(graph.Layout.Nodes) != 3 || len(graph.Layout.Edges) != 2 || graph.Layout.Edges[0].Queue != "a_in" {
		t.Errorf("/api/graph: %+v", graph)
	}

	// The status: the broker's statistics lag up to 5 s.
	var rep status.Report
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		f.getJSON(t, "/api/status", 200, &rep)
		if len(rep.Edges) == 2 && rep.Edges[0].Parked == 2 || time.Now().After(deadline) {
			break
		}
	}
	if rep.FormatVersion != status.FormatVersion || rep.Graph != "c" || rep.Healthy || len(rep.Edges) != 2 ||
		rep.Edges[0].Queue != "a_in" || rep.Edges[0].Parked != 2 || !strings.Contains(strings.Join(rep.Problems, "\n"), "process.a: 2 messages parked in a_in.dead") {
		t.Fatalf("/api/status: %+v", rep)
	}
	if strings.Contains(rep.Endpoint, "@") {
		t.Errorf("management_endpoint %q holds credentials", rep.Endpoint)
	}

	// History: the sampler (every 200 ms here) saw the parked messages.
	var hist struct {
		Queue   string
		Samples []struct {
			T                        int64
			Ready, Unacked, Retrying int64
			Parked                   int64
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		f.getJSON(t, "/api/history?queue=a_in", 200, &hist)
		n := len(hist.Samples)
		if n > 1 && hist.Samples[n-1].Parked == 2 || time.Now().After(deadline) {
			break
		}
	}
	n := len(hist.Samples)
	if hist.Queue != "a_in" || n < 2 || hist.Samples[n-1].Parked != 2 || hist.Samples[0].T > hist.Samples[n-1].T ||
		time.Since(time.Unix(hist.Samples[n-1].T, 0)) > time.Minute {
		t.Errorf("/api/history: %+v", hist)
	}
	if body := f.getJSON(t, "/api/history?queue=nope", 404, nil); !strings.Contains(body, "give one of a_in, out") {
		t.Errorf("/api/history?queue=nope: %s", body)
	}

	// The parked list and its filters.
	var list struct {
		Messages []parked.Message
		Total    int
	}
	f.getJSON(t, "/api/parked", 200, &list)
	if list.Total != 2 || len(list.Messages) != 2 || list.Messages[0].MessageID != "a0" || list.Messages[0].Reason != "max-attempts" ||
		!strings.HasSuffix(list.Messages[0].Body, "...") || list.Messages[1].Body != `{"n":1}` {
		t.Errorf("/api/parked: %+v", list)
	}
	f.getJSON(t, "/api/parked?node=process.a&reason=permanent", 200, &list)
	if list.Total != 1 || list.Messages[0].MessageID != "a1" {
		t.Errorf("/api/parked?reason=permanent: %+v", list)
	}
	f.getJSON(t, "/api/parked?node=terminate.out&run=r0,r1", 200, &list)
	if list.Total != 0 || list.Messages == nil {
		t.Errorf("/api/parked?node=terminate.out: %+v (want an empty list, not null)", list)
	}
	for path, want := range map[string]string{
		"/api/parked?reason=nope":       `reason \"nope\" is no reason dge parks a message for`,
		"/api/parked?node=process.nope": "valid: process.a, terminate.out",
		"/api/message?node=process.a":   "give the message's node and ID",
		"/api/runs":                     "give a run ID",
	} {
		if body := f.getJSON(t, path, 400, nil); !strings.Contains(body, want) {
			t.Errorf("GET %s: %s; want %q", path, body, want)
		}
	}

	// One message in full.
	var msg struct {
		Message  parked.Message
		Body     string
		BodyJSON bool `json:"body_json"`
		Headers  map[string]any
	}
	f.getJSON(t, "/api/message?node=process.a&id=a0", 200, &msg)
	death, _ := msg.Headers["x-death"].([]any)
	if msg.Message.MessageID != "a0" || msg.Body != longBody || !msg.BodyJSON || msg.Headers["x-dge-reason"] != "max-attempts" ||
		msg.Headers["x-dge-attempt"] != float64(3) || len(death) != 1 || death[0].(map[string]any)["queue"] != "a_in" {
		t.Errorf("/api/message: %+v", msg)
	}
	if body := f.getJSON(t, "/api/message?node=process.a&id=zz", 404, nil); !strings.Contains(body, "it may have been redriven or purged") {
		t.Errorf("/api/message of no message: %s", body)
	}

	// A run: its parked copy and the trace link from its traceparent.
	var run struct {
		RunID    string `json:"run_id"`
		Parked   []parked.Message
		States   []parked.Message
		TraceURL string `json:"trace_url"`
		Note     string
	}
	f.getJSON(t, "/api/runs?id=r0", 200, &run)
	if run.RunID != "r0" || len(run.Parked) != 1 || run.Parked[0].MessageID != "a0" || run.States == nil ||
		run.TraceURL != "http://jaeger.example:16686/trace/0af7651916cd43dd8448eb211c80319c?run=r0" || !strings.Contains(run.Note, "not") {
		t.Errorf("/api/runs?id=r0: %+v", run)
	}
	f.getJSON(t, "/api/runs?id=r1", 200, &run)
	if len(run.Parked) != 1 || run.TraceURL != "" || !strings.Contains(run.Note, "no trace link") {
		t.Errorf("/api/runs?id=r1 (no traceparent): %+v", run)
	}

	// The dry run counts and changes nothing.
	var count struct {
		Counts []parked.Count
		Total  int64
	}
	f.act(t, "/api/parked/count", `{"op":"redrive","nodes":[],"reasons":[],"runs":[]}`, &count)
	if count.Total != 2 || len(count.Counts) != 2 || count.Counts[0] != (parked.Count{Node: "process.a", Reason: "max-attempts", N: 1}) {
		t.Errorf("count: %+v", count)
	}
	if got := f.messages(t, "a_in.dead"); got != 2 {
		t.Fatalf("after count: a_in.dead holds %d, want 2", got)
	}

	// Redrive run r0: a0 back in a_in, a1 still parked.
	var moved struct{ Moved, Followers int64 }
	f.act(t, "/api/parked/redrive", `{"op":"redrive","runs":["r0"]}`, &moved)
	if moved.Moved != 1 || moved.Followers != 0 {
		t.Errorf("redrive: %+v", moved)
	}
	if a, d := f.messages(t, "a_in"), f.messages(t, "a_in.dead"); a != 1 || d != 1 {
		t.Errorf("after redrive: a_in %d, a_in.dead %d; want 1 and 1", a, d)
	}
	// Purge the rest.
	f.act(t, "/api/parked/purge", `{"nodes":["process.a"]}`, &moved)
	if moved.Moved != 1 {
		t.Errorf("purge: %+v", moved)
	}
	if d := f.messages(t, "a_in.dead"); d != 0 {
		t.Errorf("after purge: a_in.dead %d, want 0", d)
	}
	// An op that disagrees with the path is refused.
	res, body := f.do(t, request{method: "POST", path: "/api/parked/purge", body: `{"op":"redrive"}`, header: f.pageHeaders()})
	if res.StatusCode != 400 || !strings.Contains(body, "must agree") {
		t.Errorf("purge with op redrive: %d %s", res.StatusCode, body)
	}
}

// TestPagesAndHeaders: the pages and their files are served from the
// binary with their types; files that are no page, and unknown paths,
// are not; every response carries the security headers and no CORS
// header (see recorder.check).
func TestPagesAndHeaders(t *testing.T) {
	f := newFixture(t, false)
	for _, tc := range []struct {
		path, ctype, holds string
		code               int
	}{
		{"/", "text/html; charset=utf-8", `<svg id="graph"`, 200},
		{"/parked", "text/html; charset=utf-8", `id="parked"`, 200},
		{"/message?node=process.a&id=a0", "text/html; charset=utf-8", "<html", 200},
		{"/runs?id=r0", "text/html; charset=utf-8", "<html", 200},
		{"/static/app.css", "text/css; charset=utf-8", "", 200},
		{"/static/graph.js", "text/javascript; charset=utf-8", "", 200},
		{"/static/index.html", "", "", 404},
		{"/static/web.go", "", "", 404},
		{"/nope", "", "", 404},
		{"/api/nope", "application/json", "no such API call", 404},
	} {
		res, body := f.do(t, request{method: "GET", path: tc.path})
		if res.StatusCode != tc.code || tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype || !strings.Contains(body, tc.holds) {
			t.Errorf("GET %s: %d %q; want %d %q holding %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.code, tc.ctype, tc.holds)
		}
		for k, want := range map[string]string{
			"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
			"X-Frame-Options": "DENY",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", tc.path, k, got, want)
			}
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	var graph struct{ Actions bool }
	f.getJSON(t, "/api/graph", 200, &graph)
	if graph.Actions {
		t.Error("/api/graph says actions are allowed in a read-only console")
	}
	if !slices.Contains([]string{f.base + "/"}, f.srv.URL()) {
		t.Errorf("URL %q of a read-only console, want %q", f.srv.URL(), f.base+"/")
	}
}
