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
	"github.com/dgehq/dge/internal/status"
)

// Exit code of status -check when the graph needs attention.
const exitUnhealthy = 2

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
	show := func() (*status.Report, error) {
		r, err := status.Read(ctx, client, g)
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
func (e *env) watchStatus(ctx context.Context, interval time.Duration, asJSON bool, show func() (*status.Report, error)) int {
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

// messages counts messages: "1 message", "2 messages".
func messages(n int64) string { return config.Plural(n, "message") }

// stateLine says what a gather's state queue holds and who consumes it.
func stateLine(st status.State, node string) string {
	if st.Missing {
		return fmt.Sprintf("State of %s: %s is missing.", node, st.Queue)
	}
	who := "no instance consumes it"
	if st.Consumers > 0 {
		who = fmt.Sprintf("1 active of %s", config.Plural(st.Consumers, "instance"))
	}
	return fmt.Sprintf("State of %s: %s holds %s, %s.", node, st.Queue, config.Plural(st.Checkpoints, "checkpoint"), who)
}

func writeStatusJSON(w io.Writer, r *status.Report) error {
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
func renderStatus(w io.Writer, r *status.Report, color bool) error {
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
		rows = append(rows, statusCells(e))
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
		if !slices.ContainsFunc(r.Edges[:i], func(e status.Row) bool { return e.State != nil }) {
			b.WriteString("\n")
		}
		line := stateLine(*e.State, e.Node)
		if e.State.Missing || e.StateUnheld() {
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
func nodeText(row status.Row) string {
	switch row.When {
	case "":
		return row.Node
	case config.WhenDefault:
		return row.Node + " (otherwise)"
	}
	return row.Node + " (when " + row.When + ")"
}

// statusCells returns the row's table cells, coloured where they need
// attention.
func statusCells(row status.Row) []cell {
	num := func(n int64) cell { return cell{text: strconv.FormatInt(n, 10), right: true} }
	rate := func(f float64) cell { return cell{text: strconv.FormatFloat(f, 'f', 1, 64), right: true} }
	if row.Missing {
		dash := cell{text: "-", right: true}
		return []cell{{text: nodeText(row)}, {text: row.Queue, color: ansiRed}, {text: "missing", right: true, color: ansiRed},
			dash, dash, dash, dash, dash, num(row.Retrying), num(row.Parked), num(row.Stranded), {text: "-"}}
	}
	consumers := num(row.Consumers)
	if row.Unconsumed() || row.StateUnheld() {
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
	return []cell{{text: nodeText(row)}, queue, num(row.Ready), num(row.Unacked), consumers, util,
		rate(row.PublishRate), rate(row.DeliverRate), num(row.Retrying), parked, stranded, oldest}
}
