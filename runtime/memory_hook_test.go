package runtime_test

import (
	"time"

	dge "github.com/dgehq/dge/runtime"
	"github.com/dgehq/dge/runtime/memory"
)

// Package memory imports the runtime, so the runtime's own tests (the
// conformance suite's memory cases, Local, the local subcommand) reach its
// broker through this hook, set before any test runs.
func init() {
	dge.SetNewMemory(func(g dge.Graph, retryDelay, pollInterval time.Duration) dge.MemoryBroker {
		return memory.New(g, memory.Options{RetryDelay: retryDelay, PollInterval: pollInterval})
	})
}
