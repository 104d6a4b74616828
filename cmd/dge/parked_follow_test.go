package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dgehq/dge/internal/brokertest"
)

// TestParkedRedriveBringsBackMemberFailedCLI does what the user
// did: testdata/e2e/diamond (fan_out → double, increment, square →
// aggregate join) applied by dge, its program running; input -1 fails
// permanently at double, so the join parks the run's two other parts as
// member-failed. Once the fix is deployed (double restarted with
// CHAIN_FIXED), one `dge parked redrive -node process.double` brings back
// the failed input and, first, the two parts, and the run completes:
// double(-1) + increment(-1) + square(-1) = -2 + 0 + 1 = -1. Without the
// followers, the parts stay parked and consume times out.
func TestParkedRedriveBringsBackMemberFailedCLI(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "diamond")
	build := exec.Command("go", "build", "-o", bin, "./testdata/e2e/diamond/cmd/diamond")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the diamond program: %v\n%s", err, out)
	}
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	graph := filepath.Join(root, "testdata/e2e/diamond")
	vars := []string{"-var", "vhost=" + vh.Name}
	if code, _, errs := runIn(t, environ, append(append([]string{"apply", "-auto-approve"}, vars...), graph)...); code != 0 {
		t.Fatalf("apply diamond: exit %d: %s", code, errs)
	}
	var logs lockedBuffer // the programs' stderr, shared
	start := func(extra []string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL, "DGE_LOG=warn"), extra...)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("program logs:\n%s", logs.String())
		}
	})
	// The join keeps running throughout: it remembers the failed run.
	start(nil, "all", "-nodes", "split,increment,square,join")
	double := start(nil, "double")
	pub := exec.Command(bin, "publish", "start", `{"value": -1}`)
	pub.Env = append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL)
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	conn := vh.Dial(t)
	waitReady(t, conn, "a_in.dead", 1)
	waitReady(t, conn, "join.dead", 2)
	code, out, errs := runIn(t, environ, append(append([]string{"parked", "list", "-json"}, vars...), graph)...)
	if code != 0 || strings.Count(out, `"reason":"member-failed"`) != 2 || strings.Count(out, `"reason":"permanent"`) != 1 {
		t.Fatalf("parked list: exit %d, want the failed input and 2 member-failed parts\n%s\n%s", code, out, errs)
	}

	// The fix is deployed.
	_ = double.Process.Kill()
	_ = double.Wait()
	start([]string{"CHAIN_FIXED=1"}, "double")

	code, out, errs = runIn(t, environ, append(append([]string{"parked", "redrive", "-auto-approve"}, vars...), "-node", "process.double", graph)...)
	if code != 0 {
		t.Fatalf("redrive: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"dge will redrive 1 message:",
		"and first, so that their runs can join again, 2 messages parked member-failed at the joins downstream:",
		"aggregate.join",
		"Redrove 3 messages (2 of them member-failed parts of their runs) in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("redrive output lacks %q:\n%s", want, out)
		}
	}
	consume := exec.Command(bin, "consume", "result", "-n", "1", "-timeout", "60s")
	consume.Env = append(os.Environ(), "DGE_AMQP_URL="+vh.AMQPURL)
	res, err := consume.Output()
	if err != nil {
		t.Fatalf("consume result: %v\n%s", err, res)
	}
	var got struct{ Value int64 }
	if err := json.Unmarshal(bytes.TrimSpace(res), &got); err != nil || got.Value != -1 {
		t.Fatalf("result %q, want {\"value\": -1}", res)
	}
	if n := readyCount(t, conn, "join.dead") + readyCount(t, conn, "a_in.dead"); n != 0 {
		t.Errorf("%d messages still parked after the run completed, want 0", n)
	}
}

// lockedBuffer is a bytes.Buffer several processes' output goroutines
// write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
