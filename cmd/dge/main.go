// Command dge validates, plans, applies and generates dge graphs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env bundles what a command may touch, so tests drive the real CLI in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	noColor        bool // set by a command's -no-color flag (see addNoColor)

	// json is set by a command's -json flag (see addJSON): failures and
	// diagnostics are JSON lines on stdout (see jsonui.go), not text.
	json bool
	// stream is set by the commands whose -json output is a stream of
	// lines (apply, destroy, parked list): their warnings join it too.
	stream bool
	ui     *jsonUI          // see jsonUI
	now    func() time.Time // the clock, when a test sets one (see clock)

	// onFlagSet, when set, sees every flag set newFlagSet makes: shell
	// completion reads a command's flags this way.
	onFlagSet func(*flag.FlagSet)

	// ctx is the command's context, cancelled at SIGINT or SIGTERM: loading
	// a graph stops then (see load).
	ctx context.Context

	// urlLists and passwords are the broker block's secrets, once a
	// command has read them, for scrub.
	urlLists  []string
	passwords []string
}

// command is one dge subcommand. run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// commands lists the subcommands in the order `dge help` shows them.
var commands = []command{
	{"init", "Start a project, or write the handlers a graph lacks", runInit},
	{"validate", "Check a graph: syntax, references, cycles, types", runValidate},
	{"fmt", "Rewrite *.dge.hcl files in canonical format", runFmt},
	{"graph", "Draw a graph as Graphviz dot, Mermaid or JSON", runGraph},
	{"plan", "Show what apply would change on the broker", runPlan},
	{"show", "Print a plan saved with dge plan -out", runShow},
	{"apply", "Make the broker hold the graph's topology", runApply},
	{"destroy", "Remove everything the graph owns from the broker", runDestroy},
	{"status", "Show where a running graph's messages are, per edge", runStatus},
	{"parked", "List, redrive or purge parked messages", runParked},
	{"console", "Serve a web console: the live graph, parked messages, runs", runConsole},
	{"generate", "Write the Go program that runs a graph's nodes", runGenerate},
	{"run", "Run and autoscale the graph's nodes on this machine", runRun},
	{"deploy", "Write Kubernetes (with KEDA) or Compose files that run a graph", runDeploy},
	{"version", "Print the dge version", runVersion},
	{"completion", "Print a bash or zsh completion script", runCompletion},
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: os.Environ()}
	return e.dispatch(ctx, args)
}

func (e *env) dispatch(ctx context.Context, args []string) int {
	e.ctx = ctx
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		e.usage(e.stdout)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	if args[0] == completeCommand {
		return e.runComplete(ctx, args[1:])
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "dge: unknown command %q; run \"dge help\" for the list\n", args[0])
	return 1
}

func (e *env) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: dge <command> [flags] [PATH]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run \"dge <command> -h\" for a command's flags.")
}
