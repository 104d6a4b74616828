package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/parked"
)

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
	if slices.Contains(args, "-json") || slices.Contains(args, "--json") {
		e.json = true // as list -json would: the error, too, is a JSON line
	}
	return e.failf("parked", "unknown subcommand %q: give list, redrive or purge", args[0])
}

// parkedFilter is the flags that select parked messages; each is
// repeatable, selecting messages that match any of its values.
type parkedFilter struct {
	node, reason, run listFlag
}

// listFlag is a repeatable string flag: each use adds a value.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// query returns the selection as the parked package takes it.
func (f parkedFilter) query() parked.Query {
	return parked.Query{Nodes: f.node, Reasons: f.reason, Runs: f.run}
}

func (f parkedFilter) String() string {
	var parts []string
	for _, p := range []struct {
		flag string
		vs   listFlag
	}{{"-node", f.node}, {"-reason", f.reason}, {"-run", f.run}} {
		for _, v := range p.vs {
			parts = append(parts, p.flag+" "+v)
		}
	}
	if len(parts) == 0 {
		return "no filter"
	}
	return strings.Join(parts, ", ")
}

// noMatch says that no parked message matches f: on stderr, or with -json
// as a warning diagnostic line.
func (e *env) noMatch(cmd string, f parkedFilter) {
	msg := fmt.Sprintf("no parked message matches (%s)", f)
	if e.json {
		e.jsonUI().diagnostic(jsonDiagnostic{Severity: "warning", Summary: msg})
		return
	}
	fmt.Fprintf(e.stderr, "dge %s: %s\n", cmd, msg)
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
fixed. Redriving a failed message also brings back, first, the parts of
its run parked member-failed at the aggregates and gathers downstream of
its node (not bounded by -limit), so that the redriven run can join again:
the confirmation lists them.`,
		"purge": `
Delete the matching parked messages, after confirmation, printing each one.
One redrive or purge of a queue runs at a time.`,
	}[sub]
	fs := e.newFlagSet(cmd, "dge "+cmd+" [flags] [PATH]", about+`

Environment: as dge plan, plus DGE_AMQP_URL for the AMQP connection.`)
	var vars varFlags
	vars.register(fs)
	var f parkedFilter
	fs.Var(&f.node, "node", "only the node with address `ADDR` (e.g. process.double; repeatable)")
	fs.Var(&f.reason, "reason", "only messages parked for reason `R` ("+parked.ReasonList()+"; repeatable)")
	fs.Var(&f.run, "run", "only messages of run `ID` (repeatable)")
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
	q := f.query()
	if err := q.CheckReasons(); err != nil {
		return e.fail(cmd, fmt.Errorf("-reason %w", err))
	}
	if rate != nil && *rate < 0 {
		fmt.Fprintf(e.stderr, "dge %s: -rate %g is negative; give 0 (no pacing) or more messages a second\n", cmd, *rate)
		return exitError
	}
	g, ok := e.loadArg(fs, pos, vars)
	if !ok {
		return exitError
	}
	if _, err := parked.Edges(g, q.Nodes); err != nil {
		return e.fail(cmd, fmt.Errorf("-node %w", err))
	}
	m, err := e.parkedMover(g, sub)
	if err != nil {
		return e.fail(cmd, err)
	}
	defer m.Close()
	ps := parked.NewSession(g, m)
	if sub == "list" {
		enc := json.NewEncoder(e.stdout)
		n, err := ps.List(ctx, q, func(pm parked.Message) error {
			if e.json {
				return enc.Encode(pm)
			}
			return printParked(e.stdout, pm)
		})
		if err != nil {
			return e.fail(cmd, err)
		}
		if n == 0 {
			e.noMatch(cmd, f)
		}
		return exitOK
	}
	counts, total, err := ps.Count(ctx, q, *limit)
	if err != nil {
		return e.fail(cmd, err)
	}
	if total == 0 {
		e.noMatch(cmd, f)
		return exitOK
	}
	verb := map[string]string{"redrive": "redrive", "purge": "delete"}[sub]
	fmt.Fprintf(e.stdout, "dge will %s %s:\n", verb, messages(total))
	for _, c := range counts {
		fmt.Fprintf(e.stdout, "  %-24s %-16s %d\n", c.Node, c.Reason, c.N)
	}
	if sub == "redrive" {
		fcounts, ftotal, err := ps.Followers(ctx, q, *limit)
		if err != nil {
			return e.fail(cmd, err)
		}
		if ftotal > 0 {
			fmt.Fprintf(e.stdout, "and first, so that their runs can join again, %s parked member-failed at the joins downstream:\n", messages(ftotal))
			for _, c := range fcounts {
				fmt.Fprintf(e.stdout, "  %-24s %-16s %d\n", c.Node, c.Reason, c.N)
			}
		}
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
	began := time.Now()
	var span parkedSpan
	o := parked.Options{Limit: *limit, Rate: r}
	var n, followers int64
	if sub == "purge" {
		n, err = ps.Purge(ctx, q, o, func(pm parked.Message) error {
			span.note()
			_, err := fmt.Fprintf(e.stdout, "deleted %s  %s  run %s  message %s  %s: %s\n", pm.Node, pm.Queue, pm.RunID, pm.MessageID, pm.Reason, pm.Error)
			return err
		})
	} else {
		n, followers, err = ps.Redrive(ctx, q, o, func(parked.Message) error { span.note(); return nil })
		n += followers
	}
	if err != nil {
		return e.fail(cmd, fmt.Errorf("%w (%s done)", err, messages(n)))
	}
	past := map[string]string{"redrive": "Redrove", "purge": "Deleted"}[sub]
	took := time.Since(began)
	among := ""
	if followers > 0 {
		among = fmt.Sprintf(" (%d of them member-failed parts of their runs)", followers)
	}
	fmt.Fprintf(e.stdout, "%s %s%s in %s%s.\n", past, messages(n), among, took.Round(time.Millisecond), span.rate(n))
	return exitOK
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

// printParked prints one parked message of dge parked list.
func printParked(w io.Writer, pm parked.Message) error {
	if pm.ParkedAt == "" {
		pm.ParkedAt = "unknown" // parked by an older runtime, which did not say when
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
