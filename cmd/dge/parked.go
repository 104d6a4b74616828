package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/envelope"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/topology"
)

// previewBytes is how much of a parked message's body list shows.
const previewBytes = 200

const parkedUsage = `Usage: dge parked list|redrive|purge [flags] [PATH]

  list     show every parked message of the graph in PATH (Q.dead of each edge)
  redrive  move matching parked messages back to their edge's queue with fresh attempts
  purge    delete matching parked messages

Run "dge parked <subcommand> -h" for its flags.`

func runParked(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, parkedUsage)
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(e.stdout, parkedUsage)
		return exitOK
	case "list", "redrive", "purge":
		return runParkedSub(ctx, e, args[0], args[1:])
	}
	fmt.Fprintf(e.stderr, "dge parked: unknown subcommand %q: give list, redrive or purge\n", args[0])
	return exitError
}

// parkedFilter selects parked messages by node, reason and run.
type parkedFilter struct {
	node, reason, run string
}

func (f parkedFilter) match(d amqp.Delivery) bool {
	return (f.reason == "" || headerString(d.Headers, envelope.HeaderReason) == f.reason) &&
		(f.run == "" || headerString(d.Headers, envelope.HeaderRunID) == f.run)
}

func (f parkedFilter) String() string {
	var parts []string
	for _, p := range [][2]string{{"-node", f.node}, {"-reason", f.reason}, {"-run", f.run}} {
		if p[1] != "" {
			parts = append(parts, p[0]+" "+p[1])
		}
	}
	if len(parts) == 0 {
		return "no filter"
	}
	return strings.Join(parts, ", ")
}

// parkedEdge is one edge whose dead queue parked reads.
type parkedEdge struct {
	node, queue, dead string
}

// parkedMessage is one line of dge parked list -json.
type parkedMessage struct {
	Node      string `json:"node"`
	Queue     string `json:"queue"`
	RunID     string `json:"run_id"`
	MessageID string `json:"message_id"`
	Reason    string `json:"reason"`
	Error     string `json:"error"`
	Attempt   int64  `json:"attempt"`
	ParkedAt  string `json:"parked_at"`
	Body      string `json:"body"`
	// SplitState describes a gather's parked state of a split (header
	// x-dge-state "checkpoint"); nil for any other parked message.
	SplitState *parkedSplitState `json:"split_state,omitempty"`
}

// parkedSplitState is what dge parked shows of a gather's parked state of
// one split: which split, and how many of its items the gather held.
type parkedSplitState struct {
	Split string `json:"split"`    // the split node's name
	ID    string `json:"split_id"` // the split's ID
	Have  int    `json:"have"`     // items gathered
	Count int    `json:"count"`    // items the split made
	// Failed names the node where one of its items failed, if one did.
	Failed string `json:"failed_node,omitempty"`
}

// splitStateOf reads a parked gather state; nil when d is none or its body
// cannot be read (the body preview then shows it as it is).
func splitStateOf(d amqp.Delivery) *parkedSplitState {
	if headerString(d.Headers, envelope.HeaderState) != envelope.StateCheckpoint {
		return nil
	}
	var c envelope.Checkpoint
	if err := json.Unmarshal(d.Body, &c); err != nil || len(c.States) != 1 {
		return nil
	}
	st := c.States[0]
	out := &parkedSplitState{Split: st.Split, ID: st.ID, Count: st.Count}
	for _, b := range st.Have {
		out.Have += bits.OnesCount8(b)
	}
	if st.Failed != nil {
		out.Failed = st.Failed.Node
	}
	return out
}

// String says what the parked state holds, for dge parked list.
func (s parkedSplitState) String() string {
	t := fmt.Sprintf("gather state of split %s (ID %s): %d of %s", s.Split, s.ID, s.Have, config.Plural(s.Count, "item"))
	if s.Failed != "" {
		t += ", an item failed at " + s.Failed
	}
	return t
}

