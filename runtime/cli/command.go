package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dgehq/dge/internal/redact"
	dge "github.com/dgehq/dge/runtime"
	"go.opentelemetry.io/otel/trace"
)

// defaultAMQPURL is the broker URL used when DGE_AMQP_URL is unset; the
// path "/" leaves the vhost to -vhost, DGE_VHOST or the graph.
const defaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"

// commandLine is one run of a generated program's command line: the
// process's arguments, environment and I/O, and the in-memory broker and
// the tracing that Run sets up.
type commandLine struct {
	Args           []string            // the arguments after the program's name
	Getenv         func(string) string // the environment (os.Getenv)
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Local returns the broker the local subcommand runs g on.
	Local func(g dge.Graph) dge.LocalBroker
	// StartTracing sets up tracing as the environment (getenv) asks, for
	// program prog of graph graph, with stderr for the lines it writes. It
	// returns the tracer provider (nil: tracing off) and stop, which
	// flushes the last spans; an error is a usage error. Nil: tracing off.
	StartTracing func(ctx context.Context, prog, graph string, getenv func(string) string, stderr io.Writer) (tp trace.TracerProvider, stop func(), err error)
}

// cli is one invocation of a generated program.
type cli struct {
	g      dge.Graph
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	prog   string
	// tp traces the program's messages (see CommandLine.StartTracing);
	// nil: tracing is off.
	tp trace.TracerProvider
	// local returns the broker the local subcommand runs the graph on.
	local func(dge.Graph) dge.LocalBroker
}

