package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgehq/dge/plan"
)

// Exit code of plan -detailed-exitcode when there are changes.
const exitChanges = 2

func runPlan(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("plan", "dge plan [flags] [PATH]", `
Show what dge apply would change on the broker to make it hold the topology
the graph in PATH needs (default: the current folder). The live vhost is read
through the RabbitMQ management API with three requests.

Symbols: + create, ~ update in place, -/+ replace (the queue's messages are
lost, unless dge apply -keep-messages), - destroy. Nothing is changed.

With -destroy, plan previews what dge destroy would remove instead; a plan
saved with -destroy -out is applied by dge apply PLANFILE like any other.

Besides the changes, plan judges every policy of the vhost against every
queue of the graph (work, retry, poll, parking and terminate queues): a
policy that would govern a queue instead of dge's (a policy of a higher
priority, such as an operator's catch-all), a policy on a queue dge gives
none that expires, caps or deletes its messages, and an operator policy
that does so anywhere (RabbitMQ merges operator policies with dge's and no
queue argument overrides them) are errors, and plan exits 1 (with -json,
the plan's diagnostics hold them; any other error is a JSON diagnostic
line). dge status -check applies the same rule.

Environment: DGE_MANAGEMENT_URL (default http://127.0.0.1:15672, may carry
user:password), DGE_MANAGEMENT_USERNAME, DGE_MANAGEMENT_PASSWORD (default
guest/guest); the broker block's management_url, username and password win.
For an https:// API: DGE_MANAGEMENT_CACERT (the CA that signed its
certificate), DGE_MANAGEMENT_CERT and DGE_MANAGEMENT_KEY (a client
certificate), PEM files.`)
	var vars varFlags
	vars.register(fs)
	out := fs.String("out", "", "save the plan to `FILE` for dge apply FILE")
	e.addJSON(fs, "print the plan as JSON (with a format_version) instead of text")
	destroy := fs.Bool("destroy", false, "plan the removal of everything the graph owns, as dge destroy would")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error (a foreign policy governing the graph's queues included)")
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	g, ok := e.loadArg(fs, pos, vars)
	if !ok {
		return exitError
	}
	client, cfg, err := e.managementClient(g.Broker)
	if err != nil {
		return e.fail("plan", err)
	}
	snap, err := client.Read(ctx, g.Broker.Vhost)
	if err != nil {
		return e.fail("plan", err)
	}
	build := plan.New
	if *destroy {
		build = plan.NewDestroy
	}
	p, err := build(plan.Desired(g), snap, plan.Options{DgeVersion: version})
	if err != nil {
		return e.fail("plan", err)
	}
	p.ManagementEndpoint = cfg.Endpoint
	if e.json {
		if err := plan.WriteJSON(e.stdout, p); err != nil {
			return e.fail("plan", err)
		}
	} else if err := e.renderPlan(p); err != nil {
		return e.fail("plan", err)
	}
	if err := p.Err(); err != nil {
		if e.json {
			return exitError // the plan's diagnostics say why
		}
		if *out != "" {
			err = fmt.Errorf("%w\n(the plan was not saved to %s)", err, *out)
		}
		return e.fail("plan", err)
	}
	if *out != "" {
		if err := writePlanFile(*out, p); err != nil {
			return e.fail("plan", err)
		}
		if !e.json {
			fmt.Fprintf(e.stdout, "\nSaved the plan to: %s\n\nTo perform exactly these actions, run:\n    dge apply %s\n", *out, *out)
		}
	}
	if *detailed && p.HasChanges() {
		return exitChanges
	}
	return exitOK
}

// renderPlan prints p as text, coloured on a terminal unless turned off.
func (e *env) renderPlan(p *plan.Plan) error {
	_, color := e.terminal(e.stdout)
	return plan.Render(e.stdout, p, plan.RenderOptions{Color: color})
}

func writePlanFile(path string, p *plan.Plan) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dge-plan-*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := plan.WriteJSON(tmp, p); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save plan to %s: %w", path, err)
	}
	return nil
}

// confirm asks the Terraform question on a terminal. Without a terminal
// it refuses: there is nobody to answer.
func (e *env) confirm(action string) (bool, error) {
	f, ok := e.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return false, fmt.Errorf("%s needs a confirmation and stdin is not a terminal: review the plan, then run again with -auto-approve", action)
	}
	fmt.Fprintf(e.stdout, "\nDo you want to perform these actions?\n  dge will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	return strings.TrimSpace(line) == "yes", nil
}
