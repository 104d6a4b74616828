package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/envelope"
)

func double(_ context.Context, n num) (num, error) { return num{n.Value * 2}, nil }

func chainGraph(name string, handler func(context.Context, num) (num, error)) Graph {
	return testGraph(name,
		Start[num]("start", "input"),
		Process[num, num]("double", testEdge("input"), handler, "result"),
		Terminate[num]("result", testEdge("result")),
	)
}

func TestProcessDeliversEveryResult(t *testing.T) {
	h := newHarness(t, chainGraph("chain", double))
	stop := h.background("double")
	values := make([]int, 300)
	for i := range values {
		values[i] = i
	}
	h.publishNums("start", values...)
	got := h.consumeNums("result", len(values))
	slices.Sort(got)
	for i, v := range got {
		if v != 2*i {
			t.Fatalf("result %d = %d, want %d (all: %v)", i, v, 2*i, got)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("node exited %d after SIGTERM, want 0", code)
	}
	h.waitSettled("input")
}

func TestEnvelopeCarriesRunAndStableIDs(t *testing.T) {
	h := newHarness(t, chainGraph("env", double))
	ids := h.publishNums("start", 5)
	in := h.waitMessages("input", 1)[0]
	if in.CorrelationId != ids[0] || in.Headers[HeaderRunID] != ids[0] {
		t.Errorf("input run ID = %q / %v, want %q", in.CorrelationId, in.Headers[HeaderRunID], ids[0])
	}
	if in.Headers[HeaderSource] != "start.start" || in.ContentType != "application/json" || in.MessageId == "" {
		t.Errorf("input envelope: source %v, content type %q, message ID %q", in.Headers[HeaderSource], in.ContentType, in.MessageId)
	}
	// The same input delivered twice yields outputs with the same ID.
	for range 2 {
		h.publishRaw("input", in.Body, amqp.Publishing{MessageId: in.MessageId, CorrelationId: ids[0], Headers: amqp.Table{HeaderRunID: ids[0]}})
	}
	stop := h.background("double")
	outs := h.waitMessages("result", 2)
	stop()
	if outs[0].MessageId != outs[1].MessageId || outs[0].MessageId == in.MessageId {
		t.Errorf("output IDs %q and %q: want equal to each other and different from the input's %q", outs[0].MessageId, outs[1].MessageId, in.MessageId)
	}
	if outs[0].Headers[HeaderRunID] != ids[0] || outs[0].Headers[HeaderSource] != "process.double" {
		t.Errorf("output headers %v: want run %s from process.double", outs[0].Headers, ids[0])
	}
}

func TestFanOutCopiesToEveryQueue(t *testing.T) {
	g := testGraph("fan",
		Start[num]("start", "input"),
		FanOut[num]("copy", testEdge("input"), "left", "right"),
		Terminate[num]("left", testEdge("left")),
		Terminate[num]("right", testEdge("right")),
	)
	h := newHarness(t, g)
	h.background("copy")
	h.publishNums("start", 1, 2, 3)
	for _, q := range []string{"left", "right"} {
		got := h.consumeNums(q, 3)
		slices.Sort(got)
		if !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("%s got %v, want [1 2 3]", q, got)
		}
	}
}

