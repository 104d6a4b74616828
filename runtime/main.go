package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/dgehq/dge/topology"
)

// DefaultAMQPURL is the broker URL used when DGE_AMQP_URL is unset; the
// graph's vhost is appended, path-escaped.
const DefaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"

// Main is the whole command line of a generated program: it runs the
// subcommand named by args (os.Args[1:]) and returns the exit code. Output
// goes to os.Stdout, logs (JSON, level from DGE_LOG) and errors to
// os.Stderr. SIGINT and SIGTERM stop it gracefully.
func Main(g Graph, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, g, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
}

// cli is one invocation of a generated program.
type cli struct {
	g      Graph
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	prog   string
}

func run(ctx context.Context, g Graph, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Whatever reaches stderr (logs, errors, flag messages) passes a scrub
	// of the broker URLs' passwords, the last guard behind the redaction
	// each message does itself.
	stderr = newScrubWriter(stderr, getenv(amqpURLEnv))
	c := &cli{g: g, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, prog: g.Name}
	if c.prog == "" {
		c.prog = "dge-graph"
	}
	if err := c.check(); err != nil {
		fmt.Fprintf(stderr, "%s: invalid graph: %v\n", c.prog, err)
		return 1
	}
	if len(args) == 0 {
		c.usage(stderr)
		return 2
	}
	if s := getenv("DGE_MAX_BODY"); s != "" {
		n, err := parseByteSize(s)
		if err != nil {
			fmt.Fprintf(stderr, "%s: DGE_MAX_BODY: %v\n", c.prog, err)
			return 2
		}
		c.g.MaxBody = n
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "-h", "-help", "--help", "help":
		c.usage(stdout)
		return 0
	case "all":
		err = c.cmdAll(ctx, rest)
	case "local":
		err = c.cmdLocal(ctx, rest)
	case "publish":
		err = c.cmdPublish(ctx, rest)
	case "consume":
		err = c.cmdConsume(ctx, rest)
	case "topology":
		err = c.cmdTopology(rest)
	default:
		n, ok := c.nodeByCommand(cmd)
		if !ok {
			fmt.Fprintf(stderr, "%s: unknown command %q\n\n", c.prog, cmd)
			c.usage(stderr)
			return 2
		}
		if !n.consumes() {
			fmt.Fprintf(stderr, "%s: %s does not run as a process: use \"%s %s %s\"\n", c.prog, n.Addr(), c.prog,
				map[Kind]string{KindStart: "publish", KindTerminate: "consume"}[n.kind], command(n.name))
			return 2
		}
		err = c.cmdNodes(ctx, cmd, rest, []Node{n})
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "%s: %v\n", c.prog, err)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", c.prog, err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// check rejects a Graph that was not built by dge generate's constructors.
func (c *cli) check() error {
	if c.g.WorkExchange == "" || c.g.RetryExchange == "" {
		return errors.New("WorkExchange and RetryExchange must be set")
	}
	seen := map[string]bool{}
	for i, n := range c.g.Nodes {
		if n.kind == "" || n.name == "" {
			return fmt.Errorf("node %d was not built by a constructor (Start, Process, ...)", i)
		}
		if seen[command(n.name)] {
			return fmt.Errorf("two nodes share the command %q", command(n.name))
		}
		seen[command(n.name)] = true
		if n.kind != KindStart && n.in.Queue == "" {
			return fmt.Errorf("%s has no queue", n.Addr())
		}
		if n.kind == KindPoll && c.g.PollExchange == "" {
			return fmt.Errorf("%s is a poll node but the graph has no PollExchange", n.Addr())
		}
		if n.kind == KindAggregate && len(n.from) < 2 {
			return fmt.Errorf("%s joins %d inputs; an aggregate needs at least 2", n.Addr(), len(n.from))
		}
	}
	return nil
}

// command returns the subcommand of a node name: kebab-case.
func command(name string) string { return strings.ReplaceAll(name, "_", "-") }

func (c *cli) nodeByCommand(s string) (Node, bool) {
	for _, n := range c.g.Nodes {
		if command(n.name) == s || n.name == s || n.Addr() == s {
			return n, true
		}
	}
	return Node{}, false
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s <command> [flags] [args]\n\n", c.prog)
	fmt.Fprintf(w, "Runs graph %q", c.g.Name)
	if c.g.Source != "" {
		fmt.Fprintf(w, " (%s)", c.g.Source)
	}
	fmt.Fprintf(w, " on RabbitMQ vhost %q.\n\nNodes (each runs until SIGINT or SIGTERM):\n", c.g.Vhost)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, n := range c.g.Nodes {
		if n.consumes() {
			fmt.Fprintf(tw, "  %s\t%s, consumes queue %s\n", command(n.name), n.Addr(), n.in.Queue)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nOther commands:\n")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  all [-nodes a,b]\truns several nodes (default: all) in one process, on one connection\n")
	fmt.Fprintf(tw, "  local [-timeout D] [-start NAME]\truns the whole graph in this process on an in-memory broker (no RabbitMQ):\n")
	fmt.Fprintf(tw, "  \tinputs are stdin JSON lines, results print as JSON lines\n")
	fmt.Fprintf(tw, "  publish <start> [JSON...]\tpublishes each argument (or each stdin line) as a new run; prints run IDs\n")
	fmt.Fprintf(tw, "  consume <terminate> [-n N] [-timeout D]\tprints results as JSON lines and acks them\n")
	fmt.Fprintf(tw, "  topology\tprints the exchanges, queues and bindings the program expects\n")
	_ = tw.Flush()
	var starts, ends []string
	for _, n := range c.g.Nodes {
		switch n.kind {
		case KindStart:
			starts = append(starts, command(n.name))
		case KindTerminate:
			ends = append(ends, command(n.name))
		}
	}
	fmt.Fprintf(w, "\nStart nodes: %s\nTerminate nodes: %s\n", strings.Join(starts, ", "), strings.Join(ends, ", "))
	fmt.Fprintf(w, "\nNode flags: -prefetch N, -concurrency N, -metrics-addr HOST:PORT, -shutdown-timeout D\n")
	fmt.Fprintf(w, "Environment: DGE_AMQP_URL (default %s + vhost; several URLs separated by commas for a cluster),\n  DGE_LOG (debug, info, warn, error), DGE_CONNECTION_NAME (the AMQP connection's name)\n", DefaultAMQPURL)
}

// amqpURLEnv names the variable that holds the broker's URLs.
const amqpURLEnv = "DGE_AMQP_URL"

// endpoints returns the broker URLs from DGE_AMQP_URL, or the default with
// the graph's vhost. Its error is a permanent configuration error.
func (c *cli) endpoints() (*Endpoints, error) {
	if u := c.getenv(amqpURLEnv); u != "" {
		return ParseEndpoints(u, c.g.Vhost, amqpURLEnv)
	}
	return ParseEndpoints(DefaultAMQPURL+url.PathEscape(c.g.Vhost), c.g.Vhost, "the default broker URL")
}

// transport returns the AMQP transport to eps, logging to log when the
// broker blocks publishers (and setting m's gauge, when m is not nil).
func transport(eps *Endpoints, log *slog.Logger, m *metrics) AMQP {
	return AMQP{URL: eps.raw, Vhost: eps.Vhost(), eps: eps, onBlocked: blockedNotice(log, m)}
}

func (c *cli) logger() (*slog.Logger, error) {
	var level slog.Level
	if s := c.getenv("DGE_LOG"); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			return nil, usageError{fmt.Sprintf("DGE_LOG=%q: want debug, info, warn or error", s)}
		}
	}
	return slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: level})).With("graph", c.g.Name), nil
}

