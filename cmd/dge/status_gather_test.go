package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/status"
)

const splitGraphDir = "../../testdata/graphs/split"

// fixedGatherStatus is the seed's split/gather graph with items waiting at
// the gather's edge sum and no instance consuming its state queue
// sum.state, which holds two checkpoints.
func fixedGatherStatus(t *testing.T, stateConsumers int64) *status.Report {
	t.Helper()
	g, diags := config.NewLoader().Load(splitGraphDir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", splitGraphDir, diags)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var queues []mgmt.QueueStatus
	for _, q := range []string{"numbers", "fib", "sum", "total"} {
		queues = append(queues, mgmt.QueueStatus{Name: q, Consumers: 1}, mgmt.QueueStatus{Name: q + ".retry"}, mgmt.QueueStatus{Name: q + ".dead"})
	}
	queues[6] = mgmt.QueueStatus{Name: "sum", Messages: 5, Ready: 5, PublishRate: 10}
	queues = append(queues, mgmt.QueueStatus{Name: "sum.state", Messages: 2, Unacknowledged: 2, Consumers: stateConsumers})
	r := status.Build(g, queues, nil, now)
	r.Endpoint = "http://127.0.0.1:15672"
	return r
}

// TestStatusGatherGolden: a gather's state queue is shown on a line of its
// own under the table and in its row's "state" in -json; ready items at the
// gather while nothing consumes the state queue need attention.
func TestStatusGatherGolden(t *testing.T) {
	r := fixedGatherStatus(t, 0)
	var text, js bytes.Buffer
	if err := renderStatus(&text, r, false); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status/split.txt", text.Bytes())
	if err := writeStatusJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status/split.json", js.Bytes())
	if r.Healthy || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "gather.sum: 5 messages wait on sum and no instance of the gather consumes its state queue sum.state") {
		t.Errorf("problems %q; want the one about sum.state", r.Problems)
	}

	// The same with three instances holding the state queue, one active
	// (the broker's single active consumer): the items at sum still lack
	// a consumer, as at any edge.
	r = fixedGatherStatus(t, 3)
	text.Reset()
	if err := renderStatus(&text, r, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "State of gather.sum: sum.state holds 2 checkpoints, 1 active of 3 instances.") {
		t.Errorf("status lacks the state line:\n%s", text.String())
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "gather.sum: 5 messages wait on sum and nothing consumes it") {
		t.Errorf("problems %q; want sum's missing consumer", r.Problems)
	}
	for _, e := range r.Edges {
		if (e.State != nil) != (e.Node == "gather.sum") {
			t.Errorf("row %s has state %+v; only the gather has one", e.Node, e.State)
		}
	}
}

// gatherGraphDir writes the seed's split/gather graph for vhost (classic
// queues) into a temporary folder.
func gatherGraphDir(t *testing.T, vhost string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(splitGraphDir, "graph.dge.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	body := fmt.Sprintf("%s\nbroker {\n  vhost      = %q\n  queue_type = \"classic\"\n}\n", src, vhost)
	if err := os.WriteFile(filepath.Join(dir, "graph.dge.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStatusGatherCLI: on the real broker, status shows a gather's state
// queue with its checkpoints and instances, and -check flags items waiting
// at the gather while no instance consumes its state queue, and is
// satisfied once the gather's instances consume both.
func TestStatusGatherCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := gatherGraphDir(t, vh.Name)
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	sumState := func(r status.Report) *status.State {
		for _, e := range r.Edges {
			if e.Node == "gather.sum" {
				return e.State
			}
		}
		return nil
	}

	r := waitStatus(t, environ, dir, nil, func(r status.Report) bool { return sumState(r) != nil })
	if st := sumState(r); *st != (status.State{Queue: "sum.state"}) || !r.Healthy {
		t.Errorf("status -json of the applied graph: state %+v, healthy %v; want sum.state empty, healthy", st, r.Healthy)
	}

	publishTo(t, ch, "sum.state", 1)
	publishTo(t, ch, "sum", 2)
	r = waitStatus(t, environ, dir, map[string]edgeCounts{"gather.sum": {Ready: 2}}, func(r status.Report) bool {
		st := sumState(r)
		return st != nil && st.Checkpoints == 1
	})
	code, out, _ := runIn(t, environ, "status", "-check", dir)
	if code != exitUnhealthy || !strings.Contains(out, "gather.sum: 2 messages wait on sum and no instance of the gather consumes its state queue sum.state") ||
		!strings.Contains(out, "State of gather.sum: sum.state holds 1 checkpoint, no instance consumes it.") {
		t.Errorf("status -check with items at the gather and no state consumer: exit %d, want 2\n%s", code, out)
	}

	// Three instances subscribe to the state queue (one becomes its single
	// active consumer) and the active one consumes sum.
	for i := range 3 {
		cch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer cch.Close()
		if _, err := cch.Consume("sum.state", fmt.Sprintf("state-%d", i), false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := cch.Consume("sum", "gather", false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	r = waitStatus(t, environ, dir, map[string]edgeCounts{"gather.sum": {Unacked: 2, Consumers: 1}}, func(r status.Report) bool {
		st := sumState(r)
		return st != nil && st.Consumers == 3
	})
	if st := sumState(r); st.Checkpoints != 1 || !r.Healthy {
		t.Errorf("status -json with the gather running: state %+v, problems %q; want 1 checkpoint, healthy", st, r.Problems)
	}
	code, out, _ = runIn(t, environ, "status", "-check", dir)
	if code != 0 || !strings.Contains(out, "State of gather.sum: sum.state holds 1 checkpoint, 1 active of 3 instances.") {
		t.Errorf("status -check with the gather running: exit %d, want 0\n%s", code, out)
	}
}
