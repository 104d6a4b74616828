package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	dge "github.com/dgehq/dge/runtime"
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
	nf.vhost = flagVhost(fs)
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("all: unexpected argument %q", fs.Arg(0))}
	}
	var nodes []dge.Node
	if *names == "" {
		for _, n := range c.g.Nodes {
			if n.Consumes() {
				nodes = append(nodes, n)
			}
		}
	} else {
		for _, s := range strings.Split(*names, ",") {
			s = strings.TrimSpace(s)
			n, ok := c.g.Node(s)
			if !ok {
				return usageError{fmt.Sprintf("all: unknown node %q", s)}
			}
			if !n.Consumes() {
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

func (c *cli) cmdNodes(ctx context.Context, name string, args []string, nodes []dge.Node) error {
	fs := c.flagSet(name, name+" [flags]", c.nodeAbout(nodes[0]), true)
	var nf nodeFlags
	nf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	nf.vhost = flagVhost(fs)
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	return c.runNodes(ctx, name, nf, nodes)
}

// nodeAbout describes the subcommand of node n.
func (c *cli) nodeAbout(n dge.Node) string {
	return fmt.Sprintf(`
Runs %s, which consumes queue %s,
until SIGINT or SIGTERM; then finishes the messages in flight, for at most
-shutdown-timeout. Run as many instances as the load needs: they share the
queue.`, n.Addr(), n.Edge().Queue)
}

// runNodes runs nodes as subcommand name: on the broker DGE_AMQP_URL
// names, in the vhost connect chooses, logging to stderr and, for the handlers, through slog.Default.
func (c *cli) runNodes(ctx context.Context, name string, nf nodeFlags, nodes []dge.Node) error {
	if nf.prefetch < 0 || nf.concurrency < 0 || nf.shutdownTimeout < 0 {
		return usageError{"-prefetch, -concurrency and -shutdown-timeout must not be negative"}
	}
	log, eps, g, err := c.connect(nf.vhost, slog.LevelInfo)
	if err != nil {
		return err
	}
	shutdown := nf.shutdownTimeout
	if shutdown == 0 {
		shutdown = -1 // no time at all: RunOptions' 0 is its default
	}
	defer useAsDefault(log)()
	return dge.RunNodes(ctx, g, nodes, dge.RunOptions{
		Transport:       eps.Transport(nil),
		ConnectionName:  c.connName(name),
		Logger:          log,
		TracerProvider:  c.tp,
		Prefetch:        nf.prefetch,
		Concurrency:     nf.concurrency,
		ShutdownTimeout: shutdown,
		MetricsAddr:     nf.metricsAddr,
	})
}
