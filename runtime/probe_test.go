package runtime

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dgehq/dge/internal/brokertest"
)

// TestReadyzFollowsTheBroker runs a node subcommand with -metrics-addr on
// RabbitMQ, deletes one of its queues and closes its connection: /readyz
// says which queue is missing until the topology is declared again, while
// /healthz and /metrics keep answering; SIGTERM ends the program cleanly.
func TestReadyzFollowsTheBroker(t *testing.T) {
	h := newHarness(t, chainGraph("readyz", double))
	addr := freeAddr(t)
	stop := h.background("double", "-metrics-addr", addr)
	waitProbe(t, addr, "/readyz", http.StatusOK, "ready")

	ch, err := h.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete("input.retry", false, false, false); err != nil {
		t.Fatalf("delete input.retry: %v", err)
	}
	_ = ch.Close()
	h.closeRuntimeConnections()
	want := fmt.Sprintf(`topology not verified: queue "input.retry" not found in vhost %q: run "dge apply" first; if an apply since renamed or removed it (a moved block, a node removed), this program is older than the graph: run the program generated from the current graph (dge generate) instead`, h.vh.Name)
	waitProbe(t, addr, "/readyz", http.StatusServiceUnavailable, want)
	waitProbe(t, addr, "/healthz", http.StatusOK, "ok")
	if up := scrape(t, addr)[`dge_connection_up{graph="readyz"}`]; up != "0" {
		t.Errorf("dge_connection_up %q with the topology missing, want 0", up)
	}

	if err := brokertest.Declare(h.conn, h.g.topologyParams()); err != nil {
		t.Fatalf("declare the topology again: %v", err)
	}
	waitProbe(t, addr, "/readyz", http.StatusOK, "ready")
	if code := stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestProbesOnlyAnswerGet checks that the probes answer GET and HEAD (what
// Kubernetes, Compose and load balancers send) and refuse other methods.
func TestProbesOnlyAnswerGet(t *testing.T) {
	r := newReadiness()
	srv := probeMux(newMetrics("g"), r)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodHead, "/healthz", http.StatusOK},
		{http.MethodGet, "/readyz", http.StatusServiceUnavailable},
		{http.MethodHead, "/readyz", http.StatusServiceUnavailable},
		{http.MethodPost, "/readyz", http.StatusMethodNotAllowed},
		{http.MethodGet, "/ready", http.StatusNotFound},
	} {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
	}
}
