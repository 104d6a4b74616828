package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/amqpcount"
	"github.com/dgehq/dge/internal/gen"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/scale"
	"github.com/dgehq/dge/internal/supervise"
	"github.com/dgehq/dge/runtime"
)

func runRun(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("run", "dge run [flags] [PATH]", `
Run the graph in PATH (default: the current folder) on this machine: start
each consuming node's min_replicas (its deploy block; default 1) as
processes of the graph's generated program, "<program> <node>
-shutdown-timeout <shutdown_grace>", and supervise them until SIGINT or
SIGTERM.

The program is built with go build from the package dge generate wrote,
<graph folder>/cmd/<graph name>, after checking that its main.go matches
the graph (run dge generate PATH when it does not), or taken from
-program.

A replica that exits, however it exits, is started again after a backoff
that doubles from 100ms to 10s (and starts over once a replica has run
30s); more than 5 restarts of a node within a minute is reported as a
crash loop. Every second dge run counts each node's queue's ready
messages and scales the node by the rule KEDA's RabbitMQ trigger uses:
ceil(ready / ready_per_replica) replicas, between min_replicas and
max_replicas, added at once; after the queue has stayed below that
target for the node's cooldown, replicas are removed one at a time with
SIGTERM, so each finishes the messages it holds.

Every replica's output lines go to stderr, prefixed with the node and the
replica ("process.fib#2 | ..."), with dge's own events ("dge | ..."); on
a terminal a status line per node (replicas, ready messages) is redrawn
below them. With -json, the events are JSON lines on stdout: started,
exited (code or signal), restarted, scaled (from, to, ready), crash-loop,
stopped, count-failed.

At SIGINT or SIGTERM every replica gets SIGTERM and its shutdown_grace,
then SIGKILL; dge run exits 0.

Environment: the replicas inherit dge run's. DGE_AMQP_URL names the
broker and vhost they and dge run's counts use; without it, the broker
block's amqp_url or the AMQP URL derived from the management URL (as for
dge apply) is given to the replicas as DGE_AMQP_URL.`)
	var vars varFlags
	vars.register(fs)
	program := fs.String("program", "", "run this build of the graph's program instead of building it")
	e.addJSON(fs, "print the events as JSON lines on stdout")
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return exitError
	}
	g, ok := e.loadGraph(path, vars)
	if !ok {
		return exitError
	}
	nodes := runNodes(g)
	if len(nodes) == 0 {
		return e.failf("run", "graph %s has no node that consumes a queue: nothing to run", g.Name)
	}
	urls, vhost, err := e.runBroker(g)
	if err != nil {
		return e.fail("run", err)
	}
	prog := *program
	if prog == "" {
		dir, err := os.MkdirTemp("", "dge-run-")
		if err != nil {
			return e.fail("run", err)
		}
		defer os.RemoveAll(dir)
		if prog, err = e.buildProgram(ctx, g, path, dir); err != nil {
			return e.fail("run", err)
		}
	} else if st, err := os.Stat(prog); err != nil || st.IsDir() {
		return e.failf("run", "-program %s: not a file; give the path of the graph's built program (go build -o NAME ./cmd/%s)", prog, g.Name)
	}

	environ := e.environ
	if e.getenv(mgmt.AMQPURLEnv) == "" {
		environ = append(append([]string(nil), environ...), mgmt.AMQPURLEnv+"="+strings.Join(urls, ","))
	}
	counter := &runCounter{urls: urls, name: "dge run " + g.Name}
	defer counter.close()

	_, tty := e.terminal(e.stderr)
	console := supervise.NewConsole(e.stderr, tty)
	var events func(supervise.Event)
	if e.json {
		var mu sync.Mutex
		enc := json.NewEncoder(e.stdout)
		events = func(ev supervise.Event) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(ev)
		}
	}
	s, err := supervise.New(supervise.Options{
		Program: prog, Nodes: nodes, Env: environ, Counter: counter,
		Console: console, Events: events, Scrub: e.scrub,
	})
	if err != nil {
		return e.fail("run", err)
	}
	console.Line("dge", fmt.Sprintf("running graph %s (%d nodes) in vhost %q; SIGINT or SIGTERM stops it", g.Name, len(nodes), vhost))
	if err := s.Run(ctx); err != nil {
		return e.fail("run", err)
	}
	console.Line("dge", "every replica has stopped")
	return exitOK
}

