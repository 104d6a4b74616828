package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/diagram"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
	"github.com/dgehq/dge/topology"
)

// Exit code of status -check when the graph needs attention.
const exitUnhealthy = 2

// statusFormatVersion is the format_version of status -json.
const statusFormatVersion = "1"

func runStatus(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("status", "dge status [flags] [PATH]", `
Show where the messages of the running graph in PATH (default: the current
folder) are: one row per edge, in graph order, with its node (a path of a
route followed by the label it takes, "(when LABEL)", or "(otherwise)" for
the default path; -json: "when"), queue, ready and unacknowledged messages,
consumers, consumer utilisation, publish and deliver rates (msgs/s),
messages waiting in Q.retry (and Q.poll for a poll node), messages parked
in Q.dead, and the age of the oldest ready message where the broker gives
it (classic queues, messages with a timestamp). A gather's state queue
Q.state is no edge: a line under the table shows, for each gather, the
checkpoints it holds and how many of the gather's instances consume it (one
of them active: the one that gathers).

The counts come from the vhost's queue listing; they are the broker's
statistics, which lag up to 5 seconds. STRANDED counts the messages a
queue holds in its dead-letter buffer (messages_dlx), where no consumer
reaches them. status also reads what dge plan reads (definitions or
listings, queues, operator policies) and judges the vhost's policies and
operator policies by plan's rule, and reads the vhost's channels for
publishes the broker returned as unroutable (312 NO_ROUTE): a program
older than the graph, publishing to a key no queue takes any more.

With -check, status exits 0 when the graph is healthy and 2 when it needs
attention: a message is parked or stranded, an edge holds messages and its
node has no consumer (terminate edges excepted: their results wait for a
reader), a gather's edge has ready messages and no instance consumes its
state queue, a queue is missing, or a policy or operator policy makes dge plan
fail (it overrides dge's policies, or it expires, caps or deletes the
messages of one of the graph's queues), or a program's publishes are
returned as unroutable. It exits 1 on error.

Environment: as dge plan (DGE_MANAGEMENT_URL, DGE_MANAGEMENT_USERNAME,
DGE_MANAGEMENT_PASSWORD; the broker block's settings win).`)
	var vars varFlags
	vars.register(fs)
	e.addJSON(fs, "print the status as JSON (with a format_version) instead of a table")
	watch := fs.Duration("watch", 0, "redraw every `D` (e.g. 2s) until interrupted")
	check := fs.Bool("check", false, "exit 0 when healthy, 2 when the graph needs attention, 1 on error")
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	if *watch < 0 || (*watch > 0 && *watch < 100*time.Millisecond) {
		return e.failf("status", "-watch %s is too short; give at least 100ms, e.g. -watch 2s", *watch)
	}
	if *watch > 0 && *check {
		return e.failf("status", "-check and -watch do not combine: -check answers once, for a script")
	}
	g, ok := e.loadArg(fs, pos, vars)
	if !ok {
		return exitError
	}
	client, _, err := e.managementClient(g.Broker)
	if err != nil {
		return e.fail("status", err)
	}
	show := func() (*statusReport, error) {
		r, err := readStatus(ctx, client, g)
		if err != nil {
			return nil, err
		}
		if e.json {
			return r, writeStatusJSON(e.stdout, r)
		}
		_, color := e.terminal(e.stdout)
		return r, renderStatus(e.stdout, r, color)
	}
	if *watch == 0 {
		r, err := show()
		if err != nil {
			return e.fail("status", err)
		}
		if *check && !r.Healthy {
			return exitUnhealthy
		}
		return exitOK
	}
	return e.watchStatus(ctx, *watch, e.json, show)
}

