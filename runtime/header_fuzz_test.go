package runtime

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rawPublisher publishes p to the graph's work exchange with routing key
// key as an outside producer would, with amqp091 and no runtime in
// between, and waits for its confirmation.
type rawPublisher func(key string, p amqp.Publishing)

// rawPublisherFor returns tr's rawPublisher: amqp091 on RabbitMQ; on the
// in-memory broker, the message as amqp091 would deliver it, routed
// without the checks of the broker's Publish.
func rawPublisherFor(t *testing.T, tr Transport, exchange string) rawPublisher {
	t.Helper()
	switch b := tr.(type) {
	case MemoryBroker:
		return func(key string, p amqp.Publishing) {
			d := fromAMQP(amqp.Delivery{Headers: p.Headers, MessageId: p.MessageId, CorrelationId: p.CorrelationId, Timestamp: p.Timestamp, Body: p.Body})
			if err := b.Deliver(exchange, key, d.Message); err != nil {
				t.Fatalf("raw publish to %s: %v", key, err)
			}
		}
	case AMQP:
		conn, err := amqp.DialConfig(b.URL, amqp.Config{Properties: amqp.Table{"connection_name": t.Name() + " raw"}})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		return func(key string, p amqp.Publishing) {
			p.DeliveryMode = amqp.Persistent
			dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), exchange, key, true, false, p)
			if err != nil || !dc.Wait() {
				t.Fatalf("raw publish to %s: %v", key, err)
			}
		}
	}
	t.Fatalf("no raw publisher for %T", tr)
	return nil
}

// fuzzSize returns the number of bad messages of the header fuzz:
// DGE_CHAOS_HEADERS (make chaos), else a size that takes seconds.
func fuzzSize(t *testing.T) int {
	s := os.Getenv("DGE_CHAOS_HEADERS")
	if s == "" {
		return 60
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("DGE_CHAOS_HEADERS=%q: want a positive whole number", s)
	}
	return n
}

// badValue is the body value of the i-th bad message; results double it.
const badValue = 100000

