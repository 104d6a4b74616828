package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/memory"
)

// Main is the whole command line of a generated program: it runs the
// subcommand named by args (os.Args[1:]) and returns the exit code. Output
// goes to os.Stdout, logs (JSON, level from DGE_LOG) and errors to
// os.Stderr. SIGINT and SIGTERM stop it gracefully.
func Main(g dge.Graph, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, g, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
}

// Run is Main in-process, for tests that drive a program's command line:
// the environment comes from getenv, and cancelling ctx stops the command
// as SIGTERM does. It returns the exit code.
func Run(ctx context.Context, g dge.Graph, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return commandLine{
		Args: args, Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Local:        localBroker,
		StartTracing: startTracing,
	}.run(ctx, g)
}

// localBroker is the broker of the local subcommand: package memory's,
// with the graph's own retry delays and poll intervals.
func localBroker(g dge.Graph) dge.LocalBroker {
	return memory.New(g, memory.Options{})
}
