package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
)

func runApply(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("apply", "dge apply [flags] [PATH | PLANFILE]", `
Make the broker hold the topology the graph in PATH needs (default: the
current folder): plan, show the plan, ask for "yes" on a terminal, then
create, update, replace and delete, in dependency order with bounded
parallelism. Given a PLANFILE saved by dge plan -out, apply exactly that plan
without asking, after checking the live state has not moved on since.

Queues that hold messages or have consumers are never deleted or replaced
unless -allow-message-loss is given. With -keep-messages a replaced queue
keeps its messages: they are moved over AMQP to a temporary queue
(<queue>.dge-keep), the queue is re-created, and they are moved back, each
copy confirmed before its original is acknowledged; the queue's consumers
must be stopped first. An interrupted apply -keep-messages leaves the
temporary queue, which the next one finishes. Objects the graph does not own
are never touched.

apply refuses, before changing anything, when another policy would govern
the graph's queues instead of dge's (see dge plan).

Environment: as for dge plan, plus DGE_AMQP_URL (used to count messages
exactly before deleting a queue and to move them with -keep-messages;
derived from the management URL if unset).`)
	var vars varFlags
	vars.register(fs)
	autoApprove := fs.Bool("auto-approve", false, "do not ask for confirmation")
	allowLoss := fs.Bool("allow-message-loss", false, "delete or replace queues even when they hold messages or have consumers")
	keep := fs.Bool("keep-messages", false, "replace queues that hold messages by moving their messages aside and back (their consumers must be stopped)")
	parallelism := fs.Int("parallelism", apply.DefaultParallelism, "at most `N` management API requests at once")
	e.addNoColor(fs)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return exitError
	}
	if *parallelism < 1 {
		fmt.Fprintf(e.stderr, "dge apply: -parallelism must be at least 1, got %d\n", *parallelism)
		return exitError
	}
	opts := apply.Options{Parallelism: *parallelism, AllowMessageLoss: *allowLoss}

	if isPlanFile(path) {
		if len(vars.args) > 0 {
			fmt.Fprintln(e.stderr, "dge apply: -var and -var-file cannot change a saved plan; run dge plan again with them")
			return exitError
		}
		return e.applySaved(ctx, path, *keep, opts)
	}

	g, ok := e.loadGraph(path, vars)
	if !ok {
		return exitError
	}
	return e.planAndExecute(ctx, "apply", g, plan.New, *autoApprove, *keep, opts)
}

// planAndExecute reads the graph's vhost, builds a plan with build (plan.New
// for apply, plan.NewDestroy for destroy), shows it, refuses it when it has
// errors, asks for "yes" unless autoApprove, and executes it, keeping the
// messages of replaced queues when keep. cmd names the command in messages.
func (e *env) planAndExecute(ctx context.Context, cmd string, g *config.Graph, build func(plan.Topology, *plan.Snapshot, plan.Options) (*plan.Plan, error), autoApprove, keep bool, opts apply.Options) int {
	client, cfg, err := e.managementClient(g.Broker)
	if err != nil {
		return e.fail(cmd, err)
	}
	snap, err := client.Read(ctx, g.Broker.Vhost)
	if err != nil {
		return e.fail(cmd, err)
	}
	p, err := build(plan.Desired(g), snap, plan.Options{DgeVersion: version})
	if err != nil {
		return e.fail(cmd, err)
	}
	if err := e.renderPlan(p); err != nil {
		return e.fail(cmd, err)
	}
	if err := p.Err(); err != nil {
		return e.fail(cmd, err)
	}
	if !p.HasChanges() && (!keep || len(p.PendingMoves) == 0) {
		return exitOK
	}
	if !autoApprove {
		yes, err := e.confirm(cmd)
		if err != nil {
			return e.fail(cmd, err)
		}
		if !yes {
			fmt.Fprintf(e.stderr, "%s cancelled.\n", strings.ToUpper(cmd[:1])+cmd[1:])
			return exitError
		}
	}
	m, err := e.mover(g.Broker, cfg, p, keep)
	if err != nil {
		return e.fail(cmd, err)
	}
	if m != nil {
		defer m.Close()
		opts.Mover = m
		if keep {
			opts.KeepMessages = m
		}
	}
	counter, err := e.counter(g.Broker, cfg, p)
	if err != nil {
		return e.fail(cmd, err)
	}
	return e.execute(ctx, cmd, client, counter, p, opts)
}

