package console

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/status"
)

// Sample is one reading of an edge's queue, as GET /api/history returns
// it.
type Sample struct {
	T           int64   `json:"t"` // Unix seconds
	Ready       int64   `json:"ready"`
	Unacked     int64   `json:"unacked"`
	Retrying    int64   `json:"retrying"`
	Parked      int64   `json:"parked"`
	PublishRate float64 `json:"publish_rate"`
	DeliverRate float64 `json:"deliver_rate"`
}

// history holds, for each edge queue of the graph, a ring of its last
// samples.
type history struct {
	mu    sync.Mutex
	size  int
	rings map[string]*ring
}

// ring is a fixed number of samples, the oldest overwritten first.
type ring struct {
	buf  []Sample
	next int
}

func newHistory(g *config.Graph, size int) *history {
	h := &history{size: size, rings: map[string]*ring{}}
	for _, n := range g.Nodes {
		if n.Edge != nil {
			h.rings[n.Edge.Queue] = &ring{}
		}
	}
	return h
}

// record adds a sample of every edge of r, taken at t.
func (h *history) record(r *status.Report, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, row := range r.Edges {
		rg := h.rings[row.Queue]
		if rg == nil {
			continue
		}
		s := Sample{T: t.Unix(), Ready: row.Ready, Unacked: row.Unacked, Retrying: row.Retrying, Parked: row.Parked,
			PublishRate: row.PublishRate, DeliverRate: row.DeliverRate}
		if len(rg.buf) < h.size {
			rg.buf = append(rg.buf, s)
			continue
		}
		rg.buf[rg.next] = s
		rg.next = (rg.next + 1) % h.size
	}
}

// samples returns queue's samples, oldest first; ok is false when queue is
// no edge queue of the graph.
func (h *history) samples(queue string) (out []Sample, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rg := h.rings[queue]
	if rg == nil {
		return nil, false
	}
	out = make([]Sample, 0, len(rg.buf))
	out = append(out, rg.buf[rg.next:]...)
	return append(out, rg.buf[:rg.next]...), true
}

// queues returns the edge queues, sorted.
func (h *history) queues() []string {
	var qs []string
	for q := range h.rings {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return qs
}

// statusCache holds the last status read, so that several pages refreshing
// at once and the sampler share one read a second.
type statusCache struct {
	mu  sync.Mutex
	at  time.Time
	r   *status.Report
	err error
}

// statusFresh is how long a status read serves before the next request
// reads again; the broker's statistics lag up to 5 s anyway.
const statusFresh = time.Second

// status returns the graph's status, read at most statusFresh ago.
func (s *Server) status(ctx context.Context) (*status.Report, error) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < statusFresh {
		return c.r, c.err
	}
	r, err := status.Read(ctx, s.cfg.Management, s.cfg.Graph)
	if ctx.Err() != nil {
		return nil, err // the caller went away: keep nothing
	}
	c.r, c.err, c.at = r, err, time.Now()
	return r, err
}

// sample reads the status every SampleEvery into the history, until ctx
// ends.
func (s *Server) sample(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.SampleEvery)
	defer t.Stop()
	failing := false
	for {
		r, err := s.status(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			s.log.Error("read status", "error", s.cfg.Scrub(err.Error()))
		case err == nil:
			s.hist.record(r, time.Now())
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// apiHistory answers GET /api/history?queue=Q.
func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("queue")
	samples, ok := s.hist.samples(q)
	if !ok {
		writeError(w, http.StatusNotFound, "queue "+q+" is no edge queue of graph "+s.cfg.Graph.Name+"; give one of "+strings.Join(s.hist.queues(), ", "))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": q, "samples": samples})
}