func (c *cli) newEngine(name string) (*engine, error) {
	log, err := c.logger()
	if err != nil {
		return nil, err
	}
	eps, err := c.endpoints()
	if err != nil {
		return nil, err
	}
	m := newMetrics(c.g.Name)
	return &engine{
		g:               &c.g,
		vhost:           eps.Vhost(),
		tr:              transport(eps, log, m),
		log:             log,
		metrics:         m,
		shutdownTimeout: 30 * time.Second,
		connName:        c.connName(name),
	}, nil
}

// connName names the program's AMQP connection: DGE_CONNECTION_NAME, or
// "<graph> <command>".
func (c *cli) connName(command string) string {
	if s := c.getenv("DGE_CONNECTION_NAME"); s != "" {
		return s
	}
	return c.prog + " " + command
}

type nodeFlags struct {
	prefetch, concurrency int
	metricsAddr           string
	shutdownTimeout       time.Duration
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.prefetch, "prefetch", 0, "unacknowledged deliveries per node (default: the edge's prefetch)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "handler calls in flight per node (default: the edge's concurrency)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight messages may take to finish after SIGTERM")
}

func (c *cli) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(c.prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

func (c *cli) cmdAll(ctx context.Context, args []string) error {
	fs := c.flagSet("all")
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
			n, ok := c.nodeByCommand(s)
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
	fs := c.flagSet(name)
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

func (c *cli) runNodes(ctx context.Context, name string, nf nodeFlags, nodes []Node) error {
	if nf.prefetch < 0 || nf.concurrency < 0 || nf.shutdownTimeout < 0 {
		return usageError{"-prefetch, -concurrency and -shutdown-timeout must not be negative"}
	}
	e, err := c.newEngine(name)
	if err != nil {
		return err
	}
	e.shutdownTimeout = nf.shutdownTimeout
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

// cmdPublish publishes each input as a new run to every queue the start
// node feeds. Every input is validated before anything is published.
func (c *cli) cmdPublish(ctx context.Context, args []string) error {
	fs := c.flagSet("publish")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"publish: name a start node: publish <start> [JSON...]"}
	}
	n, ok := c.nodeByCommand(fs.Arg(0))
	if !ok || n.kind != KindStart {
		return usageError{fmt.Sprintf("publish: %q is not a start node of graph %q", fs.Arg(0), c.g.Name)}
	}
	eps, err := c.endpoints()
	if err != nil {
		return err
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	var bodies [][]byte
	if inputs := fs.Args()[1:]; len(inputs) > 0 {
		for i, s := range inputs {
			b, err := n.validateBody([]byte(s), c.g.maxBody())
			if err != nil {
				return fmt.Errorf("publish: argument %d is not a valid %s message: %v (nothing was published)", i+1, n.Addr(), err)
			}
			bodies = append(bodies, b)
		}
	} else if bodies, err = c.readStdinMessages("publish", n, "nothing was published"); err != nil {
		return err
	}
	if len(bodies) == 0 {
		return usageError{"publish: no input: give JSON arguments or lines on stdin"}
	}

	conn, err := transport(eps, log, nil).Dial(ctx, c.connName("publish"))
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Debug("connected", "endpoint", endpointName(conn))
	e := &engine{g: &c.g, vhost: eps.Vhost()}
	if err := e.verify(ctx, conn, []*nodeRun{{n: n}}); err != nil {
		return err
	}
	const window = 512
	ch, err := conn.Channel(ctx, window)
	if err != nil {
		return err
	}
	defer ch.Close()

	type pending struct {
		run  int
		conf Confirmation
	}
	confs := make(chan pending, window)
	failed := make([]error, len(bodies))
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for p := range confs {
			if err := p.conf.Wait(ctx); err != nil && failed[p.run] == nil {
				failed[p.run] = err
			}
		}
	}()
	runIDs := make([]string, len(bodies))
	var pubErr error
publish:
	for i, body := range bodies {
		runIDs[i] = newRunID()
		for _, to := range n.to {
			m := Message{
				Body:      body,
				MessageID: deriveID(runIDs[i], nil, n.Addr(), to),
				RunID:     runIDs[i],
				Source:    n.Addr(),
				Attempt:   1,
			}
			conf, err := ch.Publish(ctx, c.g.WorkExchange, to, m)
			if err != nil {
				pubErr = err
				failed[i] = err
				break publish
			}
			confs <- pending{i, conf}
		}
	}
	close(confs)
	<-waited
	var nfail int
	var first error
	for i, id := range runIDs {
		if id == "" {
			continue
		}
		if failed[i] != nil {
			nfail++
			if first == nil {
				first = failed[i]
			}
			continue
		}
		fmt.Fprintln(c.stdout, id)
	}
	if pubErr != nil || nfail > 0 {
		return fmt.Errorf("publish: %d of %d runs were not confirmed by the broker (the run IDs printed were): %w", len(bodies)-countOK(runIDs, failed), len(bodies), first)
	}
	return nil
}

func countOK(ids []string, failed []error) int {
	n := 0
	for i, id := range ids {
		if id != "" && failed[i] == nil {
			n++
		}
	}
	return n
}

// cmdConsume prints the results in a terminate node's queue as compact JSON
// lines and acks each one after it is written.
func (c *cli) cmdConsume(ctx context.Context, args []string) error {
	fs := c.flagSet("consume")
	limit := fs.Int("n", 0, "exit after N results (0: run until SIGINT/SIGTERM or -timeout)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: no limit); with -n, fewer than N results is an error")
	// Let flags follow the node name too: consume result -n 5.
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usageError{"consume: name one terminate node: consume <terminate> [-n N] [-timeout D]"}
	}
	if *limit < 0 || *timeout < 0 {
		return usageError{"consume: -n and -timeout must not be negative"}
	}
	n, ok := c.nodeByCommand(pos[0])
	if !ok || n.kind != KindTerminate {
		return usageError{fmt.Sprintf("consume: %q is not a terminate node of graph %q", pos[0], c.g.Name)}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	eps, err := c.endpoints()
	if err != nil {
		return err
	}
	conn, err := transport(eps, log, nil).Dial(ctx, c.connName("consume"))
	if err != nil {
		return err
	}
	defer conn.Close()
	log.Debug("connected", "endpoint", endpointName(conn))
	e := &engine{g: &c.g, log: log, vhost: eps.Vhost()}
	if err := e.verify(ctx, conn, []*nodeRun{{n: n}}); err != nil {
		return err
	}
	prefetch := n.in.Prefetch
	if prefetch <= 0 {
		prefetch = 32
	}
	if *limit > 0 && *limit < prefetch {
		prefetch = *limit
	}
	ch, err := conn.Channel(ctx, 16)
	if err != nil {
		return err
	}
	defer ch.Close()
	stream, err := ch.Consume(ctx, n.in.Queue, prefetch)
	if err != nil {
		return err
	}
	deliveries := deliveryChan(stream)
	w := bufio.NewWriter(c.stdout)
	got := 0
	for *limit == 0 || got < *limit {
		var d Delivery
		select {
		case <-ctx.Done():
			if *limit > 0 {
				return fmt.Errorf("consume: got %d of %d results from queue %q before stopping", got, *limit, n.in.Queue)
			}
			return nil
		case <-ch.Done():
			return fmt.Errorf("consume: channel to queue %q closed after %d results", n.in.Queue, got)
		case dd, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("consume: consumer of queue %q cancelled by the broker after %d results", n.in.Queue, got)
			}
			d = dd
		}
		var buf bytes.Buffer
		_, decErr := n.decodeBody(d.Body, c.g.maxBody())
		if decErr == nil {
			decErr = json.Compact(&buf, d.Body)
		}
		if decErr != nil {
			// Not a result of this node's type: park it rather than print
			// garbage or drop it.
			if err := c.parkResult(ctx, log, ch, n, d, decErr); err != nil {
				return err
			}
			continue
		}
		buf.WriteByte('\n')
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("consume: write result: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("consume: write result: %w", err)
		}
		if err := ch.Ack(d.Tag, false); err != nil {
			return fmt.Errorf("consume: ack result from queue %q: %w", n.in.Queue, err)
		}
		got++
	}
	return nil
}

func (c *cli) parkResult(ctx context.Context, log *slog.Logger, ch Channel, n Node, d Delivery, decErr error) error {
	h := map[string]any{}
	for k, v := range d.Headers {
		h[k] = v
	}
	h[HeaderReason] = "decode"
	h[HeaderError] = fmt.Sprintf("decode %s: %v", n.in.Message, decErr)
	h[HeaderNode] = n.Addr()
	m := d.Message
	m.Headers = h
	m.Attempt = d.attempt(n.in.Queue)
	log.Error("parking result that does not decode", "node", n.Addr(), "message_id", d.MessageID, "run_id", d.RunID,
		"error", decErr.Error(), "dead_queue", n.in.Queue+topology.SuffixDead)
	conf, err := ch.Publish(ctx, c.g.WorkExchange, n.in.Queue+topology.SuffixDead, m)
	if err == nil {
		err = conf.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("consume: park undecodable result in %s.dead: %w", n.in.Queue, err)
	}
	if err := ch.Ack(d.Tag, false); err != nil {
		return fmt.Errorf("consume: ack parked result: %w", err)
	}
	if c.g.OnFailure != nil {
		e := &engine{g: &c.g, log: log}
		e.onFailure(Failure{Node: n.Addr(), Queue: n.in.Queue, RunID: d.RunID, MessageID: d.MessageID, Attempt: m.Attempt,
			Reason: "decode", Error: h[HeaderError].(string), Body: preview(d.Body), BodySize: len(d.Body), ParkedAt: time.Now().UTC()})
		e.failures.Wait()
	}
	return nil
}

// cmdTopology prints the broker objects the program expects.
func (c *cli) cmdTopology(args []string) error {
	fs := c.flagSet("topology")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("topology: unexpected argument %q", fs.Arg(0))}
	}
	_, err := io.WriteString(c.stdout, Topology(c.g))
	return err
}

