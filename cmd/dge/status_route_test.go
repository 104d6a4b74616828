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

// routeGraphDir holds the generator's route graph: a route with two labels
// and a default path whose paths merge into terminate.filed, and a route
// without a default inside a split.
const routeGraphDir = "../../internal/gen/testdata/route"

// routeQueues are the edge queues of the route graph.
var routeQueues = []string{"docs", "invoices", "receipts", "others", "filed", "batches", "sizes", "large", "small", "stamp", "tally", "tallies"}

// TestStatusRouteGolden: each path of a route is a row of its own, its
// node followed by the label it takes ("(otherwise)" for the default
// path), and -json gives the label as "when"; other rows have none.
func TestStatusRouteGolden(t *testing.T) {
	g, diags := config.NewLoader().Load(routeGraphDir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", routeGraphDir, diags)
	}
	var queues []mgmt.QueueStatus
	for _, q := range routeQueues {
		s := mgmt.QueueStatus{Name: q, Consumers: 1}
		if q == "others" {
			s = mgmt.QueueStatus{Name: q, Messages: 3, Ready: 3, PublishRate: 1.5}
		}
		queues = append(queues, s, mgmt.QueueStatus{Name: q + ".retry"}, mgmt.QueueStatus{Name: q + ".dead"})
	}
	queues = append(queues, mgmt.QueueStatus{Name: "tally.state", Consumers: 1})
	r := status.Build(g, queues, nil, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	r.Endpoint = "http://127.0.0.1:15672"

	var text, js bytes.Buffer
	if err := renderStatus(&text, r, false); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status/route.txt", text.Bytes())
	if err := writeStatusJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status/route.json", js.Bytes())

	for _, want := range []string{
		"\nroute.by_kind     ",
		"\nprocess.invoice (when invoice)  invoices",
		"\nprocess.other (otherwise)       others",
		"\nprocess.shrink (when large)     large",
		"\nterminate.filed                 filed",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, text.String())
		}
	}
	whens := map[string]string{}
	for _, e := range r.Edges {
		if e.When != "" {
			whens[e.Node] = e.When
		}
	}
	if fmt.Sprint(whens) != "map[process.invoice:invoice process.keep:small process.other:* process.receipt:receipt process.shrink:large]" {
		t.Errorf("rows with a when: %v", whens)
	}
	// The problem names the node alone, as dge parked's -node takes it.
	if len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0], "process.other: 3 messages wait on others and nothing consumes it") {
		t.Errorf("problems %q; want others' missing consumer, named process.other", r.Problems)
	}
}

// TestStatusRouteCLI: on the real broker, status shows each path of a
// route as its own row with its label, in text and in -json.
func TestStatusRouteCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	src, err := os.ReadFile(filepath.Join(routeGraphDir, "graph.dge.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	body := fmt.Sprintf("%s\nbroker {\n  vhost      = %q\n  queue_type = \"classic\"\n}\n", src, vh.Name)
	if err := os.WriteFile(filepath.Join(dir, "graph.dge.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
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
	publishTo(t, ch, "others", 2)
	r := waitStatus(t, environ, dir, map[string]edgeCounts{"process.other": {Ready: 2}}, nil)
	got := map[string]string{}
	for _, e := range r.Edges {
		got[e.Node] = e.When
	}
	if got["process.other"] != "*" || got["process.invoice"] != "invoice" || got["route.by_kind"] != "" || got["terminate.filed"] != "" {
		t.Errorf("status -json whens: %v", got)
	}
	code, out, _ := runIn(t, environ, "status", "-check", dir)
	if code != exitUnhealthy || !strings.Contains(out, "process.other (otherwise)") || !strings.Contains(out, "process.invoice (when invoice)") ||
		!strings.Contains(out, "process.other: 2 messages wait on others and nothing consumes it") {
		t.Errorf("status -check with messages on the default path: exit %d, want 2\n%s", code, out)
	}
}