// Run runs the subcommand named by cl.Args with graph g until it ends or
// ctx is cancelled (as SIGINT and SIGTERM do), and returns the exit code:
// 0, 1 for a failure, 2 for a usage error.
func (cl commandLine) run(ctx context.Context, g dge.Graph) int {
	args, getenv, stdin, stdout := cl.Args, cl.Getenv, cl.Stdin, cl.Stdout
	// Whatever reaches stderr (logs, errors, flag messages) passes a scrub
	// of the broker URLs' passwords, the last guard behind the redaction
	// each message does itself.
	stderr := redact.Writer(cl.Stderr, getenv(amqpURLEnv))
	c := &cli{g: g, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, prog: g.Name, local: cl.Local}
	if c.prog == "" {
		c.prog = "dge-graph"
	}
	if err := c.g.Check(); err != nil {
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
	if cl.StartTracing != nil {
		tp, stopTracing, err := cl.StartTracing(ctx, c.prog, c.g.Name, getenv, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", c.prog, err)
			return 2
		}
		defer stopTracing()
		c.tp = tp
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
		n, ok := c.g.Node(cmd)
		if !ok {
			fmt.Fprintf(stderr, "%s: unknown command %q\n\n", c.prog, cmd)
			c.usage(stderr)
			return 2
		}
		if !n.Consumes() {
			fmt.Fprintf(stderr, "%s: %s does not run as a process: use \"%s %s %s\"\n", c.prog, n.Addr(), c.prog,
				map[dge.Kind]string{dge.KindStart: "publish", dge.KindTerminate: "consume"}[n.Kind()], n.Command())
			return 2
		}
		err = c.cmdNodes(ctx, cmd, rest, []dge.Node{n})
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

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s <command> [flags] [args]\n\n", c.prog)
	fmt.Fprintf(w, "Runs graph %q", c.g.Name)
	if c.g.Source != "" {
		fmt.Fprintf(w, " (%s)", c.g.Source)
	}
	fmt.Fprintf(w, " on RabbitMQ vhost %s.\n\nNodes (each runs until SIGINT or SIGTERM):\n", c.vhostFor("").Describe(c.g.Vhost))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, n := range c.g.Nodes {
		if n.Consumes() {
			fmt.Fprintf(tw, "  %s\t%s, consumes queue %s\n", n.Command(), n.Addr(), n.Edge().Queue)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nOther commands:\n")
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  all [-nodes a,b]\truns several nodes (default: all) in one process, on one connection\n")
	fmt.Fprintf(tw, "  local [-timeout D] [-start NAME] [-envelope]\truns the whole graph in this process on an in-memory broker (no RabbitMQ):\n")
	fmt.Fprintf(tw, "  \tinputs are stdin JSON lines, results print as JSON lines\n")
	fmt.Fprintf(tw, "  publish <start> [JSON...]\tpublishes each argument (or each stdin line) as a new run; prints run IDs\n")
	fmt.Fprintf(tw, "  consume <terminate> [-n N] [-timeout D] [-envelope]\tprints results as JSON lines and acks them\n")
	fmt.Fprintf(tw, "  topology\tprints the exchanges, queues and bindings the program expects\n")
	_ = tw.Flush()
	var starts, ends []string
	for _, n := range c.g.Nodes {
		switch n.Kind() {
		case dge.KindStart:
			starts = append(starts, n.Command())
		case dge.KindTerminate:
			ends = append(ends, n.Command())
		}
	}
	fmt.Fprintf(w, "\nStart nodes: %s\nTerminate nodes: %s\n", strings.Join(starts, ", "), strings.Join(ends, ", "))
	fmt.Fprintf(w, "\nNode flags: -prefetch N, -concurrency N, -metrics-addr HOST:PORT (/metrics, /healthz, /readyz), -shutdown-timeout D\n")
	fmt.Fprintf(w, "Flag of the commands that connect: -vhost NAME (the vhost; overrides DGE_VHOST, DGE_AMQP_URL's path and the graph's)\n")
	fmt.Fprintf(w, "Environment: DGE_AMQP_URL (default %s + vhost; several URLs separated by commas for a cluster;\n  amqps:// with cacertfile, certfile and keyfile query parameters for TLS),\n  DGE_VHOST (the vhost; overrides DGE_AMQP_URL's path and the graph's),\n  DGE_LOG (debug, info, warn, error), DGE_CONNECTION_NAME (the AMQP connection's name),\n  OTEL_TRACES_EXPORTER (otlp, console: JSON spans on stderr, none) with the other OTEL_* variables\n", defaultAMQPURL)
	fmt.Fprintf(w, "Run \"%s <command> -h\" for a command's flags.\n", c.prog)
}

// amqpURLEnv names the variable that holds the broker's URLs.
const amqpURLEnv = "DGE_AMQP_URL"

// endpoints returns the broker URLs from DGE_AMQP_URL (or the default),
// each with the vhost that chooseVhost picks from flagVhost (the -vhost
// flag, "" when not given), DGE_VHOST, the URLs' path and the graph, and
// that choice. Its error is a configuration or usage error.
func (c *cli) endpoints(flagVhost string) (*dge.Endpoints, vhostChoice, error) {
	u, from := c.getenv(amqpURLEnv), amqpURLEnv
	if u == "" {
		u, from = defaultAMQPURL, "the default broker URL"
	}
	eps, err := dge.ParseEndpoints(u, c.g.Vhost, from)
	if err != nil {
		return nil, vhostChoice{}, err
	}
	path, named := eps.NamedVhost()
	choice, err := c.vhost(flagVhost, path, named)
	if err != nil {
		return nil, vhostChoice{}, err
	}
	if choice.Vhost != eps.Vhost() {
		eps = eps.WithVhost(choice.Vhost)
	}
	return eps, choice, nil
}

// vhostFor is the vhost endpoints chooses for flagVhost, for the commands
// and help texts that do not connect: a DGE_AMQP_URL or DGE_VHOST that is
// not valid is left out, as the commands that connect report it.
func (c *cli) vhostFor(flagVhost string) vhostChoice {
	if _, choice, err := c.endpoints(flagVhost); err == nil {
		return choice
	}
	if choice, err := c.vhost(flagVhost, "", false); err == nil {
		return choice
	}
	return chooseVhost(flagVhost, "", "", false, c.g.Vhost)
}

// logHandler is the runtime's JSON log handler on stderr at DGE_LOG's
// level (info by default), adding a handler call's attributes to the lines
// logged with its context (see contextHandler).
func (c *cli) logHandler() (slog.Handler, error) {
	var level slog.Level
	if s := c.getenv("DGE_LOG"); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			return nil, usageError{fmt.Sprintf("DGE_LOG=%q: want debug, info, warn or error", s)}
		}
	}
	return dge.NewLogHandler(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: level})), nil
}

// logger is the program's logger: logHandler with the graph's name.
func (c *cli) logger() (*slog.Logger, error) {
	h, err := c.logHandler()
	if err != nil {
		return nil, err
	}
	return slog.New(h).With("graph", c.g.Name), nil
}

// useAsDefault makes log the logger handlers get from slog.Default (and the
// log package's output) until the returned function restores the previous
// one.
func useAsDefault(log *slog.Logger) (restore func()) {
	prev := slog.Default()
	slog.SetDefault(log)
	return func() { slog.SetDefault(prev) }
}

// connect returns the program's logger, the broker's endpoints and the
// graph as it is on them: with the vhost chosen from flagVhost (the -vhost
// flag, "" when not given), DGE_VHOST, DGE_AMQP_URL's path and the graph
// (see chooseVhost). It logs the settings that named another vhost as
// warnings, and the choice at level (info for the nodes, which log once
// as they start; debug for the short commands).
func (c *cli) connect(flagVhost string, level slog.Level) (*slog.Logger, *dge.Endpoints, dge.Graph, error) {
	log, err := c.logger()
	if err != nil {
		return nil, nil, dge.Graph{}, err
	}
	eps, choice, err := c.endpoints(flagVhost)
	if err != nil {
		return nil, nil, dge.Graph{}, err
	}
	for _, w := range choice.Overridden {
		log.Warn(w)
	}
	log.Log(context.Background(), level, "using vhost", "vhost", choice.Vhost, "from", choice.From)
	g := c.g
	g.Vhost = choice.Vhost
	return log, eps, g, nil
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
	vhost                 string // -vhost, which flagSet registers
	prefetch, concurrency int
	metricsAddr           string
	shutdownTimeout       time.Duration
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.prefetch, "prefetch", 0, "unacknowledged deliveries per node, a fixed window (default: the edge's prefetch, else adaptive)")
	fs.IntVar(&f.concurrency, "concurrency", 0, "handler calls in flight per node (default: the edge's concurrency)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics and the probes /healthz (200 while the process runs) and /readyz (200 while connected with the topology verified and every node consuming; 503 with the reason otherwise, and once stopping)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight messages may take to finish after SIGTERM")
}

