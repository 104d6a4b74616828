package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
)

// newAppliedEnv is newEnv with the topology made by dge itself (plan.Desired
// and apply.Apply through the management API) rather than by declare, so
// the test sees exactly the arguments and policies a user's vhost holds.
func newAppliedEnv(t *testing.T, dir, pkg string) *env {
	t.Helper()
	bin := build(t, pkg)
	vh := brokertest.NewVhost(t)
	g, diags := config.NewLoader().Load(filepath.Join(repoRoot(t), dir), config.Options{Env: append(os.Environ(), "DGE_VAR_vhost="+vh.Name)})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", dir, diags)
	}
	cfg, err := mgmt.Resolve([]string{mgmt.URLEnv + "=" + vh.ManagementURL}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := mgmt.New(cfg, mgmt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := client.Read(t.Context(), vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(plan.Desired(g), snap, plan.Options{DgeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Apply(t.Context(), mgmt.NewApplyBroker(client), p, apply.Options{}); err != nil {
		t.Fatalf("apply %s: %v", dir, err)
	}
	return &env{t: t, vh: vh, conn: vh.Dial(t), bin: bin}
}

// putPolicy writes a policy into the env's vhost.
func (e *env) putPolicy(name, pattern string, priority int, def map[string]any) {
	e.t.Helper()
	res, err := e.vh.Client.PutPolicy(e.vh.Name, name, rabbithole.Policy{
		Pattern: pattern, ApplyTo: "queues", Priority: priority, Definition: def,
	})
	if err != nil {
		e.t.Fatalf("put policy %s: %v", name, err)
	}
	res.Body.Close()
}

// waitPolicy waits until the management API shows policy governing queue
// (its policy column lags the broker by about 5 s).
func (e *env) waitPolicy(queue, policy string) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		q, err := e.vh.Client.GetQueue(e.vh.Name, queue)
		if err != nil {
			e.t.Fatalf("read queue %s: %v", queue, err)
		}
		if q.Policy == policy {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("queue %s shows policy %q after a minute, want %q", queue, q.Policy, policy)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitCount waits until queue holds n ready messages, failing after a
// deadline with what it held.
func (e *env) waitCount(queue string, n int, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		c := e.queueCount(queue)
		if c == n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("queue %s holds %d messages after %v, want %d", queue, c, within, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChainForeignPolicyLosesNothing: an operator's catch-all policy of a
// higher priority than dge's (".*", priority 200, max-length) replaces
// dge's policies on every queue of the vhost. A message whose handler fails
// must still not vanish: the work queue's dead-lettering is a queue
// argument, so it reaches input.retry, where it waits (the retry delay is in
// dge's policy, which no longer applies). Once the policy is gone and the
// waiting messages are moved back, one is retried and processed and the
// other is parked after max_attempts, its attempts counted across the move.
func TestChainForeignPolicyLosesNothing(t *testing.T) {
	e := newAppliedEnv(t, chainDir, chainPkg)
	e.putPolicy("ops-limit", ".*", 200, map[string]any{"max-length": 1000000})
	e.waitPolicy("input", "ops-limit")
	e.waitPolicy("input.retry", "ops-limit")

	e.start("double", "double")
	e.start("split", "split")
	e.start("increment", "increment")
	left := e.consume("left")

	const failTwice = 1_000_007 // behaviour.FailTwiceFrom + 7
	e.run("publish", inputs([]int64{failTwice, -2}), "publish", "start")
	// Both fail their first attempt; without dead-lettering in the queue
	// arguments they would be dropped here.
	e.waitCount("input.retry", 2, 30*time.Second)
	time.Sleep(2 * time.Second) // well past the 300ms retry delay: they stay
	if c := e.queueCount("input.retry"); c != 2 {
		t.Fatalf("input.retry holds %d messages under the foreign policy, want the 2 failed ones waiting", c)
	}

	// The fix: the policy goes; dge's retry policy governs again. The two
	// messages were enqueued without a TTL and keep waiting, so they are
	// moved back to their work queue, headers (x-death) unchanged. At most
	// 2: once back, they fail again and return to input.retry while the
	// move may still be running.
	res, err := e.vh.Client.DeletePolicy(e.vh.Name, "ops-limit")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	e.waitPolicy("input.retry", "dge.chain.retry.300ms")
	m, err := apply.DialMover(e.vh.AMQPURL, t.Name()+" mover")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if n, err := m.Move(t.Context(), "input.retry", "input", apply.MoveOptions{Max: 2}); err != nil || n != 2 {
		t.Fatalf("move input.retry back to input: %d moved, %v", n, err)
	}

	// failTwice fails once more, waits 300ms in input.retry and succeeds;
	// -2 fails its second and third attempts and is parked.
	collect(t, left, map[int64]bool{2*failTwice + 1: true}, nil)
	dead := e.drain("input.dead", 1)
	if r, a := dead[0].Headers["x-dge-reason"], fmt.Sprint(dead[0].Headers["x-dge-attempt"]); r != "max-attempts" || a != "3" {
		t.Errorf("parked message: reason %v, attempt %s; want max-attempts after 3", r, a)
	}
	for _, q := range []string{"input", "input.retry"} {
		if c := e.queueCount(q); c != 0 {
			t.Errorf("%s holds %d messages after the failures settled, want 0", q, c)
		}
	}
}
