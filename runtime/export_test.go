package runtime

import (
	"context"
	"io"
	"time"
)

// MemoryBroker is package memory's Broker as the runtime's tests use it.
type MemoryBroker interface {
	LocalBroker
	Queues() []string
	Messages(queue string) ([]Delivery, error)
	Deliver(exchange, key string, m Message) error
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

// run is a generated program's command line, run in-process: package
// cli's Run, set by memory_hook_test.go as newMemory is.
var run func(ctx context.Context, g Graph, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int

// SetRun sets run.
func SetRun(f func(ctx context.Context, g Graph, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int) {
	run = f
}
