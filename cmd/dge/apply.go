package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/amqpcount"
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

Progress: a line per object done; on a terminal, under them, a status line
with the objects done of the total and the time elapsed. With -json, the
plan and the progress are JSON lines instead (Terraform's machine-readable
UI: planned_change, change_summary, apply_start, apply_progress,
apply_complete, apply_errored, diagnostic); there is no prompt, so -json
needs -auto-approve or a saved plan, and errors are diagnostic lines too.

Environment: as for dge plan, plus DGE_AMQP_URL (used to count messages
exactly before deleting a queue and to move them with -keep-messages;
derived from the management URL if unset).`)
	c := e.addChangeFlags(fs, "delete or replace queues even when they hold messages or have consumers")
	keep := fs.Bool("keep-messages", false, "replace queues that hold messages by moving their messages aside and back (their consumers must be stopped)")
	path, code, done := e.parseChange(fs, c, args)
	if done {
		return code
	}
	opts := c.options()

	if isPlanFile(path) {
		if len(c.vars.args) > 0 {
			return e.failf("apply", "-var and -var-file cannot change a saved plan; run dge plan again with them")
		}
		return e.applySaved(ctx, path, *keep, opts)
	}
	if e.json && !c.autoApprove {
		return e.failf("apply", "apply -json needs -auto-approve or a saved plan\nWith -json there is no prompt to answer. Review the plan (dge plan -out FILE), then run dge apply -json FILE, or run dge apply -json -auto-approve.")
	}

	g, ok := e.loadGraph(path, c.vars)
	if !ok {
		return exitError
	}
	return e.planAndExecute(ctx, "apply", g, plan.New, c.autoApprove, *keep, opts)
}

// changeFlags are the flags dge apply and dge destroy share.
type changeFlags struct {
	vars        varFlags
	autoApprove bool
	allowLoss   bool
	parallelism int
}

// addChangeFlags registers on fs the flags apply and destroy share:
// -var, -var-file, -auto-approve, -allow-message-loss (with usage
// allowLoss), -parallelism, -json and -no-color.
func (e *env) addChangeFlags(fs *flag.FlagSet, allowLoss string) *changeFlags {
	c := &changeFlags{}
	c.vars.register(fs)
	fs.BoolVar(&c.autoApprove, "auto-approve", false, "do not ask for confirmation")
	fs.BoolVar(&c.allowLoss, "allow-message-loss", false, allowLoss)
	fs.IntVar(&c.parallelism, "parallelism", apply.DefaultParallelism, "at most `N` management API requests at once, within each phase (exchanges, queues, bindings, policies)")
	e.addJSON(fs, "print the plan and the progress as JSON, one object a line (machine-readable UI); needs -auto-approve or, for apply, a saved plan")
	e.addNoColor(fs)
	return c
}

// parseChange parses the command line of apply or destroy into c, starts
// the machine-readable UI when -json asks for it, and returns the PATH
// argument ("." when absent) once -parallelism is checked. When it returns
// done, the command must return code.
func (e *env) parseChange(fs *flag.FlagSet, c *changeFlags, args []string) (path string, code int, done bool) {
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return "", code, true
	}
	e.startStream()
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return "", exitError, true
	}
	if c.parallelism < 1 {
		return "", e.failf(strings.TrimPrefix(fs.Name(), "dge "), "-parallelism must be at least 1, got %d", c.parallelism), true
	}
	return path, 0, false
}

// options returns the apply options the flags ask for.
func (c *changeFlags) options() apply.Options {
	return apply.Options{Parallelism: c.parallelism, AllowMessageLoss: c.allowLoss}
}

// planAndExecute reads the graph's vhost, builds a plan with build (plan.New
// for apply, plan.NewDestroy for destroy), shows it, refuses it when it has
// errors, asks for "yes" unless autoApprove, and executes it, keeping the
// messages of replaced queues when keep. cmd names the command in messages.
func (e *env) planAndExecute(ctx context.Context, cmd string, g *config.Graph, build func(plan.Objects, *plan.Snapshot, plan.Options) (*plan.Plan, error), autoApprove, keep bool, opts apply.Options) int {
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
	if e.json {
		e.jsonUI().plan(p)
	} else if err := e.renderPlan(p); err != nil {
		return e.fail(cmd, err)
	}
	if err := p.Err(); err != nil {
		return e.fail(cmd, err)
	}
	if !p.HasChanges() && (!keep || len(p.PendingMoves) == 0) {
		if e.json {
			e.summary(p, apply.Result{})
		}
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

// startStream begins the machine-readable UI of apply -json and destroy
// -json with its version line.
func (e *env) startStream() {
	e.stream = true
	if e.json {
		e.jsonUI().version()
	}
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
	}
	if e.json {
		e.jsonUI().plan(p)
	} else {
		_, color := e.terminal(e.stdout)
		if err := plan.RenderDiagnostics(e.stdout, p.Diagnostics, plan.RenderOptions{Color: color}); err != nil {
			return e.fail("apply", err)
		}
	}
	if err := p.Err(); err != nil {
		return e.fail("apply", err)
	}
	if !p.HasChanges() && (!keep || len(p.PendingMoves) == 0) {
		if e.json {
			e.summary(p, apply.Result{})
		} else {
			fmt.Fprintln(e.stdout, "No changes in the saved plan; nothing to do.")
		}
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

// execute runs p, showing its progress (see progress.go), and prints the
// summary: as text, or with -json as the stream's last line.
func (e *env) execute(ctx context.Context, cmd string, client *mgmt.Client, counter *amqpcount.Counter, p *plan.Plan, opts apply.Options) int {
	if counter != nil {
		opts.Counter = counter
		defer counter.Close()
	}
	var obs progressObserver
	if e.json {
		obs = newJSONProgress(e.jsonUI(), e.clock, progressEvery)
	} else {
		fmt.Fprintln(e.stdout)
		width, _ := e.terminal(e.stdout)
		obs = newTextProgress(e.stdout, width > 0, len(p.Changes), e.clock)
	}
	opts.Observer = obs
	res, err := apply.Apply(ctx, mgmt.NewApplyBroker(client), p, opts)
	obs.stop()
	if err != nil {
		if res != (apply.Result{}) {
			err = fmt.Errorf("%w\nPartly applied: %d added, %d changed, %d destroyed. Run dge %s again once the cause is fixed: it continues where this one stopped",
				err, res.Added, res.Changed, res.Destroyed, cmd)
		}
		return e.fail(cmd, err)
	}
	e.summary(p, res)
	return exitOK
}

// summary prints what an apply of p did.
func (e *env) summary(p *plan.Plan, res apply.Result) {
	if e.json {
		op := "apply"
		if p.Destroy {
			op = "destroy"
		}
		e.jsonUI().summary(uiSummary{Add: res.Added, Change: res.Changed, Remove: res.Destroyed, Operation: op,
			KeptMessages: res.Kept, MovedMessages: res.Moved})
		return
	}
	if p.Destroy {
		fmt.Fprintf(e.stdout, "\nDestroy complete! Resources: %d destroyed.\n", res.Destroyed)
	} else {
		fmt.Fprintf(e.stdout, "\nApply complete! Resources: %d added, %d changed, %d destroyed.\n", res.Added, res.Changed, res.Destroyed)
	}
	if res.Kept > 0 {
		fmt.Fprintf(e.stdout, "Kept %d messages of replaced queues (moved aside and back).\n", res.Kept)
	}
	if res.Moved > 0 {
		fmt.Fprintf(e.stdout, "Moved %d messages of renamed queues to their new queues.\n", res.Moved)
	}
}
