package apply_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/amqpcount"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
)

// spec describes the small test graph: start [-> split s (queue s_in)] ->
// process a (queue a_in) [-> poll p (queue p_in)] [-> gather g over s
// (queue g_in, with its state queue g_in.state)] -> terminate out (queue
// out).
type spec struct {
	vhost     string
	queueType string
	retry     string // retry of a_in
	poll      bool
	adopt     []string
	aQueue    string      // the queue of process a; "" means a_in
	moved     [][2]string // moved blocks: from, to
	gather    bool        // split s before a, gather g over s after it
}

func (s spec) hcl() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph \"g\" {\n  handlers = \"example.com/h\"\n}\n")
	fmt.Fprintf(&b, "broker {\n  vhost = %q\n  queue_type = %q\n", s.vhost, s.queueType)
	if len(s.adopt) > 0 {
		fmt.Fprintf(&b, "  adopt = [%q]\n", strings.Join(s.adopt, `", "`))
	}
	b.WriteString("}\n")
	b.WriteString("start \"start\" {}\n")
	aQueue := s.aQueue
	if aQueue == "" {
		aQueue = "a_in"
	}
	aFrom := "start.start"
	if s.gather {
		b.WriteString("split \"s\" {\n  from = start.start\n  queue = \"s_in\"\n  message = \"L\"\n  handler = \"S\"\n}\n")
		aFrom = "split.s"
	}
	fmt.Fprintf(&b, "process \"a\" {\n  from = %s\n  queue = %q\n  message = \"M\"\n  handler = \"A\"\n  retry = %q\n}\n", aFrom, aQueue, s.retry)
	for _, m := range s.moved {
		fmt.Fprintf(&b, "moved {\n  from = %q\n  to = %q\n}\n", m[0], m[1])
	}
	from := "process.a"
	if s.poll {
		fmt.Fprintf(&b, "poll \"p\" {\n  from = process.a\n  queue = \"p_in\"\n  message = \"M\"\n  handler = \"P\"\n  retry = %q\n  interval = \"1s\"\n  timeout = \"1m\"\n}\n", s.retry)
		from = "poll.p"
	}
	if s.gather {
		fmt.Fprintf(&b, "gather \"g\" {\n  from = %s\n  over = split.s\n  queue = \"g_in\"\n  message = \"M\"\n  handler = \"G\"\n}\n", from)
		from = "gather.g"
	}
	fmt.Fprintf(&b, "terminate \"out\" {\n  from = %s\n  queue = \"out\"\n  message = \"M\"\n}\n", from)
	return b.String()
}

func (s spec) graph(t *testing.T) *config.Graph {
	t.Helper()
	path := filepath.Join(t.TempDir(), "graph.dge.hcl")
	if err := os.WriteFile(path, []byte(s.hcl()), 0o644); err != nil {
		t.Fatal(err)
	}
	g, diags := config.NewLoader().Load(path, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load test graph: %s\n%s", diags.Error(), s.hcl())
	}
	return g
}

type fixture struct {
	vh      brokertest.Vhost
	client  *mgmt.Client
	broker  apply.Broker // client, as apply drives it
	counter *amqpcount.Counter
	conn    *amqp.Connection
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	vh := brokertest.NewVhost(t)
	cfg, err := mgmt.Resolve([]string{mgmt.URLEnv + "=" + vh.ManagementURL}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := mgmt.New(cfg, mgmt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	counter, err := amqpcount.Dial(vh.AMQPURL, t.Name()+" counter")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counter.Close() })
	return &fixture{vh: vh, client: client, broker: mgmt.NewApplyBroker(client), counter: counter, conn: vh.Dial(t)}
}

// plan plans s against the live vhost.
func (f *fixture) plan(t *testing.T, s spec) (*plan.Plan, error) {
	t.Helper()
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatalf("read live state: %v", err)
	}
	return plan.New(plan.Desired(s.graph(t)), snap, plan.Options{DgeVersion: "test"})
}

