package console

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/internal/parked"
)

// apiGraph answers GET /api/graph: what every page needs first.
func (s *Server) apiGraph(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"graph": s.cfg.Graph.Name, "vhost": s.cfg.Graph.Broker.Vhost,
		"actions": s.cfg.AllowActions, "trace_url": s.cfg.TraceURL != "", "layout": s.layout,
	})
}

// apiStatus answers GET /api/status with what dge status -json prints; a
// management API error with the text dge status prints.
func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	rep, err := s.status(r.Context())
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// apiParked answers GET /api/parked?node=&reason=&run=: the parked
// messages selected, at most ListLimit of them, and how many there are.
func (s *Server) apiParked(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := parked.Query{Nodes: values(v["node"]), Reasons: values(v["reason"]), Runs: values(v["run"])}
	ps, done, ok := s.session(w, q)
	if !ok {
		return
	}
	defer done()
	msgs := []parked.Message{}
	total, err := ps.List(r.Context(), q, func(m parked.Message) error {
		if len(msgs) < s.cfg.ListLimit {
			msgs = append(msgs, m)
		}
		return nil
	})
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "total": total})
}

// apiMessage answers GET /api/message?node=ADDR&id=ID: one parked message
// in full.
func (s *Server) apiMessage(w http.ResponseWriter, r *http.Request) {
	node, id := r.URL.Query().Get("node"), r.URL.Query().Get("id")
	if node == "" || id == "" {
		writeError(w, http.StatusBadRequest, "give the message's node and ID: /api/message?node=ADDR&id=MESSAGE_ID (the parked page links each message)")
		return
	}
	ps, done, ok := s.session(w, parked.Query{Nodes: []string{node}})
	if !ok {
		return
	}
	defer done()
	d, err := ps.Find(r.Context(), node, id)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, parked.ErrNotFound) {
			code = http.StatusNotFound
		}
		s.fail(w, code, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": d.Message, "body": d.Body, "body_json": d.BodyJSON, "headers": d.Headers})
}

// runNote says what the run lookup does not read.
const runNote = "Only parked copies are read here: the run's messages ready or in flight in work queues are not, since reading a message of a quorum queue raises its delivery count toward the limit."

// apiRuns answers GET /api/runs?id=RUN_ID: where the run's parked
// messages are, and the link to its trace.
func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		writeError(w, http.StatusBadRequest, "give a run ID: /api/runs?id=RUN_ID")
		return
	}
	ps, done, ok := s.session(w, parked.Query{})
	if !ok {
		return
	}
	defer done()
	run, err := ps.Run(r.Context(), id)
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	link := traceLink(s.cfg.TraceURL, id, parked.TraceID(run.TraceParent))
	note := runNote
	switch {
	case link != "":
		note += " The trace shows the rest."
	case s.cfg.TraceURL == "":
		note += " Start dge console with -trace-url to link each run to its trace."
	default:
		note += " No parked copy of the run carries a trace context, so there is no trace link."
	}
	writeJSON(w, http.StatusOK, map[string]any{"run_id": id, "parked": run.Parked, "states": run.States, "trace_url": link, "note": note})
}

// session checks q's nodes and reasons, dials the AMQP connection and
// returns a parked.Session on it and the function that closes it; on
// failure it has answered the request.
func (s *Server) session(w http.ResponseWriter, q parked.Query) (*parked.Session, func(), bool) {
	if err := q.CheckReasons(); err != nil {
		writeError(w, http.StatusBadRequest, "reason "+err.Error())
		return nil, nil, false
	}
	if _, err := parked.Edges(s.cfg.Graph, q.Nodes); err != nil {
		writeError(w, http.StatusBadRequest, "node "+err.Error())
		return nil, nil, false
	}
	m, err := s.cfg.Dial()
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return nil, nil, false
	}
	return parked.NewSession(s.cfg.Graph, m), func() { m.Close() }, true
}

// fail answers with err's text, scrubbed, and logs it; a busy queue is a
// conflict.
func (s *Server) fail(w http.ResponseWriter, code int, err error) {
	if errors.Is(err, apply.ErrBusy) {
		code = http.StatusConflict
	}
	msg := s.cfg.Scrub(err.Error())
	s.log.Error("request failed", "status", code, "error", msg)
	writeError(w, code, msg)
}

var listSep = regexp.MustCompile(`[\s,]+`)

// values splits the values of a repeatable query parameter on commas and
// spaces, as the pages do.
func values(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, f := range listSep.Split(v, -1) {
			if f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}
