package runtime

import (
	"fmt"
	"net/http"
	"sync"
)

// The health probes served beside /metrics (see RunOptions.MetricsAddr):
// /healthz answers 200 "ok" for as long as the HTTP server answers at all
// (a liveness probe: the process runs), and /readyz answers 200 "ready"
// only while readiness.check finds the program connected, its topology
// verified and every node consuming, else 503 with the reason.

// The reasons /readyz gives for not being ready, besides a missing
// topology (reasonTopology) and a node not consuming (notConsuming).
const (
	reasonConnecting   = "connecting"   // before the first connection is verified
	reasonReconnecting = "reconnecting" // after a connection was lost, until the next one is verified
	reasonStopping     = "stopping"     // after SIGTERM or SIGINT (the run's context ended)
)

// reasonTopology is /readyz's reason when the broker lacks a queue or
// exchange the nodes use; err (a notFoundError) names it and says to run
// dge apply.
func reasonTopology(err error) string {
	return "topology not verified: " + err.Error()
}

// notConsuming is /readyz's reason when node addr holds no consumer on the
// verified connection (its channel is being opened or reopened).
func notConsuming(addr string) string {
	return fmt.Sprintf("%s is not consuming: its channel is being opened", addr)
}

// readiness is what /readyz reports: whether the engine holds a
// connection with its topology verified, and which of its nodes consume on
// it. Its methods may be called on a nil *readiness (engines made without
// one: Local, tests), and then do nothing.
type readiness struct {
	mu       sync.Mutex
	conn     string // "" while the connection is verified, else why not
	stopping bool
	runs     []*nodeRun // the engine's nodes, in order
	// consuming holds the nodes with a consumer on the current connection.
	consuming map[*nodeRun]bool
}

// newReadiness returns the readiness of an engine that has not connected.
func newReadiness() *readiness {
	return &readiness{conn: reasonConnecting, consuming: map[*nodeRun]bool{}}
}

// watch sets the nodes whose consumers readiness waits for.
func (r *readiness) watch(runs []*nodeRun) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = runs
}

// setConn records the connection's state: "" when it is verified, else the
// reason it is not.
func (r *readiness) setConn(reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conn = reason
}

// setConsuming records whether node run holds a consumer.
func (r *readiness) setConsuming(run *nodeRun, on bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.consuming[run] = true
	} else {
		delete(r.consuming, run)
	}
}

// stop records that the engine is stopping: it is never ready again.
func (r *readiness) stop() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopping = true
}

// check returns whether the engine is ready and, when it is not, why.
func (r *readiness) check() (ready bool, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stopping:
		return false, reasonStopping
	case r.conn != "":
		return false, r.conn
	}
	for _, run := range r.runs {
		if !r.consuming[run] {
			return false, notConsuming(run.addr)
		}
	}
	return true, ""
}

// serveReady answers /readyz: 200 "ready", or 503 with the reason.
func (r *readiness) serveReady(w http.ResponseWriter, _ *http.Request) {
	probeHeaders(w)
	if ok, reason := r.check(); !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintln(w, reason)
		return
	}
	_, _ = fmt.Fprintln(w, "ready")
}

// serveHealth answers /healthz: 200 "ok" (the process answers).
func serveHealth(w http.ResponseWriter, _ *http.Request) {
	probeHeaders(w)
	_, _ = fmt.Fprintln(w, "ok")
}

func probeHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
}

// probeMux serves the metrics m at /metrics and the probes of r at
// /healthz and /readyz.
func probeMux(m *metrics, r *readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m)
	mux.HandleFunc("GET /healthz", serveHealth)
	mux.HandleFunc("GET /readyz", r.serveReady)
	return mux
}
