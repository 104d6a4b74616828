package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/browsertest"
	"github.com/dgehq/dge/internal/console"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/redact"
)

// consoleWait bounds each wait for the page to show what the broker holds:
// the management API's statistics lag up to 5 s and the graph page
// refreshes every 3 s.
const consoleWait = 45 * time.Second

// consoleServer is a dge console serving one vhost on a free loopback port,
// with every request it answered recorded.
type consoleServer struct {
	URL   string // http://127.0.0.1:PORT
	Token string // "" when read-only

	mu       sync.Mutex
	requests []consoleRequest
}

// consoleRequest is one request the console answered.
type consoleRequest struct {
	Method, Path, Origin string
	Status               int
}

// loadGraph loads the graph in dir (relative to the repository root) for the
// env's vhost.
func (e *env) loadGraph(dir string) *config.Graph {
	e.t.Helper()
	g, diags := config.NewLoader().Load(filepath.Join(repoRoot(e.t), dir),
		config.Options{Env: append(os.Environ(), "DGE_VAR_vhost="+e.vh.Name)})
	if diags.HasErrors() {
		e.t.Fatalf("load %s: %v", dir, diags)
	}
	return g
}

// startConsole serves the console for g in the env's vhost, as dge console
// does: actions allowed, with the token the server drew, when allow is set;
// read-only otherwise. It is shut down in Cleanup.
func (e *env) startConsole(g *config.Graph, allow bool) *consoleServer {
	e.t.Helper()
	t := e.t
	cfg, err := mgmt.Resolve([]string{mgmt.URLEnv + "=" + e.vh.ManagementURL}, g.Broker)
	if err != nil {
		t.Fatal(err)
	}
	client, err := mgmt.New(cfg, mgmt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cs := &consoleServer{URL: "http://" + ln.Addr().String()}
	srv, err := console.New(console.Config{
		Graph:      g,
		Management: client,
		Dial: func() (*apply.Mover, error) {
			return apply.DialMover(e.vh.AMQPURL, e.t.Name()+" console")
		},
		Addr:         ln.Addr().String(),
		AllowActions: allow,
		Scrub: func(s string) string {
			return redact.Scrub(redact.Scrub(s, e.vh.AMQPURL), e.vh.ManagementURL)
		},
	})
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if allow {
		u, err := url.Parse(srv.URL())
		if err != nil || u.Query().Get("token") == "" {
			t.Fatalf("the console's URL %q has no token, with actions allowed", srv.URL())
		}
		cs.Token = u.Query().Get("token")
	}
	h := srv.Handler()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		cs.mu.Lock()
		cs.requests = append(cs.requests, consoleRequest{r.Method, r.URL.Path, r.Header.Get("Origin"), rec.status})
		cs.mu.Unlock()
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { _ = hs.Close() })
	return cs
}

