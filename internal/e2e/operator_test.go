package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/plan"
)

// dgeRun runs the dge command on the chain graph in the env's vhost and
// returns its exit code and output (stdout and stderr).
func (e *env) dgeRun(args ...string) (int, string) {
	e.t.Helper()
	args = append(args, "-var", "vhost="+e.vh.Name, filepath.Join(repoRoot(e.t), chainDir))
	cmd := exec.Command(build(e.t, "./cmd/dge"), args...)
	cmd.Env = append(os.Environ(), "DGE_MANAGEMENT_URL="+e.vh.ManagementURL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		e.t.Fatalf("dge %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// putOperatorPolicy writes (or rewrites) an operator policy in the env's
// vhost.
func (e *env) putOperatorPolicy(name, pattern string, def map[string]any) {
	e.t.Helper()
	res, err := e.vh.Client.PutOperatorPolicy(e.vh.Name, name, rabbithole.OperatorPolicy{
		Pattern: pattern, ApplyTo: "queues", Definition: def,
	})
	if err != nil {
		e.t.Fatalf("put operator policy %s: %v", name, err)
	}
	res.Body.Close()
}

// TestChainOperatorPolicy: a hosted broker's operator policy on ".*" with
// each of the four settings that lose dge's messages makes dge plan exit 1
// and dge status -check exit 2, both naming it; with message-ttl, runs
// waiting with no consumer are stranded in a dead-letter buffer, which
// status shows and -check fails on. Once the policy's pattern excludes the
// graph's queues (plan.ExcludePattern, the pattern plan prints), plan is
// clean and every run goes through. Size: DGE_CHAOS_OPERATOR_RUNS (default
// 200).
func TestChainOperatorPolicy(t *testing.T) {
	runs := chaosInt(t, "DGE_CHAOS_OPERATOR_RUNS", 200)
	e := newAppliedEnv(t, chainDir, chainPkg)
	const name = "hosted-cap"
	caps := []map[string]any{
		{"message-ttl": 2000}, {"max-length": 3}, {"expires": 60000}, {"delivery-limit": 1},
	}
	flagged := 0
	for _, def := range caps {
		e.putOperatorPolicy(name, ".*", def)
		code, out := e.dgeRun("plan", "-detailed-exitcode", "-no-color")
		if code != 1 || !strings.Contains(out, fmt.Sprintf("Operator policy %q", name)) {
			t.Fatalf("plan with operator policy %v: exit %d, want 1 naming it:\n%s", def, code, out)
		}
		code, out = e.dgeRun("status", "-check", "-no-color")
		if code != 2 || !strings.Contains(out, fmt.Sprintf("Operator policy %q", name)) {
			t.Fatalf("status -check with operator policy %v: exit %d, want 2 naming it:\n%s", def, code, out)
		}
		flagged++
	}

	// The fix plan prints: the same caps on every queue but dge's.
	g, diags := config.NewLoader().Load(filepath.Join(repoRoot(t), chainDir), config.Options{Env: []string{"DGE_VAR_vhost=" + e.vh.Name}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	e.putOperatorPolicy(name, plan.ExcludePattern(plan.Desired(g), ".*"),
		map[string]any{"message-ttl": 2000, "max-length": 3, "expires": 60000, "delivery-limit": 1})
	if code, out := e.dgeRun("plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Fatalf("plan with dge's queues excluded: exit %d, want 0:\n%s", code, out)
	}
	for _, n := range []string{"double", "split", "increment", "square"} {
		e.start(n, n)
	}
	left, right := e.consume("left"), e.consume("right")
	wantLeft, wantRight := map[int64]bool{}, map[int64]bool{}
	var values []int64
	for v := int64(1); v <= int64(runs); v++ {
		values = append(values, v)
		wantLeft[2*v+1], wantRight[4*v*v] = true, true
	}
	e.run("publish", inputs(values), "publish", "start")
	dups := collect(t, left, wantLeft, nil) + collect(t, right, wantRight, nil)
	if code, out := e.dgeRun("status", "-check", "-no-color"); code != 0 {
		t.Fatalf("status -check after the runs, dge's queues excluded: exit %d, want 0:\n%s", code, out)
	}
	left.p.kill()
	right.p.kill()
	stranded := e.strandRuns(name, 5)
	line := fmt.Sprintf("chaos: operator-policy caps=%d flagged=%d runs=%d lost=0 duplicates=%d stranded-under-message-ttl=%d",
		len(caps), flagged, runs, dups, stranded)
	t.Log(line)
	fmt.Println(line)
}

// strandRuns puts a message-ttl operator policy back on every queue and
// publishes n results into the terminate queue right, whose reader has
// stopped: each expires, goes round right → right.retry → right until
// RabbitMQ detects the dead-letter cycle and holds it in a dead-letter
// buffer. It waits until dge status shows them stranded and -check exits
// 2 saying so, and returns how many status counted.
func (e *env) strandRuns(name string, n int) int64 {
	e.t.Helper()
	e.putOperatorPolicy(name, ".*", map[string]any{"message-ttl": 1000})
	ch, err := e.conn.Channel()
	if err != nil {
		e.t.Fatal(err)
	}
	defer ch.Close()
	for i := 0; i < n; i++ {
		err := ch.PublishWithContext(e.t.Context(), "", "right", false, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent, ContentType: "application/json", Body: []byte(`{"value": 1}`)})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		code, out := e.dgeRun("status", "-check", "-json")
		var r struct {
			Edges []struct {
				Stranded int64 `json:"stranded"`
			} `json:"edges"`
			Problems []string `json:"problems"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			e.t.Fatalf("status -json: %v\n%s", err, out)
		}
		var stranded int64
		for _, row := range r.Edges {
			stranded += row.Stranded
		}
		if stranded > 0 {
			if code != 2 || !strings.Contains(strings.Join(r.Problems, "\n"), "dead-letter buffer") {
				e.t.Fatalf("status -check with %d stranded: exit %d, problems %q", stranded, code, r.Problems)
			}
			return stranded
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no message stranded after 90 s of message-ttl 1000 on a queue without reader:\n%s", out)
		}
		time.Sleep(time.Second)
	}
}
