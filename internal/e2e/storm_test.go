package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// chaosInt reads a size of the fault tests from the environment (make chaos
// sets the long storm's), or returns def.
func chaosInt(t *testing.T, key string, def int) int {
	t.Helper()
	s := os.Getenv(key)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", key, s)
	}
	return n
}

// TestArithKillStorm runs examples/arith with two instances of every node
// and, once a second, publishes a batch of runs and SIGKILLs a random
// instance, restarting it at once. Every run must produce its result (lost = 0) and
// nothing may be parked: a message only held when its consumer died (in a
// prefetch window, or as an aggregate part waiting for its partner) is not
// a crash loop. Duplicates are counted and reported. Sizes:
// DGE_CHAOS_RUNS (default 1,000) and DGE_CHAOS_KILLS (default 10); make
// chaos runs 5,000 runs and 60 kills.
func TestArithKillStorm(t *testing.T) {
	runs := chaosInt(t, "DGE_CHAOS_RUNS", 1000)
	kills := chaosInt(t, "DGE_CHAOS_KILLS", 10)
	e := newEnv(t, "examples/arith", "./examples/arith/cmd/arith")
	nodes := []string{"duplicate-input", "double", "square", "multiply", "rest-call"}
	procs := map[string]*proc{}
	var names []string
	for _, n := range nodes {
		for i := 1; i <= 2; i++ {
			name := fmt.Sprintf("%s-%d", n, i)
			procs[name] = e.start(name, n)
			names = append(names, name)
		}
	}
	result := e.consume("result")
	want := map[int64]bool{}
	for v := int64(1); v <= int64(runs); v++ {
		want[2*v*v*v] = true
	}
	// One batch of runs and one SIGKILL a second, so that the storm lasts
	// as long as the runs are being published.
	batch := (runs + kills - 1) / kills
	next := int64(1)
	publish := func() {
		var values []int64
		for ; next <= int64(runs) && len(values) < batch; next++ {
			values = append(values, next)
		}
		if len(values) > 0 {
			e.run("publish", inputs(values), "publish", "start")
		}
	}
	publish()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	killed, gen := 0, 0
	seen := map[int64]bool{}
	dups := 0
	deadline := time.After(time.Duration(kills+180) * time.Second)
	for len(seen) < runs {
		select {
		case line, ok := <-result.lines:
			if !ok {
				t.Fatalf("consume ended early: %s", result.p.stderr.String())
			}
			var v int64
			if _, err := fmt.Sscanf(line, `{"value":%d}`, &v); err != nil || !want[v] {
				t.Fatalf("unexpected result %q", line)
			}
			if seen[v] {
				dups++
			}
			seen[v] = true
		case <-tick.C:
			if killed == kills {
				continue
			}
			name := names[rng.IntN(len(names))]
			procs[name].kill()
			gen++
			procs[name] = e.start(fmt.Sprintf("%s-r%d", name, gen), name[:len(name)-2])
			killed++
			publish()
		case <-deadline:
			t.Fatalf("%d of %d runs delivered after %d SIGKILLs (lost so far: %d)", len(seen), runs, killed, runs-len(seen))
		}
	}
	parked := 0
	queues := []string{"input.dead", "input_copy_1.dead", "input_copy_2.dead", "multiply.dead", "rest_call.dead", "result.dead"}
	for _, q := range queues {
		parked += e.queueCount(q)
	}
	slices.Sort(queues)
	line := fmt.Sprintf("chaos: sigkill-storm runs=%d kills=%d lost=%d duplicates=%d parked=%d", runs, killed, runs-len(seen), dups, parked)
	t.Log(line)
	fmt.Println(line)
	if parked != 0 {
		t.Errorf("%d messages parked in %v after the storm, want 0", parked, queues)
	}
}