// posts returns the POST requests the console answered for path.
func (cs *consoleServer) posts(path string) []consoleRequest {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var out []consoleRequest
	for _, r := range cs.requests {
		if r.Method == http.MethodPost && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// edgeCount is the JavaScript text of the number in the graph page's edge of
// queue, in the text element of class kind (ready, retrying, parked).
func edgeCount(queue, kind string) string {
	return fmt.Sprintf(`(document.querySelector('svg#graph g.edge[data-queue=%q] .%s')?.textContent ?? "").trim()`, queue, kind)
}

// visibleActionButtons is the JavaScript count of the action buttons a
// person can see.
const visibleActionButtons = `[...document.querySelectorAll('button[data-action]')].filter((b) => b.checkVisibility()).length`

// TestConsoleRedriveInBrowser is the acceptance test, in headless
// Chromium: testdata/e2e/chain applied by dge, its nodes running; input -1
// fails permanently at process.double and is parked. The console (actions
// allowed, its token opened as dge console prints it) shows parked 1 on the
// edge "input", flagged as a problem, and the message on /parked, /message
// and /runs. A page on another origin that POSTs a purge with the browser's
// cookie is refused and the message stays. Once the fix is deployed (double
// restarted with CHAIN_FIXED), redrive through the page: the confirmation
// shows 1, the result says 1 moved, the edge goes back to parked 0 and the
// run's result arrives at terminate.left: increment(double(-1)) = -1. A
// screenshot of each page is saved.
func TestConsoleRedriveInBrowser(t *testing.T) {
	e := newAppliedEnv(t, chainDir, chainPkg)
	g := e.loadGraph(chainDir)
	double := e.start("double", "double")
	e.start("rest", "all", "-nodes", "split,increment,square")
	e.run("publish", inputs([]int64{-1}), "publish", "start")
	e.waitCount("input.dead", 1, consoleWait)

	cs := e.startConsole(g, true)
	b := browsertest.Start(t)

	// The token link dge console prints sets the cookie and comes back
	// without the token in the address.
	b.Do("open the token link", chromedp.Navigate(cs.URL+"/?token="+cs.Token))
	if loc := browsertest.Eval[string](b, "location.href"); loc != cs.URL+"/" {
		t.Errorf("after the token link the page is %s, want %s/ (the token out of the address)", loc, cs.URL)
	}
	b.WaitFor("parked 1 on the edge input", edgeCount("input", "parked")+` === "1"`, consoleWait)
	if !browsertest.Eval[bool](b, `document.querySelector('svg#graph g.edge[data-queue="input"]').classList.contains("problem")`) {
		t.Error(`the edge "input" holds a parked message but has no class problem`)
	}
	if got := browsertest.Eval[string](b, edgeCount("left", "parked")); got != "0" {
		t.Errorf("edge left shows parked %q, want 0", got)
	}
	b.WaitFor("the first-paint mark", `performance.getEntriesByName("dge-first-paint").length === 1`, consoleWait)
	graphPNG := b.Screenshot("console-graph.png")

	// /parked lists the message, with a row per message.
	b.Do("open /parked", chromedp.Navigate(cs.URL+"/parked"))
	b.WaitFor("one parked row", `document.querySelectorAll('table#parked tr[data-message-id]').length === 1`, consoleWait)
	id := browsertest.Eval[string](b, `document.querySelector('table#parked tr[data-message-id]').dataset.messageId`)
	if id == "" {
		t.Fatal("the parked row has an empty data-message-id")
	}
	b.Screenshot("console-parked.png")

	crossOrigin(t, e, b, cs)

	// The message's page shows its body; its run's page finds it.
	b.Do("open /message", chromedp.Navigate(cs.URL+"/message?node=process.double&id="+id))
	b.WaitFor("the body", `document.body.innerText.includes('"value": -1')`, consoleWait)
	b.Screenshot("console-message.png")
	run := browsertest.Eval[string](b, `fetch("/api/parked").then((r) => r.json()).then((d) => d.messages[0].run_id)`)
	b.Do("open /runs", chromedp.Navigate(cs.URL+"/runs?id="+run))
	b.WaitFor("the run's parked copy", `document.body.innerText.includes("input.dead") || document.body.innerText.includes("process.double")`, consoleWait)
	b.Screenshot("console-runs.png")

	// The fix is deployed, then the message redriven from the page.
	double.kill()
	e.extra = append(e.extra, "CHAIN_FIXED=1")
	e.start("double-fixed", "double")
	left := e.consume("left")
	b.Do("open /parked", chromedp.Navigate(cs.URL+"/parked"))
	b.WaitFor("one parked row", `document.querySelectorAll('table#parked tr[data-message-id]').length === 1`, consoleWait)
	b.Do("click redrive", chromedp.Click(chromedp.CSS(`button[data-action="redrive"][data-scope="all"]`), chromedp.NodeVisible))
	b.WaitFor("the confirmation", `document.querySelector("dialog#confirm").open`, consoleWait)
	b.WaitFor("the confirmation's count", `document.querySelector("#confirm-count").textContent.trim() === "1"`, consoleWait)
	if got := e.queueCount("input.dead"); got != 1 {
		t.Fatalf("input.dead holds %d messages while the confirmation is open, want 1 (the count must not move anything)", got)
	}
	b.Do("confirm", chromedp.Click(chromedp.CSS("#confirm-yes"), chromedp.NodeVisible))
	b.WaitFor("the action's result", `/\b1\b/.test(document.querySelector("#action-result").textContent)`, consoleWait)
	if res := left.next(t); strings.ReplaceAll(res, " ", "") != `{"value":-1}` {
		t.Errorf("terminate.left received %s, want {\"value\": -1}", res)
	}
	e.waitCount("input.dead", 0, consoleWait)
	b.Do("open the graph", chromedp.Navigate(cs.URL+"/"))
	b.WaitFor("parked 0 on the edge input", edgeCount("input", "parked")+` === "0"`, consoleWait)
	if errs := b.ScriptErrors(); len(errs) > 0 {
		t.Errorf("the pages logged errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("graph page screenshot: %s (docs/console.png is a copy)", graphPNG)
}

// crossOrigin serves, on another port of the same host, a page that POSTs
// a purge of everything to the console from the browser that holds the
// console's cookie: a JSON request (the browser asks first, and the console
// sends no CORS headers) and a simple one (text/plain, sent as is, which the
// console must refuse itself). Both fail, the console answered the one that
// reached it with 403, and the message is still parked.
func crossOrigin(t *testing.T, e *env, b *browsertest.Browser, cs *consoleServer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>another site</title><p>another site</p>`)
	})}
	go other.Serve(ln)
	t.Cleanup(func() { _ = other.Close() })

	b.Do("open another origin", chromedp.Navigate("http://"+ln.Addr().String()+"/"))
	body := `JSON.stringify({op: "purge", nodes: [], reasons: [], runs: []})`
	jsonPost := browsertest.Eval[string](b, fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "include",
		headers: {"Content-Type": "application/json"}, body: %s}).then((r) => "status " + r.status, (e) => "refused: " + e.message)`,
		cs.URL+"/api/parked/purge", body))
	simplePost := browsertest.Eval[string](b, fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "include", mode: "no-cors",
		headers: {"Content-Type": "text/plain"}, body: %s}).then((r) => "sent, opaque " + r.type, (e) => "refused: " + e.message)`,
		cs.URL+"/api/parked/purge", body))
	t.Logf("from another origin: JSON POST: %s; text/plain POST: %s", jsonPost, simplePost)
	if !strings.HasPrefix(jsonPost, "refused") {
		t.Errorf("a JSON POST from another origin: %s; want the browser to refuse it", jsonPost)
	}
	reached := cs.posts("/api/parked/purge")
	if len(reached) == 0 {
		t.Error("the text/plain POST from another origin never reached the console")
	}
	for _, r := range reached {
		if r.Status != http.StatusForbidden {
			t.Errorf("the console answered a POST from origin %q with %d, want 403", r.Origin, r.Status)
		}
	}
	if n := e.queueCount("input.dead"); n != 1 {
		t.Fatalf("input.dead holds %d messages after the cross-origin POSTs, want 1 (nothing changed)", n)
	}
}

// TestConsoleReadOnlyInBrowser: a console started without actions shows the
// parked message and no action button a person can see; a redrive POSTed
// from its own page (same origin, JSON) is refused with the error that says
// how to allow actions, and the message stays parked.
func TestConsoleReadOnlyInBrowser(t *testing.T) {
	e := newAppliedEnv(t, chainDir, chainPkg)
	g := e.loadGraph(chainDir)
	e.start("double", "double")
	e.run("publish", inputs([]int64{-1}), "publish", "start")
	e.waitCount("input.dead", 1, consoleWait)
	cs := e.startConsole(g, false)
	b := browsertest.Start(t)

	b.Do("open /parked", chromedp.Navigate(cs.URL+"/parked"))
	b.WaitFor("one parked row", `document.querySelectorAll('table#parked tr[data-message-id]').length === 1`, consoleWait)
	if n := browsertest.Eval[int](b, visibleActionButtons); n != 0 {
		t.Errorf("a read-only console shows %d action buttons on /parked, want none", n)
	}
	b.Screenshot("console-parked-read-only.png")
	got := browsertest.Eval[string](b, `fetch("/api/parked/redrive", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({op: "redrive", nodes: [], reasons: [], runs: []})}).then(async (r) => r.status + " " + (await r.json()).error)`)
	if want := "403 actions are off: start dge console with -allow-actions"; got != want {
		t.Errorf("a redrive POSTed to a read-only console: %q, want %q", got, want)
	}
	b.Do("open the graph", chromedp.Navigate(cs.URL+"/"))
	b.WaitFor("parked 1 on the edge input", edgeCount("input", "parked")+` === "1"`, consoleWait)
	if n := browsertest.Eval[int](b, visibleActionButtons); n != 0 {
		t.Errorf("a read-only console shows %d action buttons on the graph page, want none", n)
	}
	if n := e.queueCount("input.dead"); n != 1 {
		t.Errorf("input.dead holds %d messages after a refused redrive, want 1", n)
	}
}