func (f *fixture) mustPlan(t *testing.T, s spec) *plan.Plan {
	t.Helper()
	p, err := f.plan(t, s)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func (f *fixture) apply(t *testing.T, p *plan.Plan, allowLoss bool) (apply.Result, error) {
	t.Helper()
	return apply.Apply(t.Context(), f.broker, p, apply.Options{AllowMessageLoss: allowLoss, Counter: f.counter})
}

func (f *fixture) converge(t *testing.T, s spec) {
	t.Helper()
	if _, err := f.apply(t, f.mustPlan(t, s), false); err != nil {
		t.Fatalf("apply: %v", err)
	}
	f.assertNoChanges(t, s)
}

func (f *fixture) assertNoChanges(t *testing.T, s spec) {
	t.Helper()
	p := f.mustPlan(t, s)
	if p.HasChanges() {
		var addrs []string
		for _, c := range p.Changes {
			addrs = append(addrs, string(c.Action)+" "+c.Address)
		}
		t.Fatalf("after apply the plan still has changes: %v", addrs)
	}
}

// publish sends n messages to queue through the default exchange, with
// confirms, so they are in the queue when publish returns.
func (f *fixture) publish(t *testing.T, queue string, n int) {
	t.Helper()
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for range n {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", queue, true, false, amqp.Publishing{Body: []byte(`{}`), DeliveryMode: amqp.Persistent})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); err != nil || !ok {
			t.Fatalf("publish to %s not confirmed: %v", queue, err)
		}
	}
}

// count returns the ready messages of queue, exactly; found is false when
// the queue does not exist.
func (f *fixture) count(t *testing.T, queue string) (int64, bool) {
	t.Helper()
	n, _, found, err := f.counter.Count(t.Context(), queue)
	if err != nil {
		t.Fatal(err)
	}
	return n, found
}

func (f *fixture) queueType(t *testing.T, queue string) string {
	t.Helper()
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range snap.Queues {
		if q.Name == queue {
			return q.Type
		}
	}
	return ""
}

func TestApplyFromEmptyConverges(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", poll: true}
	p := f.mustPlan(t, s)
	add, change, destroy := p.Counts()
	// 3 exchanges; 3 edges x 3 queues + p_in.poll; 10 bindings; work, retry.5s, poll.1s policies.
	if add != 3+10+10+3 || change != 0 || destroy != 0 {
		t.Fatalf("plan from empty: %d add, %d change, %d destroy; want 26, 0, 0", add, change, destroy)
	}
	res, err := f.apply(t, p, false)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if res.Added != 26 {
		t.Errorf("apply added %d, want 26", res.Added)
	}
	f.assertNoChanges(t, s)
	// Applying the same plan again is harmless: declares are idempotent.
	if _, err := f.apply(t, p, false); err != nil {
		t.Fatalf("second apply of the same plan: %v", err)
	}
	f.assertNoChanges(t, s)
}

func TestRetryDelayChangeIsInPlace(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "1h"}
	f.converge(t, s)
	f.publish(t, "a_in.retry", 2)

	s.retry = "2h"
	p := f.mustPlan(t, s)
	for _, c := range p.Changes {
		if c.Kind != plan.KindPolicy {
			t.Errorf("retry change touches %s %s; want policies only", c.Action, c.Address)
		}
	}
	if _, err := f.apply(t, p, false); err != nil {
		t.Fatalf("apply: %v", err)
	}
	f.assertNoChanges(t, s)
	if n, found := f.count(t, "a_in.retry"); !found || n != 2 {
		t.Errorf("a_in.retry after the update: found=%v, %d messages; want the 2 it held", found, n)
	}
}

func TestQueueTypeChangeRefusedWhileNonEmpty(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "classic", retry: "5s"}
	f.converge(t, s)
	f.publish(t, "out", 3)

	s.queueType = "quorum"
	p := f.mustPlan(t, s)
	_, err := f.apply(t, p, false)
	var unsafe *apply.UnsafeError
	if !errors.As(err, &unsafe) {
		t.Fatalf("apply of a type change with messages in out: err = %v; want *apply.UnsafeError", err)
	}
	if !strings.Contains(err.Error(), "queue out: it holds 3 messages") || !strings.Contains(err.Error(), "-allow-message-loss") {
		t.Errorf("refusal does not name the queue and its count: %v", err)
	}
	if got := f.queueType(t, "a_in"); got != "classic" {
		t.Errorf("refused apply changed a_in to %q; nothing should change", got)
	}
	if n, _ := f.count(t, "out"); n != 3 {
		t.Errorf("out holds %d messages after the refusal, want 3", n)
	}

	if _, err := f.apply(t, p, true); err != nil {
		t.Fatalf("apply -allow-message-loss: %v", err)
	}
	f.assertNoChanges(t, s)
	if got := f.queueType(t, "out"); got != "quorum" {
		t.Errorf("out is %q after the replace, want quorum", got)
	}
}

