package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// probeTransport is a Transport a test can hold back from connecting,
// whose connections it can close (a lost connection), and whose
// connections can report a queue missing (a broker without the topology).
type probeTransport struct {
	Transport
	mu     sync.Mutex
	gate   chan struct{} // Dial waits until it is closed
	conns  []Conn
	hidden string // a queue CheckQueue reports missing
}

// newProbeTransport returns tr behind a probeTransport that holds dials
// back until release.
func newProbeTransport(tr Transport) *probeTransport {
	return &probeTransport{Transport: tr, gate: make(chan struct{})}
}

func (p *probeTransport) Dial(ctx context.Context, name string) (Conn, error) {
	p.mu.Lock()
	gate := p.gate
	p.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c, err := p.Transport.Dial(ctx, name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
	return hidingConn{Conn: c, p: p}, nil
}

// hold makes the next dials wait until release.
func (p *probeTransport) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = make(chan struct{})
}

// release lets the dials through.
func (p *probeTransport) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.gate)
}

// kill closes every connection dialled so far.
func (p *probeTransport) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// hide makes CheckQueue report queue missing ("" for none).
func (p *probeTransport) hide(queue string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hidden = queue
}

type hidingConn struct {
	Conn
	p *probeTransport
}

func (c hidingConn) CheckQueue(ctx context.Context, name string) (int, error) {
	c.p.mu.Lock()
	hidden := c.p.hidden
	c.p.mu.Unlock()
	if name == hidden {
		return 0, fmt.Errorf("queue %q: %w", name, ErrNotFound)
	}
	return c.Conn.CheckQueue(ctx, name)
}

// probe returns the status and the body of http://addr/path; status 0 when
// nothing answers.
func probe(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitProbe polls http://addr/path until it answers status with a body
// starting with body, failing the test after confDeadline with the last
// answer.
func waitProbe(t *testing.T, addr, path string, status int, body string) {
	t.Helper()
	deadline := time.Now().Add(confDeadline)
	for {
		code, got := probe(addr, path)
		if code == status && strings.HasPrefix(got, body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waited %s for %d %q; last answer %d %q", path, confDeadline, status, body, code, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testProbes is the conformance suite of /healthz and /readyz.
func testProbes(t *testing.T, setup transportSetup) {
	t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testProbeLifecycle(t, setup) })
	t.Run("GatherStandbyIsReady", func(t *testing.T) { t.Parallel(); testProbeGatherStandby(t, setup) })
}

// testProbeLifecycle runs a process node serving probes through every
// state /readyz reports: connecting, ready, topology missing,
// reconnecting, stopping.
func testProbeLifecycle(t *testing.T, setup transportSetup) {
	entered := make(chan struct{}, 1)
	unblock := make(chan struct{})
	g := chainGraph("probes", func(_ context.Context, n num) (num, error) {
		if n.Value == 0 { // the message in flight while the node stops
			entered <- struct{}{}
			<-unblock
		}
		return num{n.Value * 2}, nil
	})
	base := setup(t, g)
	tr := newProbeTransport(base)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	node, _ := g.Node("process.double")
	go func() {
		done <- RunNodes(ctx, g, []Node{node}, RunOptions{
			Transport: tr, Logger: slog.New(slog.DiscardHandler), MetricsAddr: addr, ShutdownTimeout: confDeadline,
		})
	}()

	// Dials are held back: the process runs but is not connected.
	waitProbe(t, addr, "/healthz", http.StatusOK, "ok")
	if code, body := probe(addr, "/readyz"); code != http.StatusServiceUnavailable || body != "connecting" {
		t.Errorf("/readyz before connecting: %d %q, want 503 \"connecting\"", code, body)
	}
	tr.release()
	waitProbe(t, addr, "/readyz", http.StatusOK, "ready")

	// The connection is lost and the broker lacks a queue of the node:
	// not ready until the topology is back.
	tr.hide("input.retry")
	tr.kill()
	waitProbe(t, addr, "/readyz", http.StatusServiceUnavailable, `topology not verified: queue "input.retry" not found in vhost`)
	if _, body := probe(addr, "/readyz"); !strings.Contains(body, `run "dge apply"`) {
		t.Errorf("/readyz with a queue missing: %q, want it to say to run dge apply", body)
	}
	waitProbe(t, addr, "/healthz", http.StatusOK, "ok")
	tr.hide("")
	waitProbe(t, addr, "/readyz", http.StatusOK, "ready")

	// The connection is lost and cannot be dialled again yet.
	tr.hold()
	tr.kill()
	waitProbe(t, addr, "/readyz", http.StatusServiceUnavailable, "reconnecting")
	tr.release()
	waitProbe(t, addr, "/readyz", http.StatusOK, "ready")

	// Stopping with a message in flight: not ready while it finishes, and
	// alive until the node returns.
	c := dialClient(t, base)
	c.publish(c.channel(), g.WorkExchange, "input", confMsg(0))
	select {
	case <-entered:
	case <-time.After(confDeadline):
		t.Fatal("the handler was not called")
	}
	cancel()
	waitProbe(t, addr, "/readyz", http.StatusServiceUnavailable, "stopping")
	waitProbe(t, addr, "/healthz", http.StatusOK, "ok")
	close(unblock)
	if err := <-done; err != nil {
		t.Fatalf("RunNodes: %v", err)
	}
	if code, _ := probe(addr, "/healthz"); code != 0 {
		t.Errorf("/healthz answered %d after RunNodes returned, want nothing listening", code)
	}
}

// testProbeGatherStandby runs two instances of a gather node: one is the
// active instance, the other a standby waiting to take over, and both are
// ready (a Deployment of several replicas must not wait forever on the
// standbys). When the active one stops, the standby takes over and stays
// ready.
func testProbeGatherStandby(t *testing.T, setup transportSetup) {
	g := testGraph("gprobe",
		Start[num]("start", "numbers"),
		Split[num, num]("numbers", testEdge("numbers"), upTo(new(atomic.Int64)), "sum"),
		Fold[num, num]("sum", testEdge("sum"), "numbers", time.Hour, nil, sumFold, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	tr := setup(t, g)
	node, _ := g.Node("gather.sum")
	start := func() (addr string, stop func()) {
		addr = freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- RunNodes(ctx, g, []Node{node}, RunOptions{Transport: tr, Logger: slog.New(slog.DiscardHandler), MetricsAddr: addr})
		}()
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("RunNodes: %v", err)
				}
			})
		}
		t.Cleanup(stop)
		return addr, stop
	}
	first, stopFirst := start()
	waitProbe(t, first, "/readyz", http.StatusOK, "ready")
	second, _ := start()
	waitProbe(t, second, "/readyz", http.StatusOK, "ready")

	// The first is the active instance, the second the standby: once the
	// first has gone, the second takes the items in.
	stopFirst()
	c := dialClient(t, tr)
	c.publishItems(g, "run1", "", "s1", 3, 0, 1, 2)
	if got := c.collectNums("result", 1); len(got) != 1 || got[0] != 6 {
		t.Errorf("result %v, want [6] from the instance that took over", got)
	}
	if code, body := probe(second, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz of the instance that took over: %d %q, want 200", code, body)
	}
}
