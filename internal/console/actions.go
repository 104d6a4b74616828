package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dgehq/dge/internal/parked"
)

// actionBody is the body of POST /api/parked/count, /redrive and /purge:
// the operation and the selection, as dge parked's -node, -reason and -run.
type actionBody struct {
	Op      string   `json:"op"`
	Nodes   []string `json:"nodes"`
	Reasons []string `json:"reasons"`
	Runs    []string `json:"runs"`
}

// maxActionBody bounds an action's body.
const maxActionBody = 64 << 10

// readAction decodes an action's body; op, when not "", is the operation
// the path names, which the body's op may repeat. On failure it has
// answered the request.
func readAction(w http.ResponseWriter, r *http.Request, op string) (actionBody, parked.Query, bool) {
	var b actionBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActionBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`read the action: %v; send {"op":"redrive"|"purge","nodes":[],"reasons":[],"runs":[]}`, err))
		return b, parked.Query{}, false
	}
	switch {
	case op == "" && b.Op != "redrive" && b.Op != "purge":
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`op %q: give "redrive" or "purge"`, b.Op))
		return b, parked.Query{}, false
	case op != "" && b.Op != "" && b.Op != op:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("op %q sent to /api/parked/%s: they must agree", b.Op, op))
		return b, parked.Query{}, false
	case op != "":
		b.Op = op
	}
	return b, parked.Query{Nodes: b.Nodes, Reasons: b.Reasons, Runs: b.Runs}, true
}

// apiCount answers POST /api/parked/count: what the action would move,
// changing nothing (dge parked redrive -dry-run).
func (s *Server) apiCount(w http.ResponseWriter, r *http.Request) {
	b, q, ok := readAction(w, r, "")
	if !ok {
		return
	}
	ps, done, ok := s.session(w, q)
	if !ok {
		return
	}
	defer done()
	counts, total, err := ps.Count(r.Context(), q, 0)
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	var followers int64
	if b.Op == "redrive" {
		if _, followers, err = ps.Followers(r.Context(), q, 0); err != nil {
			s.fail(w, http.StatusBadGateway, err)
			return
		}
	}
	if counts == nil {
		counts = []parked.Count{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": counts, "total": total, "followers": followers})
}

// apiRedrive answers POST /api/parked/redrive: dge parked redrive
// -auto-approve of the selection.
func (s *Server) apiRedrive(w http.ResponseWriter, r *http.Request) {
	_, q, ok := readAction(w, r, "redrive")
	if !ok {
		return
	}
	ps, done, ok := s.session(w, q)
	if !ok {
		return
	}
	defer done()
	moved, followers, err := ps.Redrive(r.Context(), q, parked.Options{}, nil)
	s.log.Info("redrive", "nodes", q.Nodes, "reasons", q.Reasons, "runs", q.Runs, "moved", moved, "followers", followers)
	if err != nil {
		s.fail(w, http.StatusBadGateway, fmt.Errorf("%w (%d moved before)", err, moved+followers))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"moved": moved, "followers": followers})
}

// apiPurge answers POST /api/parked/purge: dge parked purge -auto-approve
// of the selection.
func (s *Server) apiPurge(w http.ResponseWriter, r *http.Request) {
	_, q, ok := readAction(w, r, "purge")
	if !ok {
		return
	}
	ps, done, ok := s.session(w, q)
	if !ok {
		return
	}
	defer done()
	moved, err := ps.Purge(r.Context(), q, parked.Options{}, nil)
	s.log.Info("purge", "nodes", q.Nodes, "reasons", q.Reasons, "runs", q.Runs, "deleted", moved)
	if err != nil {
		s.fail(w, http.StatusBadGateway, fmt.Errorf("%w (%d deleted before)", err, moved))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"moved": moved, "followers": 0})
}

// checkTraceURL checks a -trace-url template: an http or https URL once
// its placeholders are filled.
func checkTraceURL(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	u, err := url.Parse(traceLink(tmpl, "run", "0af7651916cd43dd8448eb211c80319c"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-trace-url %q: give an http or https URL with {run_id} or {trace_id} in it, e.g. http://localhost:16686/trace/{trace_id}", tmpl)
	}
	return nil
}

// traceLink fills tmpl's {run_id} and {trace_id}; "" when tmpl is "" or
// wants a trace ID and traceID is "".
func traceLink(tmpl, runID, traceID string) string {
	if tmpl == "" || strings.Contains(tmpl, "{trace_id}") && traceID == "" {
		return ""
	}
	esc := strings.ReplaceAll(url.QueryEscape(runID), "+", "%20")
	return strings.NewReplacer("{run_id}", esc, "{trace_id}", traceID).Replace(tmpl)
}
