package runtime_test

import (
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/cli"
	"github.com/dgehq/dge/runtime/memory"
)

// Packages memory and cli import the runtime, so the runtime's own tests
// (the conformance suite's memory cases, Local, the command line) reach
// them through these hooks, set before any test runs.
func init() {
	dge.SetRun(cli.Run)
	dge.SetNewMemory(func(g dge.Graph, retryDelay, pollInterval time.Duration) dge.MemoryBroker {
		return memory.New(g, memory.Options{RetryDelay: retryDelay, PollInterval: pollInterval})
	})
}