func runParkedSub(ctx context.Context, e *env, sub string, args []string) int {
	cmd := "parked " + sub
	about := map[string]string{
		"list": `
List every parked message of the running graph in PATH (default: the current
folder): node, dead queue, run ID, message ID, reason, error, attempts made,
when it was parked and the start of its body. A gather's parked state of a
split (reason incomplete-split or member-failed) shows which split and how
many of its items it holds instead of its body. dge reads each dead queue
once, in order, with manual acknowledgements, and then closes its channel
without acknowledging: every message stays parked, in its place.`,
		"redrive": `
Move the matching parked messages back to their edge's queue (through the
graph's work exchange, with publisher confirms, acknowledging each parked
copy only once its copy is confirmed) with fresh attempts: x-death and the
attempt, first-seen, poll-since and parking headers are dropped, x-dge-redriven
counts the redrives, run ID and message ID are kept. Messages that do not
match stay parked, in order. One redrive or purge of a queue runs at a time.
A gather's parked state of a split goes back to the gather, which takes it
up again: to finish a split that timed out, redrive the run's parked
messages (-run ID), its state and the item that failed, once the cause is
fixed.`,
		"purge": `
Delete the matching parked messages, after confirmation, printing each one.
One redrive or purge of a queue runs at a time.`,
	}[sub]
	fs := e.newFlagSet(cmd, "dge "+cmd+" [flags] [PATH]", about+`

Environment: as dge plan, plus DGE_AMQP_URL for the AMQP connection.`)
	var vars varFlags
	vars.register(fs)
	var f parkedFilter
	fs.StringVar(&f.node, "node", "", "only the node with address `ADDR` (e.g. process.double)")
	fs.StringVar(&f.reason, "reason", "", "only messages parked for reason `R` ("+reasonList()+")")
	fs.StringVar(&f.run, "run", "", "only messages of run `ID`")
	var dryRun, autoApprove *bool
	var limit *int64
	var rate *float64
	if sub == "list" {
		e.addJSON(fs, "print one JSON object per message")
		e.stream = true
	} else {
		limit = fs.Int64("limit", 0, "act on at most `N` messages (0: all)")
		dryRun = fs.Bool("dry-run", false, "print the counts by node and reason and change nothing")
		autoApprove = fs.Bool("auto-approve", false, "do not ask for confirmation")
	}
	if sub == "redrive" {
		rate = fs.Float64("rate", 0, "move at most `R` messages a second (0: as fast as the broker confirms)")
	}
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	if limit != nil && *limit < 0 {
		fmt.Fprintf(e.stderr, "dge %s: -limit %d is negative; give 0 (all) or more\n", cmd, *limit)
		return exitError
	}
	if f.reason != "" && !slices.Contains(envelope.Reasons(), envelope.Reason(f.reason)) {
		fmt.Fprintf(e.stderr, "dge %s: -reason %q is no reason dge parks a message for; give one of %s\n", cmd, f.reason, reasonList())
		return exitError
	}
	if rate != nil && *rate < 0 {
		fmt.Fprintf(e.stderr, "dge %s: -rate %g is negative; give 0 (no pacing) or more messages a second\n", cmd, *rate)
		return exitError
	}
	g, ok := e.loadArg(fs, pos, vars)
	if !ok {
		return exitError
	}
	edges, err := parkedEdges(g, f.node)
	if err != nil {
		return e.fail(cmd, err)
	}
	m, err := e.parkedMover(g, sub)
	if err != nil {
		return e.fail(cmd, err)
	}
	defer m.Close()
	if sub == "list" {
		n, err := listParked(ctx, e.stdout, m, edges, f, e.json)
		if err != nil {
			return e.fail(cmd, err)
		}
		if n == 0 {
			fmt.Fprintf(e.stderr, "dge %s: no parked message matches (%s)\n", cmd, f)
		}
		return exitOK
	}
	counts, total, err := countParked(ctx, m, edges, f, *limit)
	if err != nil {
		return e.fail(cmd, err)
	}
	if total == 0 {
		fmt.Fprintf(e.stderr, "dge %s: no parked message matches (%s)\n", cmd, f)
		return exitOK
	}
	verb := map[string]string{"redrive": "redrive", "purge": "delete"}[sub]
	fmt.Fprintf(e.stdout, "dge will %s %s:\n", verb, messages(total))
	for _, c := range counts {
		fmt.Fprintf(e.stdout, "  %-24s %-16s %d\n", c.node, c.reason, c.n)
	}
	if *dryRun {
		fmt.Fprintln(e.stdout, "Dry run: nothing changed.")
		return exitOK
	}
	if !*autoApprove {
		yes, err := e.confirm(cmd)
		if err != nil {
			return e.fail(cmd, err)
		}
		if !yes {
			fmt.Fprintln(e.stderr, "Cancelled.")
			return exitError
		}
	}
	var r float64
	if rate != nil {
		r = *rate
	}
	spec := topology.Build(plan.TopologyParams(g))
	began := time.Now()
	var span parkedSpan
	n, err := actParked(ctx, e.stdout, m, edges, f, sub, *limit, r, spec.Work, &span)
	if err != nil {
		return e.fail(cmd, fmt.Errorf("%w (%s done)", err, messages(n)))
	}
	past := map[string]string{"redrive": "Redrove", "purge": "Deleted"}[sub]
	took := time.Since(began)
	fmt.Fprintf(e.stdout, "%s %s in %s%s.\n", past, messages(n), took.Round(time.Millisecond), span.rate(n))
	return exitOK
}

