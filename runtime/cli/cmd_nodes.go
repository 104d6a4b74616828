package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

func (c *cli) cmdAll(ctx context.Context, args []string) error {
	fs := c.flagSet("all", "all [-nodes a,b] [flags]", `
Runs several nodes (default: every node that consumes a queue) in this
process, on one connection, until SIGINT or SIGTERM; then finishes the
messages in flight, for at most -shutdown-timeout.`, true)
	var nf nodeFlags
	nf.register(fs)
	names := fs.String("nodes", "", "comma-separated nodes to run (default: every consuming node)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("all: unexpected argument %q", fs.Arg(0))}
	}
	var nodes []Node
	if *names == "" {
		for _, n := range c.g.Nodes {
			if n.consumes() {
				nodes = append(nodes, n)
			}
		}
	} else {
		for _, s := range strings.Split(*names, ",") {
			s = strings.TrimSpace(s)
			n, ok := c.g.node(s)
			if !ok {
				return usageError{fmt.Sprintf("all: unknown node %q", s)}
			}
			if !n.consumes() {
				return usageError{fmt.Sprintf("all: %s does not run as a process", n.Addr())}
			}
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return usageError{"all: the graph has no node to run"}
	}
	return c.runNodes(ctx, "all", nf, nodes)
}

func (c *cli) cmdNodes(ctx context.Context, name string, args []string, nodes []Node) error {
	fs := c.flagSet(name, name+" [flags]", c.nodeAbout(nodes[0]), true)
	var nf nodeFlags
	nf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	return c.runNodes(ctx, name, nf, nodes)
}

// nodeAbout describes the subcommand of node n.
func (c *cli) nodeAbout(n Node) string {
	return fmt.Sprintf(`
Runs %s, which consumes queue %s,
until SIGINT or SIGTERM; then finishes the messages in flight, for at most
-shutdown-timeout. Run as many instances as the load needs: they share the
queue.`, n.Addr(), n.in.Queue)
}

// queueReadInterval is how often a node serving metrics reads its queues'
// message counts.
const queueReadInterval = 5 * time.Second

func (c *cli) runNodes(ctx context.Context, name string, nf nodeFlags, nodes []Node) error {
	if nf.prefetch < 0 || nf.concurrency < 0 || nf.shutdownTimeout < 0 {
		return usageError{"-prefetch, -concurrency and -shutdown-timeout must not be negative"}
	}
	e, err := c.newEngine(name)
	if err != nil {
		return err
	}
	e.shutdownTimeout = nf.shutdownTimeout
	defer useAsDefault(e.log)()
	if nf.metricsAddr != "" {
		ln, err := net.Listen("tcp", nf.metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", nf.metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", e.metrics)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		e.queueInterval = queueReadInterval
		e.log.Info("serving metrics", "addr", ln.Addr().String())
	}
	runs := make([]*nodeRun, len(nodes))
	for i, n := range nodes {
		runs[i] = e.newRun(n, nf.prefetch, nf.concurrency)
	}
	if a, ok := e.tr.(AMQP); ok {
		e.log.Info("starting", "nodes", len(runs), "broker", a.eps.String())
	}
	err = e.run(ctx, runs)
	var se errStartup
	if errors.As(err, &se) {
		return se.err
	}
	return err
}