func TestRemovedNodeDestroyedOnlyWhenEmpty(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", poll: true}
	f.converge(t, s)
	f.publish(t, "p_in", 1)

	s.poll = false
	p := f.mustPlan(t, s)
	_, err := f.apply(t, p, false)
	var unsafe *apply.UnsafeError
	if !errors.As(err, &unsafe) || len(unsafe.Queues) != 1 || unsafe.Queues[0].Name != "p_in" || unsafe.Queues[0].Messages != 1 {
		t.Fatalf("apply removing a node whose queue holds a message: %v; want a refusal naming p_in with 1 message", err)
	}
	if _, found := f.count(t, "p_in"); !found {
		t.Fatal("p_in was deleted despite the refusal")
	}

	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueuePurge("p_in", false); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	if _, err := f.apply(t, f.mustPlan(t, s), false); err != nil {
		t.Fatalf("apply once p_in is empty: %v", err)
	}
	f.assertNoChanges(t, s)
	for _, q := range []string{"p_in", "p_in.retry", "p_in.dead", "p_in.poll"} {
		if _, found := f.count(t, q); found {
			t.Errorf("queue %s of the removed node still exists", q)
		}
	}
}

func TestForeignQueueClashIsAnErrorAndUntouched(t *testing.T) {
	f := newFixture(t)
	ch, err := f.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("out", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	f.publish(t, "out", 1)

	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"}
	_, err = f.plan(t, s)
	var ce *plan.ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Name != "out" {
		t.Fatalf("plan with a foreign queue named out: %v; want a *plan.ConflictError naming out", err)
	}
	for _, want := range []string{`queue "out"`, "not stamped", "adopt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict message lacks %q: %v", want, err)
		}
	}
	if n, found := f.count(t, "out"); !found || n != 1 {
		t.Errorf("foreign queue out: found=%v with %d messages; want untouched with 1", found, n)
	}
	if got := f.queueType(t, "out"); got != "classic" {
		t.Errorf("foreign queue out became %q", got)
	}

	// Adopting it makes it the graph's: its type differs, so it is
	// replaced, which the message forbids without the flag.
	s.adopt = []string{"out"}
	p := f.mustPlan(t, s)
	if _, err := f.apply(t, p, false); !errors.As(err, new(*apply.UnsafeError)) {
		t.Fatalf("apply replacing the adopted non-empty out: %v; want *apply.UnsafeError", err)
	}
}

func TestSavedPlanRefusedOnceLiveStateMoves(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "classic", retry: "5s"}
	p := f.mustPlan(t, s)
	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckFresh(snap); err != nil {
		t.Fatalf("fresh plan refused: %v", err)
	}
	// Someone else creates one of the graph's queues meanwhile.
	if err := f.client.DeclareQueue(t.Context(), f.vh.Name, plan.Queue{Name: "a_in", Type: "classic", Durable: true,
		Arguments: map[string]any{plan.GraphArg: "g"}}); err != nil {
		t.Fatal(err)
	}
	// Messages arriving do not make a plan stale.
	f.publish(t, "a_in", 1)
	snap, err = f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckFresh(snap)
	if !errors.Is(err, plan.ErrStale) || !strings.Contains(err.Error(), "run dge plan again") {
		t.Fatalf("CheckFresh after the live state moved: %v; want ErrStale saying to run dge plan again", err)
	}
}

func TestConcurrentAppliesConverge(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", poll: true}
	p1, p2 := f.mustPlan(t, s), f.mustPlan(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []*plan.Plan{p1, p2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = apply.Apply(t.Context(), f.broker, p, apply.Options{Parallelism: 4})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("apply %d: %v", i, err)
		}
	}
	f.assertNoChanges(t, s)

	// And two concurrent applies of the same change (removing the poll node).
	s.poll = false
	p1, p2 = f.mustPlan(t, s), f.mustPlan(t, s)
	for i, p := range []*plan.Plan{p1, p2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = apply.Apply(t.Context(), f.broker, p, apply.Options{Parallelism: 4, Counter: f.counter})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("apply %d of the removal: %v", i, err)
		}
	}
	f.assertNoChanges(t, s)
}