// watchStatus calls show every interval until ctx ends, clearing a
// terminal before each table. An error is reported and the next redraw
// tries again: the broker may be restarting.
func (e *env) watchStatus(ctx context.Context, interval time.Duration, asJSON bool, show func() (*statusReport, error)) int {
	_, color := e.terminal(e.stdout)
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		switch {
		case color && !asJSON:
			io.WriteString(e.stdout, "\x1b[H\x1b[2J")
		case !first && !asJSON:
			fmt.Fprintln(e.stdout)
		}
		if _, err := show(); err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			msg := fmt.Sprintf("%s (trying again in %s)", e.scrub(err.Error()), interval)
			if asJSON {
				e.jsonUI().diagnostic(jsonDiagnostic{Severity: "warning", Summary: msg})
			} else {
				fmt.Fprintf(e.stderr, "dge status: %s\n", msg)
			}
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-t.C:
		}
	}
}

// statusReport is what dge status shows, as text or JSON.
type statusReport struct {
	FormatVersion string      `json:"format_version"`
	Graph         string      `json:"graph"`
	Vhost         string      `json:"vhost"`
	Endpoint      string      `json:"management_endpoint"`
	Edges         []statusRow `json:"edges"`
	// Returned are the connections whose publishes the broker returns as
	// unroutable (see noteReturned).
	Returned []returnedStatus `json:"returned"`
	// Problems are the reasons the graph needs attention, one sentence
	// each ending with what to do; none when Healthy.
	Problems []string `json:"problems"`
	Healthy  bool     `json:"healthy"`
}

// statusRow is one edge: the queue Q that feeds a node, with its Q.retry,
// Q.dead and Q.poll.
type statusRow struct {
	Node string `json:"node"`
	// When is, for a path of a route, the label the path takes ("*" for
	// the route's default path); the table shows it after the node.
	When      string `json:"when,omitempty"`
	Queue     string `json:"queue"`
	Missing   bool   `json:"missing"` // Q does not exist on the broker
	Ready     int64  `json:"ready"`
	Unacked   int64  `json:"unacked"`
	Consumers int64  `json:"consumers"`
	// ConsumerUtilisation is the broker's fraction (0 to 1) of time Q
	// could deliver at once; null when it gives none.
	ConsumerUtilisation *float64 `json:"consumer_utilisation"`
	PublishRate         float64  `json:"publish_rate"` // msgs/s into Q
	DeliverRate         float64  `json:"deliver_rate"` // msgs/s out of Q
	Retrying            int64    `json:"retrying"`     // messages in Q.retry and Q.poll
	Parked              int64    `json:"parked"`       // messages in Q.dead
	// Stranded counts the messages held in the dead-letter buffers
	// (messages_dlx) of the edge's queues, left out of the other counts.
	Stranded int64 `json:"stranded"`
	// OldestReadyAge is the age in seconds of Q's oldest ready message;
	// null where the broker gives no timestamp (quorum queues).
	OldestReadyAge *int64 `json:"oldest_ready_age_seconds"`
	// ForeignPolicies maps each of the edge's queues that a policy other
	// than dge's governs to that policy.
	ForeignPolicies map[string]string `json:"foreign_policies,omitempty"`
	// OperatorPolicies maps each of the edge's queues that an operator
	// policy applies to to that operator policy.
	OperatorPolicies map[string]string `json:"operator_policies,omitempty"`
	// State is, for a gather, its state queue Q.state; nil for every other
	// node.
	State *stateStatus `json:"state,omitempty"`
	// strandedIn names the queues holding Stranded.
	strandedIn []string

	terminate bool // the edge feeds a terminate node
}

// stateStatus is a gather's state queue Q.state: the checkpoints of the
// splits it is gathering, and the gather's instances, which all consume it
// and of which the broker makes one the single active consumer.
type stateStatus struct {
	Queue   string `json:"queue"`
	Missing bool   `json:"missing"` // Q.state does not exist on the broker
	// Checkpoints counts Q.state's messages, ready and unacknowledged: the
	// checkpoints and the markers the gather's instances exchange.
	Checkpoints int64 `json:"checkpoints"`
	// Consumers counts the gather's instances that consume Q.state; one of
	// them is active.
	Consumers int64 `json:"consumers"`
}