// runNodes returns what dge run supervises: every node that consumes a
// queue (all but start and terminate), with its deploy settings.
func runNodes(g *config.Graph) []supervise.Node {
	var out []supervise.Node
	for _, n := range g.Nodes {
		if n.Edge == nil || n.Kind == config.KindTerminate {
			continue
		}
		d := n.Deploy
		if d.MaxReplicas == 0 {
			d = config.DefaultDeploy()
		}
		out = append(out, supervise.Node{
			Address: n.Addr(),
			Command: runtime.CommandName(n.Name),
			Queue:   n.Edge.Queue,
			Rule:    scale.FromDeploy(d),
			Grace:   d.ShutdownGrace,
		})
	}
	return out
}

// runBroker returns the AMQP URLs dge run counts queues with and gives the
// replicas, and their vhost: DGE_AMQP_URL's when it names one (the
// replicas use it), else the graph's.
func (e *env) runBroker(g *config.Graph) (urls []string, vhost string, err error) {
	vhost = g.Broker.Vhost
	if u := e.getenv(mgmt.AMQPURLEnv); u != "" {
		eps, err := runtime.ParseEndpoints(u, vhost, mgmt.AMQPURLEnv)
		if err != nil {
			return nil, "", err
		}
		vhost = eps.Vhost()
	}
	e.noteSecrets(g.Broker)
	cfg, err := mgmt.Resolve(e.environ, g.Broker)
	if err != nil {
		return nil, "", err
	}
	e.passwords = append(e.passwords, cfg.Password)
	eps, _, _, err := e.amqpEndpoints(g.Broker, cfg, vhost)
	if err != nil {
		return nil, "", err
	}
	for _, ep := range eps.Round("") {
		urls = append(urls, ep.URL)
	}
	return urls, vhost, nil
}

// buildProgram builds the graph's generated program into dir, after
// checking that the main.go dge generate wrote matches the graph.
func (e *env) buildProgram(ctx context.Context, g *config.Graph, path, dir string) (string, error) {
	graphDir, err := graphFolder(path)
	if err != nil {
		return "", err
	}
	if !safeFolderName(g.Name) {
		return "", fmt.Errorf("the graph name %q cannot be a folder name, so dge generate -o DIR wrote its program elsewhere: build it and give -program PATH", g.Name)
	}
	pkgDir := filepath.Join(graphDir, "cmd", g.Name)
	mainGo := filepath.Join(pkgDir, "main.go")
	files, diags := gen.Generate(g, e.genOptions(graphDir))
	if diags.HasErrors() {
		e.printDiags(nil, diags)
		return "", fmt.Errorf("the graph's program cannot be generated (above); fix the graph or its handlers")
	}
	old, err := os.ReadFile(mainGo)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s is missing: run dge generate %s, or give -program PATH", mainGo, path)
	case err != nil:
		return "", err
	case !bytes.Equal(old, files["main.go"]):
		return "", fmt.Errorf("%s is out of date with the graph: run dge generate %s, or give -program PATH", mainGo, path)
	}
	bin := filepath.Join(dir, g.Name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = pkgDir
	cmd.Env = e.environ
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %v\n%s", pkgDir, err, e.scrub(string(out)))
	}
	return bin, nil
}

// runCounter counts queues over one AMQP connection, dialled at the first
// count and again after a failure, trying each URL in turn.
type runCounter struct {
	urls []string
	name string

	mu sync.Mutex
	c  *amqpcount.Counter
}

func (r *runCounter) Count(ctx context.Context, queue string) (ready, consumers int64, found bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == nil {
		var errs []error
		for _, u := range r.urls {
			c, err := amqpcount.Dial(u, r.name)
			if err == nil {
				r.c = c
				break
			}
			errs = append(errs, err)
		}
		if r.c == nil {
			return 0, 0, false, errors.Join(errs...)
		}
	}
	ready, consumers, found, err = r.c.Count(ctx, queue)
	if err != nil {
		r.c.Close()
		r.c = nil
	}
	return ready, consumers, found, err
}

func (r *runCounter) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		r.c.Close()
	}
}
