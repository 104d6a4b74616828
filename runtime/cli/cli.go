package cli

import (
	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/memory"
)

// Main is the whole command line of a generated program: it runs the
// subcommand named by args (os.Args[1:]) and returns the exit code. Output
// goes to os.Stdout, logs (JSON, level from DGE_LOG) and errors to
// os.Stderr. SIGINT and SIGTERM stop it gracefully. The local subcommand
// runs the graph on package memory's broker.
func Main(g dge.Graph, args []string) int {
	return dge.Main(g, args, localBroker)
}

// localBroker is the broker of the local subcommand: package memory's,
// with the graph's own retry delays and poll intervals.
func localBroker(g dge.Graph) dge.LocalBroker {
	return memory.New(g, memory.Options{})
}