// readStatus reads the graph's status: the queue statistics, and the live
// state dge plan reads, whose policies it judges with plan's own rule
// (plan.CheckPolicies) so that plan and status agree. dge status and dge
// graph -status both read through it.
func readStatus(ctx context.Context, client *mgmt.Client, g *config.Graph) (*statusReport, error) {
	queues, err := client.QueueStatus(ctx, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	snap, err := client.Read(ctx, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	channels, err := client.ChannelStatus(ctx, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	r := buildStatus(g, queues, plan.CheckPolicies(plan.Desired(g), snap), time.Now())
	r.noteReturned(g, channels)
	r.Endpoint = client.Endpoint()
	return r, nil
}

// buildStatus turns the vhost's queue statistics into one row per edge of
// g, in graph order, and judges the graph's health: the rows' problems and
// the errors among policies, plan.CheckPolicies's diagnostics. now dates
// the oldest ready message.
func buildStatus(g *config.Graph, queues []mgmt.QueueStatus, policies []plan.Diagnostic, now time.Time) *statusReport {
	live := make(map[string]mgmt.QueueStatus, len(queues))
	for _, q := range queues {
		live[q.Name] = q
	}
	spec := topology.Build(plan.TopologyParams(g))
	r := &statusReport{FormatVersion: statusFormatVersion, Graph: g.Name, Vhost: g.Broker.Vhost, Edges: []statusRow{}, Returned: []returnedStatus{}, Problems: []string{}}
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		row := statusRow{Node: n.Addr(), When: n.When, Queue: n.Edge.Queue, terminate: n.Kind == config.KindTerminate}
		var missing []string
		for _, q := range spec.EdgeQueues(n.Edge.Queue) {
			if q.Role == topology.RoleState {
				row.State = &stateStatus{Queue: q.Name}
			}
			s, ok := live[q.Name]
			if !ok {
				missing = append(missing, q.Name)
				switch q.Role {
				case topology.RoleWork:
					row.Missing = true
				case topology.RoleState:
					row.State.Missing = true
				}
				continue
			}
			row.notePolicies(g.Name, q.Name, s)
			if s.DeadLetterBuffered > 0 {
				row.Stranded += s.DeadLetterBuffered
				row.strandedIn = append(row.strandedIn, q.Name)
			}
			held := max(s.Messages-s.DeadLetterBuffered, 0)
			switch q.Role {
			case topology.RoleWork:
				row.Ready, row.Unacked, row.Consumers = s.Ready, s.Unacknowledged, s.Consumers
				row.ConsumerUtilisation = s.ConsumerUtilisation
				row.PublishRate, row.DeliverRate = s.PublishRate, s.DeliverRate
				if s.Ready > 0 && !s.HeadMessageTimestamp.IsZero() {
					age := max(int64(now.Sub(s.HeadMessageTimestamp)/time.Second), 0)
					row.OldestReadyAge = &age
				}
			case topology.RoleRetry, topology.RolePoll:
				row.Retrying += held
			case topology.RoleDead:
				row.Parked += held
			case topology.RoleState:
				row.State.Checkpoints, row.State.Consumers = held, s.Consumers
			}
		}
		r.Problems = append(r.Problems, row.problems(missing)...)
		r.Edges = append(r.Edges, row)
	}
	for _, d := range policies {
		if d.Severity == plan.SeverityError {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: run dge plan for what it disables and the fix", d.Summary))
		}
	}
	r.Healthy = len(r.Problems) == 0
	return r
}

// notePolicies records the foreign policy and the operator policy the
// listing shows applied to queue q of the row's edge.
func (row *statusRow) notePolicies(graph, q string, s mgmt.QueueStatus) {
	if s.Policy != "" && !plan.OwnsPolicy(graph, s.Policy) {
		if row.ForeignPolicies == nil {
			row.ForeignPolicies = map[string]string{}
		}
		row.ForeignPolicies[q] = s.Policy
	}
	if s.OperatorPolicy != "" {
		if row.OperatorPolicies == nil {
			row.OperatorPolicies = map[string]string{}
		}
		row.OperatorPolicies[q] = s.OperatorPolicy
	}
}

// problems returns why the edge needs attention, each with what to do.
func (row statusRow) problems(missing []string) []string {
	var out []string
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%s: %s missing on the broker: run dge apply",
			row.Node, queueList(missing)))
	}
	if row.Parked > 0 {
		them := config.PluralForm(row.Parked, "it", "them")
		out = append(out, fmt.Sprintf("%s: %s parked in %s: dge parked list -node %s says why; once the cause is fixed, move %s back to %s with dge parked redrive -node %s",
			row.Node, messages(row.Parked), row.Queue+topology.SuffixDead, row.Node, them, row.Queue, row.Node))
	}
	held := row.Ready + row.Unacked + row.Retrying
	switch {
	case row.stateUnheld():
		out = append(out, fmt.Sprintf("%s: %s wait on %s and no instance of the gather consumes its state queue %s, so none can gather: start the node's program",
			row.Node, messages(row.Ready), row.Queue, row.State.Queue))
	case !row.terminate && !row.Missing && row.Consumers == 0 && held > 0:
		out = append(out, fmt.Sprintf("%s: %s wait on %s and nothing consumes it: start the node's program",
			row.Node, messages(held), row.Queue))
	}
	if row.Stranded > 0 {
		out = append(out, fmt.Sprintf("%s: %s stranded in the dead-letter buffer of %s (messages_dlx): RabbitMQ could not dead-letter them, typically a dead-letter cycle that an operator policy's message-ttl or delivery-limit sends round from a queue to its retry queue and back; no consumer reaches them there, so dge can neither process nor park them, and they stay after the cause is gone (deleting the queue discards them). Run dge plan to find the policy and fix it so that no more are stranded",
			row.Node, messages(row.Stranded), queueList(row.strandedIn)))
	}
	return out
}

