package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/console"
	"github.com/dgehq/dge/internal/mgmt"
)

// consoleShutdown bounds how long dge console waits for requests in
// flight once interrupted.
const consoleShutdown = 5 * time.Second

func runConsole(ctx context.Context, e *env, args []string) int {
	fs := e.newFlagSet("console", "dge console [flags] [PATH]", `
Serve a web console for the running graph in PATH (default: the current
folder) and print the URL to open: the graph drawn with each edge's live
counts (refreshed every 3 s; click an edge for its queue's figures over the
last 10 minutes), the problems dge status -check finds, the parked messages
of each node with their bodies and headers, and run lookup with a link to
the run's trace (-trace-url).

The console listens on 127.0.0.1:8080 unless -addr says otherwise and is
read-only unless started with -allow-actions: then redrive and purge (the
operations of dge parked, each confirmed with the count it will move) need
the token in the printed URL, which the browser that opens it keeps as a
cookie; requests from other sites are refused. Stop it with Ctrl-C.

Environment: as dge status and dge parked (DGE_MANAGEMENT_URL,
DGE_MANAGEMENT_USERNAME, DGE_MANAGEMENT_PASSWORD, DGE_AMQP_URL).`)
	var vars varFlags
	vars.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen on `HOST:PORT` (0.0.0.0:8080: every interface)")
	allow := fs.Bool("allow-actions", false, "allow redrive and purge, with the token of the printed URL")
	traceURL := fs.String("trace-url", "", "link each run to its trace: a URL `TEMPLATE` with {run_id} or {trace_id}, e.g. http://localhost:16686/trace/{trace_id}")
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
		return e.fail("console", err)
	}
	dial, err := e.consoleDialer(g, cfg)
	if err != nil {
		return e.fail("console", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return e.fail("console", fmt.Errorf("listen on %s: %w; give another -addr", *addr, err))
	}
	host, _, _ := net.SplitHostPort(*addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s, err := console.New(console.Config{
		Graph: g, Management: client, Dial: dial, Addr: net.JoinHostPort(host, port),
		AllowActions: *allow, TraceURL: *traceURL, Scrub: e.scrub,
		Logger: slog.New(slog.NewTextHandler(e.stderr, nil)),
	})
	if err != nil {
		ln.Close()
		return e.fail("console", err)
	}
	defer s.Close()
	mode := "read-only (start with -allow-actions to redrive and purge)"
	if *allow {
		mode = "actions allowed: whoever opens this URL can redrive and purge"
	}
	fmt.Fprintf(e.stdout, "dge console: graph %s, vhost %q, %s\nOpen %s\n", g.Name, g.Broker.Vhost, mode, s.URL())
	return e.serveConsole(ctx, ln, s)
}

// serveConsole serves s on ln until ctx ends, then lets the requests in
// flight finish.
func (e *env) serveConsole(ctx context.Context, ln net.Listener, s *console.Server) int {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return e.fail("console", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), consoleShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return e.fail("console", err)
	}
	fmt.Fprintln(e.stdout, "dge console: stopped.")
	return exitOK
}

// consoleDialer resolves the AMQP URLs of the graph's vhost once and
// returns the function that connects to one of them, then to the others
// in turn, for each parked operation of the console.
func (e *env) consoleDialer(g *config.Graph, cfg mgmt.Config) (func() (*apply.Mover, error), error) {
	eps, from, explicit, err := e.amqpEndpoints(g.Broker, cfg, g.Broker.Vhost)
	if err != nil {
		return nil, err
	}
	fix := ""
	if !explicit {
		fix = fmt.Sprintf(" (or check the credentials of %s or the broker block, from which it was derived)", mgmt.URLEnv)
	}
	return func() (*apply.Mover, error) {
		var msgs []string
		for _, ep := range eps.Round("") {
			m, err := apply.DialMover(ep.URL, "dge "+g.Name+" console")
			if err == nil {
				return m, nil
			}
			msgs = append(msgs, ep.DialError(err).Error())
		}
		return nil, fmt.Errorf("no AMQP URL (from %s) works: %s; set %s to the broker's AMQP URL%s",
			from, strings.Join(msgs, "; "), mgmt.AMQPURLEnv, fix)
	}, nil
}
