package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/parked"
)

// waitReady polls queue until it holds n ready messages.
func waitReady(t *testing.T, conn *amqp.Connection, queue string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for readyCount(t, conn, queue) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d ready messages after 30s, want %d", queue, readyCount(t, conn, queue), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listOne runs parked list -json and returns its one message.
func listOne(t *testing.T, environ []string, args ...string) parked.Message {
	t.Helper()
	code, out, errs := runIn(t, environ, append([]string{"parked", "list", "-json"}, args...)...)
	var m parked.Message
	if code != 0 || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("parked list -json: exit %d, want one message\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	return m
}

// TestParkedRedriveGetsFullAttemptsCLI: testdata/e2e/chain applied by dge
// (quorum queues, delivery limit), its program running double; an input
// that always panics is parked after max_attempts (3); redriven, it gets
// all 3 attempts again (not one, as a copy carrying its x-death would) and
// is parked again with x-dge-redriven 1.
func TestParkedRedriveGetsFullAttemptsCLI(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "chain")
	build := exec.Command("go", "build", "-o", bin, "./testdata/e2e/chain/cmd/chain")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the chain program: %v\n%s", err, out)
	}
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	graph := filepath.Join(root, "testdata/e2e/chain")
	vars := []string{"-var", "vhost=" + vh.Name}
	if code, _, errs := runIn(t, environ, append(append([]string{"apply", "-auto-approve"}, vars...), graph)...); code != 0 {
		t.Fatalf("apply chain: exit %d: %s", code, errs)
	}
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL, "DGE_LOG=warn")
		return cmd
	}
	double := command("double")
	var logs bytes.Buffer
	double.Stderr = &logs
	if err := double.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = double.Process.Kill()
		_ = double.Wait()
		if t.Failed() {
			t.Logf("double's logs:\n%s", logs.String())
		}
	})
	pub := command("publish", "start")
	pub.Stdin = strings.NewReader("{\"value\": -2}\n")
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	conn := vh.Dial(t)
	waitReady(t, conn, "input.dead", 1)
	args := append(vars, "-node", "process.double", graph)
	first := listOne(t, environ, args...)
	if first.Attempt != 3 {
		t.Fatalf("parked first with attempt %d, want max_attempts 3: %+v", first.Attempt, first)
	}
	start := time.Now()
	code, out, errs := runIn(t, environ, append([]string{"parked", "redrive", "-auto-approve"}, args...)...)
	if code != 0 || !strings.Contains(out, "Redrove 1 message in ") {
		t.Fatalf("redrive: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	waitReady(t, conn, "input.dead", 1)
	again := listOne(t, environ, args...)
	took := time.Since(start)
	if again.Attempt != 3 || again.MessageID != first.MessageID || again.RunID != first.RunID {
		t.Fatalf("parked again as %+v; want attempt 3 and the IDs of %+v", again, first)
	}
	// Three attempts are two retry delays (300ms) apart.
	if took < 600*time.Millisecond {
		t.Fatalf("parked again %s after the redrive; 3 attempts take at least 2 retry delays (600ms)", took)
	}
	t.Logf("redriven message parked again after %d attempts, %s", again.Attempt, took.Round(time.Millisecond))
	ds := drain(t, conn, "input.dead")
	if len(ds) != 1 || fmt.Sprint(ds[0].Headers["x-dge-redriven"]) != "1" {
		t.Errorf("parked again with headers %v; want x-dge-redriven 1", ds[0].Headers)
	}
}

// TestParkedRedriveRateCLI: 2,000 parked messages redriven with -rate 1000
// all arrive (before = moved + after) at no more than the rate (+10%) and
// not far below it (a generous band: the machine is shared); the figure
// redrive prints, the pace from its first message to its last, is logged.
// DGE_REDRIVE_MESSAGES sets the count (the README's figure: 10000).
func TestParkedRedriveRateCLI(t *testing.T) {
	const rate = 1000.0
	n := 2000
	if s := os.Getenv("DGE_REDRIVE_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("DGE_REDRIVE_MESSAGES=%q: want a positive whole number", s)
		}
		n = v
	}
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	var confirms []*amqp.DeferredConfirmation
	for i := range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", "a_in.dead", true, false, amqp.Publishing{
			MessageId: fmt.Sprint(i), Body: []byte(`{}`), DeliveryMode: amqp.Persistent,
			Headers: amqp.Table{"x-dge-reason": "max-attempts", "x-dge-attempt": int64(3)},
		})
		if err != nil {
			t.Fatal(err)
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("publish: confirmed %v, %v", ok, err)
		}
	}
	waitReady(t, conn, "a_in.dead", n)
	code, out, errs := runIn(t, environ, "parked", "redrive", "-auto-approve", "-rate", fmt.Sprint(rate), dir)
	var moved0 int
	var took string
	var got float64
	if code != 0 {
		t.Fatalf("redrive: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	line := out[strings.Index(out, "Redrove"):]
	if _, err := fmt.Sscanf(line, "Redrove %d messages in %s (%f msgs/s).", &moved0, &took, &got); err != nil || moved0 != n {
		t.Fatalf("redrive: %q: %v; want Redrove %d messages in D (R msgs/s).", line, err, n)
	}
	moved, after := readyCount(t, conn, "a_in"), readyCount(t, conn, "a_in.dead")
	if moved+after != n || after != 0 {
		t.Fatalf("before %d, moved %d, after %d", n, moved, after)
	}
	t.Logf("redrove %d messages at -rate %g in %s: %.0f msgs/s", n, rate, took, got)
	if got > rate*1.1 || got < rate*0.5 {
		t.Fatalf("redrove at %.0f msgs/s with -rate %g; want within [50%%, 110%%] of it", got, rate)
	}
}
