package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/diagram"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/internal/status"
	"github.com/dgehq/dge/plan"
)

// fixedStatus is examples/arith with a backlog: double stopped with work
// waiting, a message retrying at square, one parked at multiply, an
// operator's policy governing two of rest_call's queues (which plan
// reports as an error; a warning changes nothing) and two messages
// stranded in result.retry's dead-letter buffer.
func fixedStatus(t *testing.T) *status.Report {
	t.Helper()
	g, diags := config.NewLoader().Load(arithDir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", arithDir, diags)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	util := func(f float64) *float64 { return &f }
	queues := []mgmt.QueueStatus{
		{Name: "input", Consumers: 1, ConsumerUtilisation: util(1), PublishRate: 2.4, DeliverRate: 2.4, Policy: "dge.arith.work"},
		{Name: "input.retry"}, {Name: "input.dead"},
		{Name: "input_copy_1", Messages: 7, Ready: 7, ConsumerUtilisation: util(0), PublishRate: 2.4,
			HeadMessageTimestamp: now.Add(-95 * time.Second)},
		{Name: "input_copy_1.retry"}, {Name: "input_copy_1.dead"},
		{Name: "input_copy_2", Messages: 1, Unacknowledged: 1, Consumers: 2, ConsumerUtilisation: util(0.5), PublishRate: 2.4, DeliverRate: 2.6},
		{Name: "input_copy_2.retry", Messages: 1}, {Name: "input_copy_2.dead"},
		{Name: "multiply", Messages: 3, Unacknowledged: 3, Consumers: 1, ConsumerUtilisation: util(1), PublishRate: 2.4, DeliverRate: 2.4},
		{Name: "multiply.retry"}, {Name: "multiply.dead", Messages: 1},
		{Name: "rest_call", Consumers: 1, ConsumerUtilisation: util(1), Policy: "ops-limit"},
		{Name: "rest_call.retry", Policy: "dge.arith.retry.5s"}, {Name: "rest_call.dead"},
		{Name: "rest_call.poll", Messages: 2, Policy: "ops-limit"},
		{Name: "result", Messages: 4, Ready: 4, PublishRate: 0.2},
		{Name: "result.retry", Messages: 2, DeadLetterBuffered: 2, OperatorPolicy: "hosted-cap"}, {Name: "result.dead", OperatorPolicy: "hosted-cap"},
	}
	policies := []plan.Diagnostic{
		{Severity: plan.SeverityError, Summary: `Policy "ops-limit" (priority 200) overrides dge's policies on 2 queues`, Policy: "ops-limit"},
		{Severity: plan.SeverityWarning, Summary: `Policy "unsure" (priority 200) may override dge's policies: dge cannot evaluate its pattern`, Policy: "unsure"},
	}
	r := status.Build(g, queues, policies, now)
	r.Endpoint = "http://127.0.0.1:15672"
	return r
}

// TestStatusGolden: the table, the summary and the problems of a fixed set
// of queue statistics, and the same as JSON, without a broker.
func TestStatusGolden(t *testing.T) {
	r := fixedStatus(t)
	var text, js bytes.Buffer
	if err := renderStatus(&text, r, false); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status/arith.txt", text.Bytes())
	if err := writeStatusJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status/arith.json", js.Bytes())
}

// TestGraphStatusGolden: graph -status draws the rows status reads; the
// fixed rows drawn as dot and mermaid.
func TestGraphStatusGolden(t *testing.T) {
	g, diags := config.NewLoader().Load(arithDir, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := fixedStatus(t).Diagram()
	checkGolden(t, "status/arith.dot", diagram.DotStatus(g, s))
	checkGolden(t, "status/arith.mmd", diagram.MermaidStatus(g, s))
}

// statusJSON runs status -json and decodes it.
func statusJSON(t *testing.T, environ []string, dir string) (status.Report, int) {
	t.Helper()
	code, out, errs := runIn(t, environ, "status", "-json", dir)
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status -json: exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
	return r, code
}

// edgeCounts is what the integration test compares of a row.
type edgeCounts struct {
	Ready, Unacked, Consumers, Retrying, Parked int64
}

func (c edgeCounts) String() string {
	return fmt.Sprintf("ready %d, unacked %d, consumers %d, retrying %d, parked %d", c.Ready, c.Unacked, c.Consumers, c.Retrying, c.Parked)
}

// waitStatus polls status -json until the rows of process.a and
// terminate.out read want (the management API's statistics lag about 5 s),
// and returns the last report.
func waitStatus(t *testing.T, environ []string, dir string, want map[string]edgeCounts, also func(status.Report) bool) status.Report {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _ := statusJSON(t, environ, dir)
		got := map[string]edgeCounts{}
		for _, e := range r.Edges {
			got[e.Node] = edgeCounts{e.Ready, e.Unacked, e.Consumers, e.Retrying, e.Parked}
		}
		ok := also == nil || also(r)
		for node, w := range want {
			ok = ok && got[node] == w
		}
		if ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after 30 s: %v; want %v", got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func publishTo(t *testing.T, ch *amqp.Channel, queue string, n int) {
	t.Helper()
	for range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", queue, true, false,
			amqp.Publishing{Body: []byte(`{}`), DeliveryMode: amqp.Persistent, Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("publish to %s: confirmed %v, %v", queue, ok, err)
		}
	}
}

// TestStatusCLI drives status on the real broker through each state -check
// tells apart: a clean graph (0), a parked message (2), messages with no
// consumer (2), the same messages taken by a consumer (0), a foreign policy
// (2), each row and its -json against the queues' real counts.
func TestStatusCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
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
	zero := map[string]edgeCounts{"process.a": {}, "terminate.out": {}}

	t.Run("clean", func(t *testing.T) {
		r := waitStatus(t, environ, dir, zero, nil)
		if r.FormatVersion != "1" || r.Graph != "c" || r.Vhost != vh.Name || len(r.Edges) != 2 ||
			r.Edges[0].Node != "process.a" || r.Edges[0].Queue != "a_in" || r.Edges[1].Node != "terminate.out" || !r.Healthy {
			t.Errorf("status -json of a clean graph: %+v", r)
		}
		code, out, errs := runIn(t, environ, "status", "-check", dir)
		if code != 0 || !strings.Contains(out, "Healthy:") || errs != "" {
			t.Errorf("status -check of a clean graph: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("status coloured output that is not a terminal:\n%q", out)
		}

		// -watch redraws until the command's context ends (SIGINT), then
		// exits 0.
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		var wout, werr strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: &wout, stderr: &werr, environ: environ}
		code = e.dispatch(ctx, []string{"status", "-watch", "200ms", dir})
		if n := strings.Count(wout.String(), "Graph c, vhost"); code != 0 || n < 3 || werr.String() != "" {
			t.Errorf("status -watch 200ms for 1.5 s: exit %d, %d tables, stderr %q; want 0 and at least 3", code, n, werr.String())
		}
	})

	t.Run("parked", func(t *testing.T) {
		publishTo(t, ch, "a_in.dead", 1)
		waitStatus(t, environ, dir, map[string]edgeCounts{"process.a": {Parked: 1}, "terminate.out": {}}, nil)
		code, out, _ := runIn(t, environ, "status", "-check", dir)
		if code != exitUnhealthy || !strings.Contains(out, "process.a: 1 message parked in a_in.dead") {
			t.Errorf("status -check with a parked message: exit %d, want 2\n%s", code, out)
		}
		if _, err := ch.QueuePurge("a_in.dead", false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no consumer", func(t *testing.T) {
		publishTo(t, ch, "a_in", 2)
		publishTo(t, ch, "out", 3) // results waiting on a terminate edge are not a problem
		want := map[string]edgeCounts{"process.a": {Ready: 2}, "terminate.out": {Ready: 3}}
		r := waitStatus(t, environ, dir, want, func(r status.Report) bool { return r.Edges[0].OldestReadyAge != nil })
		if r.Healthy || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "process.a: 2 messages wait on a_in and nothing consumes it") {
			t.Errorf("status -json with messages and no consumer: problems %q", r.Problems)
		}
		if age := *r.Edges[0].OldestReadyAge; age < 0 || age > 60 {
			t.Errorf("oldest_ready_age_seconds = %d; want the seconds since the publish", age)
		}
		code, out, _ := runIn(t, environ, "status", "-check", dir)
		if code != exitUnhealthy || !strings.Contains(out, "nothing consumes it") {
			t.Errorf("status -check with messages and no consumer: exit %d, want 2\n%s", code, out)
		}
		row := regexpLine(t, out, "process.a")
		if f := strings.Fields(row); len(f) < 10 || f[1] != "a_in" || f[2] != "2" || f[3] != "0" || f[4] != "0" || f[8] != "0" || f[9] != "0" {
			t.Errorf("status row of process.a: %q; want a_in, 2 ready, 0 unacked, 0 consumers, 0 retrying, 0 parked", row)
		}
		code, out, errs := runIn(t, environ, "graph", "-status", "-format", "mermaid", dir)
		if code != 0 || !strings.Contains(out, `"a_in: M<br>ready 2 · retrying 0 · parked 0"`) ||
			!strings.Contains(out, `process_a["process a<br>no consumer"]`) || !strings.Contains(out, `"out: M<br>ready 3 · retrying 0 · parked 0"`) {
			t.Errorf("graph -status -format mermaid: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})

	t.Run("consumed", func(t *testing.T) {
		cch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer cch.Close()
		if _, err := cch.Consume("a_in", "status-test", false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		want := map[string]edgeCounts{"process.a": {Unacked: 2, Consumers: 1}, "terminate.out": {Ready: 3}}
		waitStatus(t, environ, dir, want, nil)
		if code, out, _ := runIn(t, environ, "status", "-check", dir); code != 0 {
			t.Errorf("status -check with the messages taken by a consumer: exit %d, want 0\n%s", code, out)
		}
	})

	t.Run("foreign policy", func(t *testing.T) {
		putPolicy(t, vh, "ops-limit", 200)
		// The policy column lags about 6 s, queue by queue: wait for all
		// three of process.a's queues.
		r := waitStatus(t, environ, dir, nil, func(r status.Report) bool { return len(r.Edges[0].ForeignPolicies) == 3 })
		want := map[string]string{"a_in": "ops-limit", "a_in.retry": "ops-limit", "a_in.dead": "ops-limit"}
		if !maps.Equal(r.Edges[0].ForeignPolicies, want) {
			t.Errorf("foreign_policies of process.a: %v; want %v", r.Edges[0].ForeignPolicies, want)
		}
		code, out, _ := runIn(t, environ, "status", "-check", dir)
		if code != exitUnhealthy || !strings.Contains(out, `Policy "ops-limit" (priority 200) overrides dge's policies on 6 queues: run dge plan`) {
			t.Errorf("status -check with a foreign policy: exit %d, want 2\n%s", code, out)
		}
	})
}

// regexpLine returns the line of out that starts with prefix.
func regexpLine(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return l
		}
	}
	t.Fatalf("no line starts with %q in:\n%s", prefix, out)
	return ""
}

// TestStatusErrorsCLI: status and graph -status exit 1 and say what to do
// when the endpoint is unreachable, the vhost is missing or the password
// is wrong, never printing the password; and a bad -watch is refused.
func TestStatusErrorsCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	mu, err := url.Parse(vh.ManagementURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	const secret = "s3cret-pw-status"
	wrong := *mu
	wrong.User = url.UserPassword(mu.User.Username(), secret)
	for _, tc := range []struct {
		name    string
		environ []string
		vhost   string
		args    []string
		want    []string
	}{
		{"unreachable", []string{"DGE_MANAGEMENT_URL=http://guest:" + secret + "@" + closed}, vh.Name, nil,
			[]string{"cannot reach the RabbitMQ management API at http://" + closed, "rabbitmq-plugins enable rabbitmq_management"}},
		{"unreachable graph", []string{"DGE_MANAGEMENT_URL=http://guest:" + secret + "@" + closed}, vh.Name, []string{"graph", "-status"},
			[]string{"dge graph: ", "cannot reach the RabbitMQ management API"}},
		{"missing vhost", []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL}, vh.Name + "-missing", nil,
			[]string{"404", "rabbitmqctl add_vhost " + vh.Name + "-missing"}},
		{"wrong password", []string{"DGE_MANAGEMENT_URL=" + wrong.String()}, vh.Name, nil,
			[]string{"401", "DGE_MANAGEMENT_PASSWORD"}},
		{"watch too short", []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL}, vh.Name, []string{"status", "-watch", "1ms"},
			[]string{"-watch 1ms is too short"}},
		{"check and watch", []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL}, vh.Name, []string{"status", "-watch", "1s", "-check"},
			[]string{"-check and -watch do not combine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := chainGraph(t, tc.vhost, "5s")
			args := tc.args
			if args == nil {
				args = []string{"status", "-check"}
			}
			code, out, errs := runIn(t, tc.environ, append(args, dir)...)
			if code != exitError || out != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
			if strings.Contains(errs, secret) {
				t.Errorf("stderr holds the password: %s", errs)
			}
		})
	}
}