// stateUnheld reports whether the row is a gather's whose edge has ready
// messages while no instance consumes its state queue: the instance that
// gathers is elected through Q.state, so nothing will.
func (row statusRow) stateUnheld() bool {
	return row.State != nil && !row.Missing && !row.State.Missing && row.State.Consumers == 0 && row.Ready > 0
}

// line says what a gather's state queue holds and who consumes it.
func (st stateStatus) line(node string) string {
	if st.Missing {
		return fmt.Sprintf("State of %s: %s is missing.", node, st.Queue)
	}
	who := "no instance consumes it"
	if st.Consumers > 0 {
		who = fmt.Sprintf("1 active of %s", config.Plural(st.Consumers, "instance"))
	}
	return fmt.Sprintf("State of %s: %s holds %s, %s.", node, st.Queue, config.Plural(st.Checkpoints, "checkpoint"), who)
}

func messages(n int64) string { return config.Plural(n, "message") }

// queueList names queues: "queue a" or "queues a, b".
func queueList(names []string) string {
	return config.PluralForm(len(names), "queue", "queues") + " " + strings.Join(names, ", ")
}

// diagramStatus returns the counts dge graph -status draws.
func (r *statusReport) diagramStatus() diagram.Status {
	s := diagram.Status{}
	for _, row := range r.Edges {
		s[row.Queue] = diagram.EdgeStatus{
			Ready: row.Ready, Retrying: row.Retrying, Parked: row.Parked,
			Consumers: row.Consumers, Missing: row.Missing,
		}
	}
	return s
}