// parkedEdges returns the graph's edges (one, with -node) and their dead
// queues; an unknown address is an error naming the valid ones.
func parkedEdges(g *config.Graph, node string) ([]parkedEdge, error) {
	spec := topology.Build(plan.TopologyParams(g))
	var out []parkedEdge
	var valid []string
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		valid = append(valid, n.Addr())
		if node != "" && n.Addr() != node {
			continue
		}
		for _, q := range spec.EdgeQueues(n.Edge.Queue) {
			if q.Role == topology.RoleDead {
				out = append(out, parkedEdge{node: n.Addr(), queue: n.Edge.Queue, dead: q.Name})
			}
		}
	}
	if node != "" && len(out) == 0 {
		return nil, fmt.Errorf("-node %s: no such node with an input queue in graph %s; valid: %s", node, g.Name, strings.Join(valid, ", "))
	}
	return out, nil
}

// parkedMover connects over AMQP to the graph's vhost: to one of the AMQP
// URLs picked at random, then to the others in turn.
func (e *env) parkedMover(g *config.Graph, sub string) (*apply.Mover, error) {
	_, cfg, err := e.managementClient(g.Broker)
	if err != nil {
		return nil, err
	}
	eps, from, explicit, err := e.amqpEndpoints(g.Broker, cfg, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	var msgs []string
	for _, ep := range eps.Round("") {
		m, err := apply.DialMover(ep.URL, "dge "+g.Name+" parked "+sub)
		if err == nil {
			return m, nil
		}
		msgs = append(msgs, ep.DialError(err).Error())
	}
	fix := ""
	if !explicit {
		fix = fmt.Sprintf(" (or check the credentials of %s or the broker block, from which it was derived)", mgmt.URLEnv)
	}
	return nil, fmt.Errorf("no AMQP URL (from %s) works: %s; set %s to the broker's AMQP URL%s",
		from, e.scrub(strings.Join(msgs, "; ")), mgmt.AMQPURLEnv, fix)
}

// listParked prints the matching parked messages and returns how many.
func listParked(ctx context.Context, w io.Writer, m *apply.Mover, edges []parkedEdge, f parkedFilter, asJSON bool) (int64, error) {
	var total int64
	enc := json.NewEncoder(w)
	for _, pe := range edges {
		n, err := m.Parked(ctx, pe.dead, apply.ParkedOptions{Op: apply.ParkedList, Match: f.match, Visit: func(d amqp.Delivery) error {
			pm := describeParked(pe, d)
			if asJSON {
				return enc.Encode(pm)
			}
			if _, err := fmt.Fprintf(w, "%s  %s  run %s  message %s  %s (attempt %d)  parked %s\n  error: %s\n",
				pm.Node, pm.Queue, pm.RunID, pm.MessageID, pm.Reason, pm.Attempt, pm.ParkedAt, pm.Error); err != nil {
				return err
			}
			if pm.SplitState != nil {
				_, err := fmt.Fprintf(w, "  state: %s\n", pm.SplitState)
				return err
			}
			_, err := fmt.Fprintf(w, "  body:  %s\n", pm.Body)
			return err
		}})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// describeParked reads a parked message's headers.
func describeParked(pe parkedEdge, d amqp.Delivery) parkedMessage {
	parked := d.Timestamp
	if parked.IsZero() {
		if deaths, ok := d.Headers["x-death"].([]any); ok && len(deaths) > 0 {
			if t, ok := deaths[0].(amqp.Table)["time"].(time.Time); ok {
				parked = t
			}
		}
	}
	at := ""
	if !parked.IsZero() {
		at = parked.UTC().Format(time.RFC3339)
	}
	body := d.Body
	if len(body) > previewBytes {
		body = body[:previewBytes]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	preview := strings.ToValidUTF8(string(body), "?")
	if len(d.Body) > previewBytes {
		preview += "..."
	}
	return parkedMessage{
		Node: pe.node, Queue: pe.dead, RunID: headerString(d.Headers, envelope.HeaderRunID), MessageID: d.MessageId,
		Reason: headerString(d.Headers, envelope.HeaderReason), Error: headerString(d.Headers, envelope.HeaderError),
		Attempt: headerInt(d.Headers, envelope.HeaderAttempt), ParkedAt: at, Body: preview,
		SplitState: splitStateOf(d),
	}
}

// reasonList returns the park reasons, for a flag's usage.
func reasonList() string {
	rs := envelope.Reasons()
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// parkedCount is how many matching messages one node holds for one reason.
type parkedCount struct {
	node, reason string
	n            int64
}

// countParked counts the matching messages by node and reason, at most
// limit in all (0: no bound), without changing anything.
func countParked(ctx context.Context, m *apply.Mover, edges []parkedEdge, f parkedFilter, limit int64) ([]parkedCount, int64, error) {
	var out []parkedCount
	var total int64
	for _, pe := range edges {
		if limit > 0 && total >= limit {
			break
		}
		var rest int64
		if limit > 0 {
			rest = limit - total
		}
		n, err := m.Parked(ctx, pe.dead, apply.ParkedOptions{Op: apply.ParkedList, Match: f.match, Limit: rest, Visit: func(d amqp.Delivery) error {
			r := headerString(d.Headers, envelope.HeaderReason)
			i := slices.IndexFunc(out, func(c parkedCount) bool { return c.node == pe.node && c.reason == r })
			if i < 0 {
				out = append(out, parkedCount{node: pe.node, reason: r})
				i = len(out) - 1
			}
			out[i].n++
			return nil
		}})
		total += n
		if err != nil {
			return nil, total, err
		}
	}
	return out, total, nil
}

// parkedSpan is when the first and the last message were handled.
type parkedSpan struct{ first, last time.Time }

func (s *parkedSpan) note() {
	now := time.Now()
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
}

// rate returns " (R msgs/s)", the pace from the first message handled to
// the last (what -rate bounds), or "" for fewer than two messages.
func (s *parkedSpan) rate(n int64) string {
	d := s.last.Sub(s.first)
	if n < 2 || d <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%.0f msgs/s)", float64(n-1)/d.Seconds())
}

// actParked redrives or purges the matching messages and returns how many;
// span notes when each was handled.
func actParked(ctx context.Context, w io.Writer, m *apply.Mover, edges []parkedEdge, f parkedFilter, sub string, limit int64, rate float64, work string, span *parkedSpan) (int64, error) {
	var total int64
	for _, pe := range edges {
		if limit > 0 && total >= limit {
			break
		}
		opts := apply.ParkedOptions{Op: apply.ParkedRedrive, Match: f.match, Rate: rate, Exchange: work, Key: pe.queue,
			Visit: func(amqp.Delivery) error { span.note(); return nil }}
		if limit > 0 {
			opts.Limit = limit - total
		}
		if sub == "purge" {
			opts.Op = apply.ParkedPurge
			opts.Visit = func(d amqp.Delivery) error {
				span.note()
				pm := describeParked(pe, d)
				_, err := fmt.Fprintf(w, "deleted %s  %s  run %s  message %s  %s: %s\n", pm.Node, pm.Queue, pm.RunID, pm.MessageID, pm.Reason, pm.Error)
				return err
			}
		}
		n, err := m.Parked(ctx, pe.dead, opts)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// headerString returns a string header, or "".
func headerString(h amqp.Table, k string) string {
	switch v := h[k].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// headerInt returns an integer header, or 0.
func headerInt(h amqp.Table, k string) int64 {
	switch v := h[k].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	}
	return 0
}