func TestInterruptedApplyConvergesOnTheNext(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "classic", retry: "5s", poll: true}
	p := f.mustPlan(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	done := 0
	_, err := apply.Apply(ctx, f.broker, p, apply.Options{Parallelism: 1, Observer: finishedFunc(func(plan.Change, bool, error) {
		done++
		if done == 5 {
			cancel()
		}
	})})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted apply: %v; want context.Canceled", err)
	}
	if q := f.mustPlan(t, s); len(q.Changes) == 0 || len(q.Changes) >= len(p.Changes) {
		t.Fatalf("after the interruption %d of %d changes remain; want some done, some left", len(q.Changes), len(p.Changes))
	}
	f.converge(t, s)
}

func TestDestroyLeavesForeignObjects(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", poll: true}
	f.converge(t, s)
	ctx := t.Context()
	vh := f.vh.Name
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.client.DeclareQueue(ctx, vh, plan.Queue{Name: "mine", Type: "classic", Durable: true}))
	must(f.client.DeclareQueue(ctx, vh, plan.Queue{Name: "theirs", Type: "classic", Durable: true, Arguments: map[string]any{plan.GraphArg: "other"}}))
	must(f.client.DeclareBinding(ctx, vh, plan.Binding{Source: "g.work", Destination: "mine", DestinationType: "queue", RoutingKey: "mine"}))
	must(f.client.PutPolicy(ctx, vh, plan.Policy{Name: "user.policy", Pattern: "^mine$", ApplyTo: "queues", Priority: 1, Definition: map[string]any{"max-length": 10}}))
	must(f.client.PutPolicy(ctx, vh, plan.Policy{Name: "dge.other.work", Pattern: "^theirs$", ApplyTo: "queues", Priority: 100, Definition: map[string]any{"max-length": 10}}))

	snap, err := f.client.Read(ctx, vh)
	must(err)
	p, err := plan.NewDestroy(plan.Desired(s.graph(t)), snap, plan.Options{DgeVersion: "test"})
	must(err)
	if _, err := f.apply(t, p, false); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	snap, err = f.client.Read(ctx, vh)
	must(err)
	var queues, policies []string
	for _, q := range snap.Queues {
		queues = append(queues, q.Name)
	}
	for _, p := range snap.Policies {
		policies = append(policies, p.Name)
	}
	if strings.Join(queues, ",") != "mine,theirs" {
		t.Errorf("queues after destroy: %v; want only the foreign mine and theirs", queues)
	}
	if strings.Join(policies, ",") != "dge.other.work,user.policy" {
		t.Errorf("policies after destroy: %v; want only the foreign ones", policies)
	}
	for _, e := range snap.Exchanges {
		if strings.HasPrefix(e.Name, "g.") {
			t.Errorf("exchange %s survived destroy", e.Name)
		}
	}
	// A second destroy has nothing to do.
	p, err = plan.NewDestroy(plan.Desired(s.graph(t)), snap, plan.Options{DgeVersion: "test"})
	must(err)
	if p.HasChanges() {
		t.Errorf("second destroy plans %d changes", len(p.Changes))
	}
}

// TestDestroyKeepsCheckpoints: a gather's state queue that holds a
// checkpoint falls under the safety rule, and the refusal says what would
// be lost; with -allow-message-loss the destroy goes through.
func TestDestroyKeepsCheckpoints(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s", gather: true}
	f.converge(t, s)
	f.publish(t, "g_in.state", 1)

	snap := mustRead(t, f)
	p, err := plan.NewDestroy(plan.Desired(s.graph(t)), snap, plan.Options{DgeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.apply(t, p, false)
	var unsafe *apply.UnsafeError
	if !errors.As(err, &unsafe) || len(unsafe.Queues) != 1 || unsafe.Queues[0].Name != "g_in.state" {
		t.Fatalf("destroy with a checkpoint in g_in.state: %v; want a refusal naming g_in.state", err)
	}
	for _, w := range []string{"delete queue g_in.state: it holds 1 message", "checkpoints of unfinished splits", "-allow-message-loss"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("refusal lacks %q:\n%v", w, err)
		}
	}
	if n, found := f.count(t, "g_in.state"); !found || n != 1 {
		t.Fatalf("g_in.state after the refusal: found %v, %d messages; want it kept with its checkpoint", found, n)
	}
	if _, err := f.apply(t, p, true); err != nil {
		t.Fatalf("destroy -allow-message-loss: %v", err)
	}
	if _, found := f.count(t, "g_in.state"); found {
		t.Error("g_in.state survived destroy -allow-message-loss")
	}
}