func TestHandlerFailingTwiceSucceedsOnThirdAttempt(t *testing.T) {
	var mu sync.Mutex
	calls := map[int]int{}
	g := chainGraph("retry", func(ctx context.Context, n num) (num, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[n.Value]++
		if calls[n.Value] <= 2 {
			return num{}, fmt.Errorf("transient failure %d", calls[n.Value])
		}
		return num{n.Value * 2}, nil
	})
	h := newHarness(t, g)
	h.background("double")
	h.publishNums("start", 1, 2, 3, 4, 5)
	got := h.consumeNums("result", 5)
	slices.Sort(got)
	if !slices.Equal(got, []int{2, 4, 6, 8, 10}) {
		t.Errorf("results %v, want [2 4 6 8 10]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for v, c := range calls {
		if c != 3 {
			t.Errorf("value %d: handler called %d times, want 3", v, c)
		}
	}
	if n := h.count("input.dead"); n != 0 {
		t.Errorf("input.dead holds %d messages, want 0", n)
	}
}

func TestParking(t *testing.T) {
	var calls atomic.Int64
	var failures sync.Map
	g := chainGraph("park", func(ctx context.Context, n num) (num, error) {
		calls.Add(1)
		switch n.Value {
		case 1:
			return num{}, Permanent(errors.New("value 1 is not allowed"))
		case 2:
			panic("value 2 blows up")
		case 3:
			return num{}, errors.New("always fails")
		}
		return num{n.Value * 2}, nil
	})
	g.OnFailure = func(ctx context.Context, f Failure) {
		if _, dup := failures.LoadOrStore(f.MessageID, f); dup {
			t.Errorf("OnFailure called twice for %s", f.MessageID)
		}
	}
	h := newHarness(t, g)
	began := time.Now().Truncate(time.Millisecond)
	stop := h.background("double")
	h.publishNums("start", 1, 2, 3, 4)
	h.publishRaw("input", []byte(`{"value": nope}`), amqp.Publishing{MessageId: "malformed"})
	if got := h.consumeNums("result", 1); got[0] != 8 {
		t.Errorf("result %v, want [8]", got)
	}
	dead := h.waitMessages("input.dead", 4)
	reasons := map[string]amqp.Delivery{}
	for _, d := range dead {
		reasons[fmt.Sprint(d.Headers[HeaderReason])] = d
	}
	want := map[string]int32{"permanent": 1, "max-attempts": 3, "decode": 1}
	for reason, attempt := range want {
		d, ok := reasons[reason]
		if !ok {
			t.Errorf("no parked message with reason %s; got %v", reason, keys(reasons))
			continue
		}
		if d.Headers[HeaderAttempt] != attempt || d.Headers[HeaderNode] != "process.double" {
			t.Errorf("%s: attempt %v node %v, want attempt %d node process.double", reason, d.Headers[HeaderAttempt], d.Headers[HeaderNode], attempt)
		}
		// When it was parked, for dge parked list (not its publish time).
		if at, err := time.Parse(time.RFC3339, fmt.Sprint(d.Headers[envelope.HeaderParkedAt])); err != nil || at.Before(began) || time.Since(at) < 0 {
			t.Errorf("%s: %s %v, want the time it was parked (after %s)", reason, envelope.HeaderParkedAt, d.Headers[envelope.HeaderParkedAt], began.Format(time.RFC3339Nano))
		}
	}
	var panics int
	for _, d := range dead {
		if strings.Contains(fmt.Sprint(d.Headers[HeaderError]), "panicked: value 2 blows up") {
			panics++
		}
	}
	if panics != 1 {
		t.Errorf("%d parked messages carry the panic, want 1", panics)
	}
	stop()
	// value 1: 1 call; value 2: 3 calls; value 3: 3 calls; value 4: 1 call.
	if c := calls.Load(); c != 8 {
		t.Errorf("handler called %d times, want 8 (no hot loop, no retry of permanent errors)", c)
	}
	n := 0
	failures.Range(func(_, _ any) bool { n++; return true })
	if n != 4 {
		t.Errorf("OnFailure called for %d messages, want 4", n)
	}
	if c := h.count("input.dead"); c != 0 {
		t.Errorf("input.dead holds %d more messages, want 0 (each parked once)", c)
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestArrivingOverMaxAttemptsIsParkedWithoutCallingHandler(t *testing.T) {
	var calls atomic.Int64
	h := newHarness(t, chainGraph("over", func(ctx context.Context, n num) (num, error) {
		calls.Add(1)
		return n, nil
	}))
	// A message that died three times on input already (a crash loop).
	h.publishRaw("input", []byte(`{"value": 1}`), amqp.Publishing{MessageId: "m1", Headers: amqp.Table{
		"x-death": []any{amqp.Table{"queue": "input", "reason": "delivery_limit", "count": int64(3), "exchange": "over.work"}},
	}})
	h.background("double")
	d := h.waitMessages("input.dead", 1)[0]
	if d.Headers[HeaderReason] != "delivery-limit" {
		t.Errorf("reason %v, want delivery-limit", d.Headers[HeaderReason])
	}
	if calls.Load() != 0 {
		t.Errorf("handler called %d times, want 0", calls.Load())
	}
}

func TestUnroutableOutputIsNotSuccess(t *testing.T) {
	g := testGraph("unroutable",
		Start[num]("start", "input"),
		Process[num, num]("double", testEdge("input"), double, "nowhere"),
		Terminate[num]("result", testEdge("result")),
	)
	h := newHarness(t, g)
	// The destination queue exists (so start-up checks pass) but nothing
	// binds it to the work exchange: every output comes back returned.
	ch, err := h.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("nowhere", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	h.background("double")
	h.publishNums("start", 7)
	d := h.waitMessages("input.dead", 1)[0]
	if d.Headers[HeaderReason] != string(envelope.Unroutable) || d.Headers[HeaderAttempt] != int32(1) {
		t.Errorf("reason %v at attempt %v, want unroutable at once (retrying publishes to the same key)", d.Headers[HeaderReason], d.Headers[HeaderAttempt])
	}
	if text, _ := d.Headers[HeaderError].(string); !strings.Contains(text, "unroutable.work with key nowhere") || !strings.Contains(text, "program generated from the current graph") {
		t.Errorf("parked error %q, want the exchange, the key and the fix", text)
	}
	if n := h.count("nowhere"); n != 0 {
		t.Errorf("queue nowhere holds %d messages, want 0", n)
	}
}

// TestRefusedConnectionFailsFast checks that wrong credentials or a missing
// vhost end a node at once with one line, instead of retrying for ever, and
// that the line names the vhost connected to and not the password.
func TestRefusedConnectionFailsFast(t *testing.T) {
	h := newBareHarness(t, chainGraph("refused", double))
	u, err := url.Parse(h.vh.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword := *u
	wrongPassword.User = url.UserPassword(u.User.Username(), "not-the-password")
	noVhost := *u
	noVhost.Path = "/" + h.vh.Name + "-missing"
	for name, target := range map[string]string{"wrong password": wrongPassword.String(), "missing vhost": noVhost.String()} {
		t.Run(name, func(t *testing.T) {
			env := func(k string) string {
				if k == "DGE_AMQP_URL" {
					return target
				}
				return h.env(k)
			}
			var out, errb syncBuffer
			code := run(t.Context(), h.g, []string{"double"}, env, strings.NewReader(""), &out, &errb)
			errs := errb.String()
			if code != 1 || !strings.Contains(errs, "refused by the broker") {
				t.Errorf("exit %d, stderr %q; want 1 and a refusal", code, errs)
			}
			if strings.Contains(errs, "not-the-password") {
				t.Errorf("stderr holds the password: %q", errs)
			}
			if name == "missing vhost" {
				missing := h.vh.Name + "-missing"
				for _, w := range []string{"rabbitmqctl add_vhost " + missing, "rabbitmqctl set_permissions -p " + missing + " " + u.User.Username() + ` ".*" ".*" ".*"`} {
					if !strings.Contains(errs, w) {
						t.Errorf("stderr %q lacks %q", errs, w)
					}
				}
			}
		})
	}
}

func TestMissingTopologyTellsToApply(t *testing.T) {
	h := newBareHarness(t, chainGraph("missing", double))
	code, _, errs := h.exec("", "double")
	want := fmt.Sprintf(`missing: queue "input" not found in vhost %q: run "dge apply" first; if an apply since renamed or removed it (a moved block, a node removed), this program is older than the graph: run the program generated from the current graph (dge generate) instead`, h.vh.Name)
	if code != 1 || strings.TrimSpace(errs) != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, want)
	}
}

func TestPublishRejectsBadInputAndPublishesNothing(t *testing.T) {
	h := newHarness(t, chainGraph("badinput", double))
	code, out, errs := h.exec("{\"value\": 1}\n{\"value\": 2}\n{\"value\": x}\n", "publish", "start")
	if code != 1 || out != "" || !strings.Contains(errs, "stdin line 3") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, an error naming line 3", code, out, errs)
	}
	code, _, errs = h.exec("", "publish", "start", `{"value": 1}`, `{"valeu": 1}`)
	if code != 1 || !strings.Contains(errs, "argument 2") || !strings.Contains(errs, "valeu") {
		t.Errorf("exit %d, stderr %q; want 1 and an error naming argument 2's unknown field", code, errs)
	}
	if n := h.count("input"); n != 0 {
		t.Errorf("input holds %d messages, want 0", n)
	}
}

func TestSigtermFinishesInFlightWork(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	h := newHarness(t, chainGraph("sigterm", func(ctx context.Context, n num) (num, error) {
		started.Add(1)
		<-release
		return num{n.Value * 2}, nil
	}))
	h.publishNums("start", 1, 2, 3, 4)
	cancel, wait := h.backgroundCtl("double", "-concurrency", "4", "-shutdown-timeout", "1m")
	for started.Load() < 4 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // SIGTERM with four messages in handlers
	close(release)
	if c := wait(); c != 0 {
		t.Errorf("exit %d, want 0", c)
	}
	got := h.consumeNums("result", 4)
	slices.Sort(got)
	if !slices.Equal(got, []int{2, 4, 6, 8}) {
		t.Errorf("results %v, want [2 4 6 8]", got)
	}
	h.waitSettled("input")
}

func TestConnectionLossRecovers(t *testing.T) {
	h := newHarness(t, chainGraph("reconnect", double))
	h.background("double")
	h.publishNums("start", 1, 2, 3)
	h.consumeNums("result", 3)
	h.closeRuntimeConnections()
	h.publishNums("start", 4, 5, 6)
	got := h.consumeNums("result", 3)
	slices.Sort(got)
	if !slices.Equal(got, []int{8, 10, 12}) {
		t.Errorf("results after reconnect %v, want [8 10 12]", got)
	}
}

// TestHostileBodiesAreParkedAsDecode sends bodies a strict decoder must
// refuse straight to a node's queue and to a terminate queue: each is
// parked with reason decode, none becomes a result, and on_failure gets a
// preview rather than a 20 MB body.
func TestHostileBodiesAreParkedAsDecode(t *testing.T) {
	var calls atomic.Int64
	var mu sync.Mutex
	var previews []Failure
	g := chainGraph("hostile", func(ctx context.Context, n num) (num, error) {
		calls.Add(1)
		return num{n.Value * 2}, nil
	})
	g.OnFailure = func(_ context.Context, f Failure) {
		mu.Lock()
		defer mu.Unlock()
		previews = append(previews, f)
	}
	h := newHarness(t, g)
	huge := []byte(`{"value":1,"pad":"` + strings.Repeat("x", 20<<20) + `"}`)
	bodies := map[string][]byte{
		"null":     []byte("null"),
		"unknown":  []byte(`{"foo":1}`),
		"trailing": []byte(`{"value":1} {"value":2}`),
		"type":     []byte(`{"value":"1"}`),
		"huge":     huge,
	}
	for id, b := range bodies {
		h.publishRaw("input", b, amqp.Publishing{MessageId: id})
		h.publishRaw("result", b, amqp.Publishing{MessageId: id})
	}
	h.background("double")
	h.background("consume", "result") // parks what does not decode
	for _, q := range []string{"input.dead", "result.dead"} {
		seen := map[string]bool{}
		for _, d := range h.waitMessages(q, len(bodies)) {
			seen[d.MessageId] = true
			if d.Headers[HeaderReason] != "decode" {
				t.Errorf("%s: %s parked with reason %v, want decode", q, d.MessageId, d.Headers[HeaderReason])
			}
			if d.MessageId == "huge" && len(d.Body) != len(huge) {
				t.Errorf("%s: the huge body was parked with %d bytes, want all %d", q, len(d.Body), len(huge))
			}
		}
		if len(seen) != len(bodies) {
			t.Errorf("%s: parked %v, want every hostile body", q, keys(seen))
		}
	}
	if c := calls.Load(); c != 0 {
		t.Errorf("handler called %d times for hostile bodies, want 0", c)
	}
	if n := h.count("result"); n != 0 {
		t.Errorf("result holds %d messages, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range previews {
		if len(f.Body) > previewSize+64 {
			t.Errorf("on_failure got %d bytes of body for %s, want a preview", len(f.Body), f.MessageID)
		}
		if f.MessageID == "huge" && f.BodySize != len(huge) {
			t.Errorf("on_failure BodySize %d, want %d", f.BodySize, len(huge))
		}
	}
}

// TestForgedHeadersDoNotExtendRetries sends messages whose headers claim a
// negative or absurd dead-letter count, or a delivery count on a first
// delivery: none buys a message more attempts. (RabbitMQ 3.10 adds to a
// published x-death count, so a negative one would otherwise retry
// forever.)
func TestForgedHeadersDoNotExtendRetries(t *testing.T) {
	var calls atomic.Int64
	h := newHarness(t, chainGraph("forged", func(ctx context.Context, n num) (num, error) {
		calls.Add(1)
		if n.Value == 1 {
			return num{}, errors.New("always fails")
		}
		return n, nil
	}))
	death := func(count int64) amqp.Table {
		return amqp.Table{"x-death": []any{amqp.Table{"queue": "input", "reason": "rejected", "count": count, "exchange": "forged.work"}}}
	}
	h.publishRaw("input", []byte(`{"value": 1}`), amqp.Publishing{MessageId: "negative", Headers: death(-1000)})
	h.publishRaw("input", []byte(`{"value": 1}`), amqp.Publishing{MessageId: "absurd", Headers: death(1 << 62)})
	h.publishRaw("input", []byte(`{"value": 2}`), amqp.Publishing{MessageId: "counted", Headers: amqp.Table{
		"x-delivery-count": int64(1000),
	}})
	h.background("double")
	if got := h.consumeNums("result", 1); got[0] != 2 {
		t.Errorf("result %v, want [2]: a forged delivery count on a first delivery is no crash loop", got)
	}
	want := map[string]string{"negative": "decode", "absurd": "max-attempts"}
	for _, d := range h.waitMessages("input.dead", 2) {
		if r := want[d.MessageId]; r == "" || d.Headers[HeaderReason] != r {
			t.Errorf("parked %s with reason %v, want %v", d.MessageId, d.Headers[HeaderReason], want)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("handler called %d times, want 1 (only for the forged delivery count)", c)
	}
}

// TestForgedPollStartTimesOut publishes a poll job claiming polling starts
// in an hour: it is still parked once the node's timeout has passed.
func TestForgedPollStartTimesOut(t *testing.T) {
	g := pollGraph("forgedpoll", 100*time.Millisecond, time.Second, func(_ context.Context, n num) (num, bool, error) {
		return n, false, nil
	})
	h := newHarness(t, g)
	h.publishRaw("input", []byte(`{"value": 1}`), amqp.Publishing{MessageId: "future", Headers: amqp.Table{
		HeaderPollSince: time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano),
	}})
	h.background("check")
	d := h.waitMessages("input.dead", 1)[0]
	if d.Headers[HeaderReason] != "timeout" {
		t.Errorf("reason %v, want timeout", d.Headers[HeaderReason])
	}
}

// TestForgedFirstSeenTimesOut publishes an aggregate part claiming the
// aggregate first saw it in an hour: its group is still parked as
// incomplete once the node's timeout has passed.
func TestForgedFirstSeenTimesOut(t *testing.T) {
	h := newHarness(t, joinGraph("forgedjoin", time.Second))
	body, _ := json.Marshal(num{1})
	h.publishRaw("join", body, amqp.Publishing{MessageId: "future", CorrelationId: "r1", Headers: amqp.Table{
		HeaderRunID: "r1", HeaderSource: "process.a",
		HeaderFirstSeen: time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano),
	}})
	h.background("join")
	d := h.waitMessages("join.dead", 1)[0]
	if d.Headers[HeaderReason] != "incomplete-group" {
		t.Errorf("reason %v, want incomplete-group", d.Headers[HeaderReason])
	}
}