// fuzzMutations each spoil a message of the header fuzz in one way, as an
// outside producer could. Some are harmless (the message must then be
// processed as usual), the others must park it.
var fuzzMutations = []func(r *rand.Rand, p *amqp.Publishing){
	func(r *rand.Rand, p *amqp.Publishing) { p.Headers[HeaderRunID] = strings.Repeat("r", 256+r.Intn(2000)) },
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[HeaderRunID] = []any{int32(5), amqp.Table{"a": "b"}, []any{"x"}, true, []byte("run")}[r.Intn(5)]
	},
	func(r *rand.Rand, p *amqp.Publishing) { p.Headers[HeaderRunID] = "run-\xff\xfe" },
	func(r *rand.Rand, p *amqp.Publishing) {
		delete(p.Headers, HeaderRunID)
		p.CorrelationId = "corr-\xc3\x28"
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[HeaderSource] = []any{strings.Repeat("s", 300), "start\xff", int64(7)}[r.Intn(3)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[HeaderAttempt] = []any{"abc", 1.5, amqp.Table{}, int64(1 << 62)}[r.Intn(4)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers["x-death"] = []any{
			"died",
			[]any{"a", "b"},
			[]any{amqp.Table{"queue": "input", "reason": "rejected"}},
			[]any{amqp.Table{"queue": "input", "reason": "rejected", "count": int64(-5)}},
			[]any{amqp.Table{"queue": "input", "reason": "rejected", "count": int64(1 << 40)}},
			[]any{amqp.Table{"queue": "elsewhere", "reason": "expired", "count": int64(1)}},
			slices100(amqp.Table{"queue": "x", "reason": "rejected", "count": int64(1)}),
		}[r.Intn(7)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[[]string{HeaderFirstSeen, HeaderPollSince}[r.Intn(2)]] = []any{"yesterday", int32(3), "2999-01-01T00:00:00Z"}[r.Intn(3)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[HeaderSuspect] = []any{"yes", int32(1), true}[r.Intn(3)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[[]string{HeaderCrashes, HeaderRedriven}[r.Intn(2)]] = []any{"2", amqp.Table{"n": 1}, int64(1 << 50), int32(-3)}[r.Intn(4)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		switch r.Intn(4) {
		case 0:
			p.Headers[HeaderTraceParent] = "garbage"
		case 1:
			p.Headers[HeaderTraceParent] = strings.Repeat("0", 10000)
		case 2:
			p.Headers[HeaderTraceState] = int32(4)
		default:
			p.Headers[HeaderTraceParent] = "00-\xff"
		}
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		var v any = "leaf"
		// amqp091 reads at most 32 levels, and a frame of at most
		// frame_max (128 KiB): a delivery past either closes the consumer's
		// connection before the runtime sees it, so the mutations stay
		// within both.
		for range 1 + r.Intn(20) {
			if r.Intn(2) == 0 {
				v = amqp.Table{"t": v}
			} else {
				v = []any{v}
			}
		}
		p.Headers["x-nested"] = v
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		a := make([]any, 1000+r.Intn(7000))
		for i := range a {
			a[i] = int32(i)
		}
		p.Headers["x-array"] = a
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[[]string{"x-\xff\xfe", strings.Repeat("n", 255)}[r.Intn(2)]] = "name"
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		switch r.Intn(4) {
		case 0:
			p.MessageId = strings.Repeat("m", 255)
		case 1:
			p.MessageId = "id-\xff"
		case 2:
			p.Type, p.AppId = strings.Repeat("t", 255), strings.Repeat("a", 255)
		default:
			p.ContentType, p.ContentEncoding = "text/plain; charset=latin1", "gzip"
		}
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Timestamp = []time.Time{time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}[r.Intn(2)]
		p.Priority = uint8(r.Intn(10))
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		// A forged failure notice: forwarded as the run's failure record,
		// or parked when its headers are bad.
		p.Headers[HeaderFailedNode] = []any{"process.elsewhere", int32(1)}[r.Intn(2)]
		p.Headers[HeaderFailedReason] = "permanent"
		p.Headers[HeaderFailedError] = []string{"forged", strings.Repeat("e", 10000)}[r.Intn(2)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers["x-delivery-count"] = []any{"many", int64(1000)}[r.Intn(2)]
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		p.Headers[HeaderReason], p.Headers[HeaderError], p.Headers[HeaderNode] = "forged", "forged", int32(1)
	},
	func(r *rand.Rand, p *amqp.Publishing) {
		for i := range 50 + r.Intn(500) {
			p.Headers[fmt.Sprint("x-many-", i)] = []any{int32(i), "v", 2.5, nil, []byte{1, 2}, amqp.Decimal{Scale: 2, Value: 314}, false}[i%7]
		}
	},
	func(r *rand.Rand, p *amqp.Publishing) { p.Headers["x-blob"] = strings.Repeat("b", 20000+r.Intn(20000)) },
}

func slices100(t amqp.Table) []any {
	out := make([]any, 100)
	for i := range out {
		out[i] = t
	}
	return out
}

// fuzzFate is what became of one message of the header fuzz.
type fuzzFate struct {
	results, parked, notices int
	reason                   string
}

// outcomes returns how many outcomes a message had: results and parked
// copies, and forwarded notices of a forged one (a parked forged notice
// passes its own failure on: that notice goes with the park).
func (f fuzzFate) outcomes() int {
	if f.parked > 0 {
		return f.results + f.parked
	}
	return f.results + f.notices
}

// testHeaderFuzz publishes, as an outside producer, messages with random
// bad headers and properties among normal ones to a process node's queue:
// every normal message is processed exactly once, at its first attempt,
// and none is parked; every bad one is processed or parked with a reason;
// nothing is left in the work or retry queue; the node never loses its
// channel.
func testHeaderFuzz(t *testing.T, setup transportSetup) {
	bad := fuzzSize(t)
	normal := 2 * bad
	seed := time.Now().UnixNano()
	if s := os.Getenv("DGE_FUZZ_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (DGE_FUZZ_SEED=%d repeats this run)", seed, seed)
	r := rand.New(rand.NewSource(seed))

	g := chainGraph("hfuzz", double)
	tr := setup(t, g)
	m := runNodes(t, tr, &g)
	raw := rawPublisherFor(t, tr, g.WorkExchange)
	c := dialClient(t, tr)

	// Interleave: a bad message every third.
	for i, b := 0, 0; i < normal || b < bad; {
		if b < bad && (i >= normal || r.Intn(3) == 0) {
			p := amqp.Publishing{
				Body: fmt.Appendf(nil, `{"value":%d}`, badValue+b), MessageId: fmt.Sprint("bad-", b), CorrelationId: fmt.Sprint("bad-run-", b),
				Headers: amqp.Table{HeaderRunID: fmt.Sprint("bad-run-", b), HeaderSource: "start.start", HeaderAttempt: int32(1)},
			}
			for range 1 + r.Intn(3) {
				fuzzMutations[r.Intn(len(fuzzMutations))](r, &p)
			}
			raw("input", p)
			b++
			continue
		}
		raw("input", amqp.Publishing{
			Body: fmt.Appendf(nil, `{"value":%d}`, i), MessageId: fmt.Sprint("normal-", i), CorrelationId: fmt.Sprint("run-", i),
			Headers: amqp.Table{HeaderRunID: fmt.Sprint("run-", i), HeaderSource: "start.start", HeaderAttempt: int32(1)},
		})
		i++
	}

	normals, bads := make([]fuzzFate, normal), make([]fuzzFate, bad)
	done := func() bool {
		for _, f := range normals {
			if f.results == 0 {
				return false
			}
		}
		for _, f := range bads {
			if f.results+f.parked+f.notices == 0 {
				return false
			}
		}
		return true
	}
	rch, rs := c.consume("result", 256)
	dch, ds := c.consume("input.dead", 256)
	results, dead := deliveryChan(rs), deliveryChan(ds)
	deadline := time.After(2*confDeadline + time.Duration(bad)*20*time.Millisecond)
	extraAttempts := 0
	for !done() {
		var d Delivery
		var ok, parked bool
		ch := rch
		select {
		case d, ok = <-results:
		case d, ok = <-dead:
			ch, parked = dch, true
		case <-deadline:
			t.Fatalf("deadline: %s", fuzzSummary(normals, bads, 0))
		}
		if !ok {
			t.Fatal("a consumer ended")
		}
		if err := ch.Ack(d.Tag, false); err != nil {
			t.Fatalf("ack: %v", err)
		}
		extraAttempts += fuzzRecord(t, d, parked, normals, bads)
	}
	stranded := 0
	for _, q := range []string{"input", "input.retry"} {
		stranded += waitEmpty(t, c.conn, q)
	}
	line := "chaos: header-fuzz " + fuzzSummary(normals, bads, stranded)
	t.Log(line)
	if os.Getenv("DGE_CHAOS_HEADERS") != "" {
		fmt.Println(line)
	}
	for i, f := range normals {
		if f.results != 1 || f.parked != 0 || f.notices != 0 {
			t.Errorf("normal message %d: %d results, %d parked, %d notices; want 1 result", i, f.results, f.parked, f.notices)
		}
	}
	for i, f := range bads {
		if f.outcomes() > 1 {
			t.Errorf("bad message %d: %d results, %d parked, %d notices; want one outcome", i, f.results, f.parked, f.notices)
		}
	}
	if extraAttempts != 0 || stranded != 0 {
		t.Errorf("%d normal results at a later attempt than 1, %d messages stranded; want 0", extraAttempts, stranded)
	}
	if n := m.reconnects.Load(); n != 0 {
		t.Errorf("the node reconnected %d times; want 0 (no message may cost the channel)", n)
	}
	m.mu.Lock()
	nm := m.nodes["process.double"]
	m.mu.Unlock()
	if n := nm.retried.Load(); n != 0 {
		t.Errorf("%d messages retried; want 0 (the handler never fails)", n)
	}
}

// fuzzRecord records what d, a message from the result queue (or, when
// parked, from input.dead), says about a message of the header fuzz. It
// returns 1 for a normal message's result at a later attempt than the
// first.
func fuzzRecord(t *testing.T, d Delivery, parked bool, normals, bads []fuzzFate) int {
	t.Helper()
	if f, ok := noticeOf(d.Message); ok && !parked {
		// A park's own notice (from process.double) goes with the park;
		// a forged notice forwarded is its message's outcome.
		var i int
		if n, err := fmt.Sscanf(d.RunID, "bad-run-%d", &i); n == 1 && err == nil && i < len(bads) {
			if f.Node != "process.double" {
				bads[i].notices++
			}
			return 0
		}
		if n, err := fmt.Sscanf(d.RunID, "run-%d", &i); n == 1 && err == nil && i < len(normals) {
			normals[i].notices++
			return 0
		}
		t.Errorf("notice of unknown run %q: %+v", d.RunID, f)
		return 0
	}
	var v num
	if err := json.Unmarshal(d.Body, &v); err != nil {
		t.Errorf("message %s with body %q: %v", d.MessageID, d.Body, err)
		return 0
	}
	if parked {
		reason, _ := d.Headers[HeaderReason].(string)
		text, _ := d.Headers[HeaderError].(string)
		if v.Value >= badValue && v.Value-badValue < len(bads) {
			f := &bads[v.Value-badValue]
			f.parked++
			f.reason = reason
			if reason == "" || text == "" {
				t.Errorf("bad message %d parked without a reason or error: %q, %q", v.Value-badValue, reason, text)
			}
			return 0
		}
		if v.Value >= 0 && v.Value < len(normals) {
			normals[v.Value].parked++
			t.Errorf("normal message %d parked: %s: %s", v.Value, reason, text)
			return 0
		}
	} else {
		i := v.Value / 2
		if i >= badValue && i-badValue < len(bads) {
			bads[i-badValue].results++
			return 0
		}
		if i >= 0 && i < len(normals) {
			normals[i].results++
			if d.Attempt != 1 {
				return 1
			}
			return 0
		}
	}
	t.Errorf("unexpected message %s with body %q", d.MessageID, d.Body)
	return 0
}

// fuzzSummary returns the figures of the header fuzz.
func fuzzSummary(normals, bads []fuzzFate, stranded int) string {
	processed, parked, lost, dups := 0, 0, 0, 0
	for _, f := range normals {
		if f.results == 0 {
			lost++
		}
		dups += max(f.results-1, 0)
	}
	reasons := map[string]int{}
	for _, f := range bads {
		n := f.outcomes()
		switch {
		case n == 0:
			lost++
		case f.parked > 0:
			parked++
			reasons[f.reason]++
		default:
			processed++
		}
		dups += max(n-1, 0)
	}
	return fmt.Sprintf("normal=%d bad=%d processed=%d parked=%d lost=%d stranded=%d duplicates=%d reasons=%v",
		len(normals), len(bads), processed, parked, lost, stranded, dups, reasons)
}

// waitEmpty waits until queue holds no ready message, and returns how many
// it still holds after a generous deadline.
func waitEmpty(t *testing.T, conn Conn, queue string) int {
	t.Helper()
	deadline := time.Now().Add(confDeadline)
	for {
		n, err := conn.CheckQueue(t.Context(), queue)
		if err != nil {
			t.Fatalf("check %s: %v", queue, err)
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}