// Topology renders the exchanges, queues and bindings graph g expects on
// its broker (package topology's derivation, which dge plan uses too), one
// object per line, in node order. Dead-lettering is a queue argument (no
// policy can turn it off; on quorum queues at-least-once, with overflow
// reject-publish); the delays and the delivery limit are in dge's policies,
// which dge apply changes in place.
func Topology(g Graph) string {
	spec := g.spec()
	nodes := map[string]Node{}
	for _, n := range g.Nodes {
		if n.kind != KindStart {
			nodes[n.in.Queue] = n
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "# graph %q, vhost %q, %s queues\n", g.Name, g.Vhost, spec.QueueType)
	for _, x := range spec.Exchanges {
		fmt.Fprintf(tw, "exchange\t%s\tdirect, durable\n", x)
	}
	for _, q := range spec.Queues {
		var what string
		switch q.Role {
		case topology.RoleWork:
			n := nodes[q.Name]
			what = fmt.Sprintf("work queue of %s, message %s", n.Addr(), n.in.Message)
		case topology.RoleRetry:
			what = fmt.Sprintf("retry queue, ttl %s (policy)", q.TTL)
		case topology.RoleDead:
			what = "parking queue"
		case topology.RolePoll:
			what = fmt.Sprintf("poll delay queue, ttl %s (policy)", q.TTL)
		}
		if q.DeadLetterExchange != "" {
			what += fmt.Sprintf(", dead-letters to %s (argument)", q.DeadLetterExchange)
		}
		if q.DeliveryLimit > 0 {
			what += fmt.Sprintf(", delivery limit %d (policy)", q.DeliveryLimit)
		}
		if q.SingleActive {
			what += ", single active consumer"
		}
		fmt.Fprintf(tw, "queue\t%s\t%s\n", q.Name, what)
	}
	for _, bd := range spec.Bindings {
		fmt.Fprintf(tw, "binding\t%s -> %s\tkey %s\n", bd.Exchange, bd.Queue, bd.Key)
	}
	_ = tw.Flush()
	return b.String()
}