// flagSet returns the flag set of subcommand name. Its -h prints
// "Usage: <prog> <synopsis>", about, the flags (when there are any) and,
// when broker is set, the environment that names the broker and the vhost
// the command will use, and why. When broker is set, it has the flag
// -vhost (see flagVhost).
func (c *cli) flagSet(name, synopsis, about string, broker bool) *flag.FlagSet {
	fs := flag.NewFlagSet(c.prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if broker {
		vhostFlag(fs)
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", c.prog, synopsis, strings.TrimSpace(about))
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
		if broker {
			fmt.Fprintf(w, "\n%s\nVhost: %s\n", c.brokerEnvHelp(), c.vhostFor(flagVhost(fs)).Describe(c.g.Vhost))
		}
	}
	return fs
}

// flagVhost returns the value of fs's -vhost flag, "" when it has none or
// it was not given.
func flagVhost(fs *flag.FlagSet) string {
	if f := fs.Lookup("vhost"); f != nil {
		return f.Value.String()
	}
	return ""
}

// brokerEnvHelp describes the environment of the commands that connect to
// the broker.
func (c *cli) brokerEnvHelp() string {
	return fmt.Sprintf(`Environment:
  DGE_AMQP_URL         the broker: amqp://user:password@host:5672/vhost; default %s.
                       Several URLs separated by commas for a cluster. TLS: amqps://...:5671
                       with the query parameters cacertfile, certfile and keyfile (PEM files)
  DGE_VHOST            the vhost, e.g. prod or / (no escaping)
  DGE_LOG              debug, info (default), warn or error
  DGE_CONNECTION_NAME  the AMQP connection's name, shown by the broker
The vhost is the first of: -vhost, DGE_VHOST, DGE_AMQP_URL's path (%%2F is "/"),
the graph's vhost (%q). When two of the first three differ, the first wins, with a warning.
`, defaultAMQPURL, c.g.Vhost)
}

// nodeNames lists the subcommand names of the graph's nodes of kind k.
func (c *cli) nodeNames(k dge.Kind) string {
	var names []string
	for _, n := range c.g.Nodes {
		if n.Kind() == k {
			names = append(names, n.Command())
		}
	}
	return strings.Join(names, ", ")
}

// readInputs reads the start node's inputs for local from stdin and checks
// every one before anything runs.
func (c *cli) readInputs(n dge.Node) ([][]byte, error) {
	bodies, err := c.readStdinMessages("local", n, "nothing was run")
	if err != nil {
		return nil, err
	}
	if len(bodies) == 0 {
		return nil, usageError{fmt.Sprintf(`local: no input: give %s messages as JSON lines on stdin, e.g. echo '{...}' | %s local`, n.Addr(), c.prog)}
	}
	return bodies, nil
}

// readStdinMessages reads one JSON message per stdin line (blank lines
// skipped) and checks each against the start node n's message type. cmd and
// consequence name the command and what a bad line prevents, for errors.
func (c *cli) readStdinMessages(cmd string, n dge.Node, consequence string) ([][]byte, error) {
	var bodies [][]byte
	sc := bufio.NewScanner(c.stdin)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		s := bytes.TrimSpace(sc.Bytes())
		if len(s) == 0 {
			continue
		}
		if err := notJSON(s, false); err != nil {
			return nil, fmt.Errorf("%s: stdin line %d is not a valid %s message: %v (%s)", cmd, line, n.Addr(), err, consequence)
		}
		b, err := c.g.CheckInput(n, s)
		if err != nil {
			return nil, fmt.Errorf("%s: stdin line %d is not a valid %s message: %v (%s)", cmd, line, n.Addr(), err, consequence)
		}
		bodies = append(bodies, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: read stdin: %w (%s)", cmd, err, consequence)
	}
	return bodies, nil
}

// parseByteSize parses a size in bytes: a whole number with an optional
// KiB, MiB or GiB suffix ("16MiB").
func parseByteSize(s string) (int, error) {
	num, mult := strings.TrimSpace(s), 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if v, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size: want a positive whole number of bytes, optionally with KiB, MiB or GiB (e.g. 16MiB)", s)
	}
	return n * mult, nil
}