func writeStatusJSON(w io.Writer, r *statusReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// ANSI colours of the table.
const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

// cell is one table cell: its text, alignment and colour.
type cell struct {
	text  string
	right bool
	color string
}

// renderStatus writes r as a table, a summary line and its problems,
// coloured when color is set.
func renderStatus(w io.Writer, r *statusReport, color bool) error {
	paint := func(c, s string) string {
		if !color || c == "" {
			return s
		}
		return c + s + ansiReset
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Graph %s, vhost %q, at %s (the broker's statistics lag up to 5 s)\n\n", r.Graph, r.Vhost, r.Endpoint)
	header := []string{"NODE", "QUEUE", "READY", "UNACKED", "CONSUMERS", "UTIL", "IN/s", "OUT/s", "RETRYING", "PARKED", "STRANDED", "OLDEST"}
	rows := [][]cell{make([]cell, len(header))}
	for i, h := range header {
		rows[0][i] = cell{text: h, right: i >= 2 && i <= 10, color: ansiBold}
	}
	var ready, unacked, retrying, parked, stranded int64
	for _, e := range r.Edges {
		ready, unacked, retrying, parked = ready+e.Ready, unacked+e.Unacked, retrying+e.Retrying, parked+e.Parked
		stranded += e.Stranded
		rows = append(rows, e.cells())
	}
	widths := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text))
			text := c.text + pad
			if c.right {
				text = pad + c.text
			}
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(paint(c.color, text))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	for i, e := range r.Edges {
		if e.State == nil {
			continue
		}
		if !slices.ContainsFunc(r.Edges[:i], func(e statusRow) bool { return e.State != nil }) {
			b.WriteString("\n")
		}
		line := e.State.line(e.Node)
		if e.State.Missing || e.stateUnheld() {
			line = paint(ansiYellow, line)
		}
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(&b, "\n%s: %d ready, %d unacked, %d retrying, %d parked, %d stranded.\n",
		config.Plural(len(r.Edges), "edge"), ready, unacked, retrying, parked, stranded)
	if r.Healthy {
		b.WriteString(paint(ansiGreen, "Healthy: nothing parked, every node with work has a consumer.") + "\n")
	} else {
		fmt.Fprintf(&b, "%s\n", paint(ansiRed, fmt.Sprintf("Needs attention (%s):", config.Plural(len(r.Problems), "problem"))))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// nodeText is the row's NODE cell: the node's address, followed for a
// path of a route by the label it takes, "(when invoice)", or
// "(otherwise)" for the default path.
func (row statusRow) nodeText() string {
	switch row.When {
	case "":
		return row.Node
	case config.WhenDefault:
		return row.Node + " (otherwise)"
	}
	return row.Node + " (when " + row.When + ")"
}

// cells returns the row's table cells, coloured where they need attention.
func (row statusRow) cells() []cell {
	num := func(n int64) cell { return cell{text: strconv.FormatInt(n, 10), right: true} }
	rate := func(f float64) cell { return cell{text: strconv.FormatFloat(f, 'f', 1, 64), right: true} }
	if row.Missing {
		dash := cell{text: "-", right: true}
		return []cell{{text: row.nodeText()}, {text: row.Queue, color: ansiRed}, {text: "missing", right: true, color: ansiRed},
			dash, dash, dash, dash, dash, num(row.Retrying), num(row.Parked), num(row.Stranded), {text: "-"}}
	}
	consumers := num(row.Consumers)
	if (!row.terminate && row.Consumers == 0 && row.Ready+row.Unacked+row.Retrying > 0) || row.stateUnheld() {
		consumers.color = ansiYellow
	}
	util := cell{text: "-", right: true}
	if row.ConsumerUtilisation != nil && row.Consumers > 0 {
		util.text = strconv.FormatFloat(*row.ConsumerUtilisation*100, 'f', 0, 64) + "%"
	}
	parked := num(row.Parked)
	if row.Parked > 0 {
		parked.color = ansiRed
	}
	stranded := num(row.Stranded)
	if row.Stranded > 0 {
		stranded.color = ansiRed
	}
	oldest := cell{text: "-"}
	if row.OldestReadyAge != nil {
		oldest.text = (time.Duration(*row.OldestReadyAge) * time.Second).String()
	}
	queue := cell{text: row.Queue}
	if len(row.ForeignPolicies) > 0 {
		queue.color = ansiRed
	}
	return []cell{{text: row.nodeText()}, queue, num(row.Ready), num(row.Unacked), consumers, util,
		rate(row.PublishRate), rate(row.DeliverRate), num(row.Retrying), parked, stranded, oldest}
}
