package runtime

import (
	"context"
	"io"
	"time"
)

// MemoryBroker is package memory's Broker as the runtime's tests use it.
type MemoryBroker interface {
	LocalBroker
	Live() int
	Queues() []string
}

// newMemory returns package memory's broker holding g's topology, with
// every retry delay and poll interval replaced when positive. It is set by
// memory_hook_test.go (package runtime_test): package memory imports the
// runtime, so package runtime cannot import it.
var newMemory func(g Graph, retryDelay, pollInterval time.Duration) MemoryBroker

// SetNewMemory sets newMemory.
func SetNewMemory(f func(g Graph, retryDelay, pollInterval time.Duration) MemoryBroker) {
	newMemory = f
}

// localMemory is the broker of the local subcommand, as package cli gives
// it.
func localMemory(g Graph) LocalBroker { return newMemory(g, 0, 0) }

// run is a generated program's command line, run in-process as package
// cli's Main runs it.
func run(ctx context.Context, g Graph, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runCLI(ctx, g, args, getenv, stdin, stdout, stderr, localMemory)
}