// mover connects over AMQP to move messages, when the plan renames queues
// (moved blocks) or, for apply -keep-messages, replaces queues or has moves
// to finish: to one of the AMQP URLs
// picked at random, then to the others in turn. Unlike counting, moving has
// no fallback: every URL failing is an error.
func (e *env) mover(b config.Broker, cfg mgmt.Config, p *plan.Plan, keep bool) (*apply.Mover, error) {
	needed := keep && len(p.PendingMoves) > 0
	for _, c := range p.Changes {
		needed = needed || (keep && c.Kind == plan.KindQueue && c.Action == plan.Replace) || c.Move != nil
	}
	if !needed {
		return nil, nil
	}
	eps, from, _, err := e.amqpEndpoints(b, cfg, p.Vhost)
	if err != nil {
		return nil, err
	}
	var msgs []string
	for _, ep := range eps.Round("") {
		m, err := apply.DialMover(ep.URL, "dge "+p.Graph+" move")
		if err == nil {
			return m, nil
		}
		msgs = append(msgs, ep.DialError(err).Error())
	}
	return nil, fmt.Errorf("apply moves messages (of renamed queues, or with -keep-messages) over AMQP, and no AMQP URL (from %s) works: %s; set %s to the broker's AMQP URL",
		from, e.scrub(strings.Join(msgs, "; ")), mgmt.AMQPURLEnv)
}

// isPlanFile reports whether path names a saved plan rather than a graph:
// a regular file that is not a *.dge.hcl file.
func isPlanFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && !strings.HasSuffix(path, config.FileSuffix)
}

func (e *env) applySaved(ctx context.Context, path string, keep bool, opts apply.Options) int {
	f, err := os.Open(path)
	if err != nil {
		return e.fail("apply", err)
	}
	p, err := plan.Decode(f, version)
	f.Close()
	if err != nil {
		return e.fail("apply", fmt.Errorf("%s: %w", path, err))
	}
	b := config.Broker{Vhost: p.Vhost}
	if e.getenv(mgmt.URLEnv) == "" {
		b.ManagementURL = p.ManagementEndpoint
	}
	client, cfg, err := e.managementClient(b)
	if err != nil {
		return e.fail("apply", err)
	}
	snap, err := client.Read(ctx, p.Vhost)
	if err != nil {
		return e.fail("apply", err)
	}
	if err := p.CheckFresh(snap); err != nil {
		return e.fail("apply", fmt.Errorf("%s: %w", path, err))
	}
	if !p.Destroy {
		// Policies the plan does not own may have appeared since it was made.
		p.Diagnostics = plan.CheckPolicies(p.Desired, snap)
		_, color := e.terminal(e.stdout)
		if err := plan.RenderDiagnostics(e.stdout, p.Diagnostics, plan.RenderOptions{Color: color}); err != nil {
			return e.fail("apply", err)
		}
		if err := p.Err(); err != nil {
			return e.fail("apply", err)
		}
	}
	if !p.HasChanges() && (!keep || len(p.PendingMoves) == 0) {
		fmt.Fprintln(e.stdout, "No changes in the saved plan; nothing to do.")
		return exitOK
	}
	m, err := e.mover(b, cfg, p, keep)
	if err != nil {
		return e.fail("apply", err)
	}
	if m != nil {
		defer m.Close()
		opts.Mover = m
		if keep {
			opts.KeepMessages = m
		}
	}
	counter, err := e.counter(b, cfg, p)
	if err != nil {
		return e.fail("apply", err)
	}
	return e.execute(ctx, "apply", client, counter, p, opts)
}
