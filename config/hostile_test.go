package config_test

import (
	"runtime"
	"testing"

	"github.com/dgehq/dge/config"
)

// TestChainedLocalsLinear checks that loading n chained locals allocates
// in proportion to n: four times the locals may allocate about four times
// the memory, not sixteen, as when the evaluation context was rebuilt with
// every local evaluated so far before each local. 20,000 locals, which
// took two minutes so, load too.
func TestChainedLocalsLinear(t *testing.T) {
	alloc := func(n int) uint64 {
		src := chainedLocals(n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g, diags := config.NewLoader().LoadSource("chain.dge.hcl", src, config.Options{})
		runtime.ReadMemStats(&after)
		if diags.HasErrors() || g == nil {
			t.Fatalf("%d locals: %v", n, diags)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(2500), alloc(10_000)
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("10,000 locals allocated %.1f times what 2,500 did (%d and %d bytes); want about 4", ratio, large, small)
	}
	alloc(20_000)
}