// TestStatusAgreesWithPlanOnPolicies: on the same live state (the graph
// applied, every queue empty and consumed, plus one policy setup), dge
// plan fails exactly when dge status -check does, and status names every
// error plan reports.
func TestStatusAgreesWithPlanOnPolicies(t *testing.T) {
	g, diags := config.NewLoader().Load(arithDir, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := plan.Desired(g)
	catchAll := func(prio int, def map[string]any) []plan.Policy {
		return []plan.Policy{{Name: "ops", Pattern: ".*", ApplyTo: "queues", Priority: prio, Definition: def}}
	}
	for _, tc := range []struct {
		name      string
		policies  []plan.Policy
		operators []plan.Policy
	}{
		{name: "none"},
		{name: "catch-all above dge's", policies: catchAll(200, map[string]any{"max-length": float64(1000000)})},
		{name: "catch-all below dge's, harmless", policies: catchAll(50, map[string]any{"max-in-memory-length": float64(10)})},
		{name: "parking queues capped", policies: []plan.Policy{{Name: "ops", Pattern: `\.dead$`, ApplyTo: "queues", Priority: 200, Definition: map[string]any{"max-length": float64(1)}}}},
		{name: "operator message-ttl", operators: catchAll(0, map[string]any{"message-ttl": float64(2000)})},
		{name: "operator max-length", operators: catchAll(0, map[string]any{"max-length": float64(3)})},
		{name: "operator expires", operators: catchAll(0, map[string]any{"expires": float64(60000)})},
		{name: "operator delivery-limit", operators: catchAll(0, map[string]any{"delivery-limit": float64(1)})},
		{name: "operator memory limit", operators: catchAll(0, map[string]any{"max-in-memory-length": float64(1)})},
		{name: "operator excluding dge's queues", operators: catchAll(0, map[string]any{"max-length": float64(3)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "operator excluding dge's queues" {
				tc.operators[0].Pattern = plan.ExcludePattern(want, ".*")
			}
			snap := &plan.Snapshot{Objects: want, Stats: map[string]plan.QueueStats{}, OperatorPolicies: tc.operators}
			snap.Owner = plan.Owner{}
			snap.Policies = append(append([]plan.Policy(nil), want.Policies...), tc.policies...)
			var queues []mgmt.QueueStatus
			for _, q := range want.Queues {
				queues = append(queues, mgmt.QueueStatus{Name: q.Name, Consumers: 1})
			}
			p, err := plan.New(want, snap, plan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := status.Build(g, queues, plan.CheckPolicies(want, snap), time.Now())
			if (p.Err() != nil) == r.Healthy {
				t.Fatalf("plan error %v, status healthy %v, problems %q", p.Err(), r.Healthy, r.Problems)
			}
			for _, d := range p.Errors() {
				if !strings.Contains(strings.Join(r.Problems, "\n"), d.Summary) {
					t.Errorf("status problems %q lack plan's error %q", r.Problems, d.Summary)
				}
			}
		})
	}
}
