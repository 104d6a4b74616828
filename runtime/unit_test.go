package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAttemptCountsEveryDeathOfTheQueue(t *testing.T) {
	tests := []struct {
		name string
		d    Delivery
		want int
	}{
		{"first delivery", Delivery{}, 1},
		{"rejected twice", Delivery{Deaths: []Death{{Queue: "q.retry", Reason: "expired", Count: 2}, {Queue: "q", Reason: "rejected", Count: 2}}}, 3},
		{"delivery limit and rejects", Delivery{Deaths: []Death{{Queue: "q", Reason: "delivery_limit", Count: 1}, {Queue: "q", Reason: "rejected", Count: 1}}}, 3},
		{"crash redeliveries are not attempts", Delivery{DeliveryCount: 2, Deaths: []Death{{Queue: "q", Reason: "rejected", Count: 1}}}, 2},
		{"other queues ignored", Delivery{Deaths: []Death{{Queue: "other", Reason: "rejected", Count: 5}, {Queue: "q.poll", Reason: "expired", Count: 9}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.attempt("q"); got != tt.want {
				t.Errorf("attempt = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad")
	err := fmt.Errorf("wrapped: %w", Permanent(base))
	if !IsPermanent(err) || !errors.Is(err, base) {
		t.Errorf("IsPermanent(%v) = false or lost its cause", err)
	}
	if IsPermanent(base) || Permanent(nil) != nil {
		t.Error("an unmarked error is permanent, or Permanent(nil) is not nil")
	}
}

func TestStrictJSON(t *testing.T) {
	for in, wantErr := range map[string]string{
		`{"value": 3}`:             "",
		` {"value":3} `:            "",
		`{"value": 3} {"value":4}`: "unexpected data",
		`{"valeu": 3}`:             "unknown field",
		`{"value": "x"}`:           "cannot unmarshal",
		``:                         "empty body",
		`null`:                     "null is not a num",
		` null `:                   "null is not a num",
		`[1]`:                      "cannot unmarshal",
	} {
		out, err := strictJSON[num]([]byte(in))
		if wantErr == "" {
			if err != nil || string(out) != `{"value":3}` {
				t.Errorf("strictJSON(%q) = %s, %v", in, out, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("strictJSON(%q) error %v, want it to mention %q", in, err, wantErr)
		}
	}
}

func TestDeriveIDIsStablePerInputNodeAndQueue(t *testing.T) {
	a := deriveID("m1", nil, "process.double", "out")
	if a != deriveID("m1", nil, "process.double", "out") {
		t.Error("same input gives different IDs")
	}
	for _, other := range []string{deriveID("m2", nil, "process.double", "out"), deriveID("m1", nil, "process.square", "out"), deriveID("m1", nil, "process.double", "out2")} {
		if other == a {
			t.Error("different input, node or queue gives the same ID")
		}
	}
}

// fakeChannel records acks and rejects; confirmations resolve as told.
type fakeChannel struct {
	Channel
	mu  sync.Mutex
	log []string
}

func (f *fakeChannel) Ack(tag uint64, multiple bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("ack %d %v", tag, multiple))
	return nil
}

func (f *fakeChannel) Reject(tag uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("reject %d", tag))
	return nil
}

type fakeConf struct {
	ch  chan struct{}
	err error
}

func (c *fakeConf) Wait(ctx context.Context) error { <-c.ch; return c.err }

func TestAckerAcksOnlyPrefixesOfSettledTags(t *testing.T) {
	ch := &fakeChannel{}
	s := &session{ch: ch, ctx: context.Background(), r: &nodeRun{log: slog.New(slog.NewTextHandler(io.Discard, nil)), m: &nodeMetrics{}}}
	a := newAcker(s)
	confirmed := func() *fakeConf { c := &fakeConf{ch: make(chan struct{})}; close(c.ch); return c }
	returned := &fakeConf{ch: make(chan struct{}), err: ErrReturned}
	close(returned.ch)
	// Tags 2 and 3 finish before 1 (concurrency); 4 is a retry; 5's output
	// came back returned.
	a.submit(ackItem{tag: 2, confs: []Confirmation{confirmed()}})
	a.submit(ackItem{tag: 3, confs: []Confirmation{confirmed()}})
	a.submit(ackItem{tag: 4, reject: true})
	a.submit(ackItem{tag: 5, confs: []Confirmation{returned}})
	go a.run()
	a.submit(ackItem{tag: 1, confs: []Confirmation{confirmed()}})
	a.submit(ackItem{tag: 6, confs: []Confirmation{confirmed()}})
	a.close()
	<-a.done
	got := ch.log
	// Rejects go out at once; no ack is sent before tag 1 is settled, so the
	// first ack follows both rejects and covers at least tags 1-3.
	want := [][]string{
		{"reject 4", "reject 5", "ack 3 true", "ack 6 true"},
		{"reject 4", "reject 5", "ack 6 true"},
	}
	if !slices.Equal(got, want[0]) && !slices.Equal(got, want[1]) {
		t.Errorf("acker sent %v, want %v or %v", got, want[0], want[1])
	}
	if n := s.r.m.returned.Load(); n != 1 {
		t.Errorf("returned outputs counted %d, want 1", n)
	}
}

func TestTopologyNamesEveryObject(t *testing.T) {
	g := pollGraph("g", 0, 0, nil)
	got := g.TopologyText()
	for _, want := range []string{"exchange  g.work", "exchange  g.retry", "exchange  g.poll", "queue     input ", "queue     input.retry", "queue     input.dead", "queue     input.poll", "g.poll -> input.poll", "queue     result.dead"} {
		if !strings.Contains(got, want) {
			t.Errorf("topology lacks %q:\n%s", want, got)
		}
	}
}

func TestMainUsageAndBadCommands(t *testing.T) {
	g := chainGraph("cli", double)
	var out, errb strings.Builder
	env := func(string) string { return "" }
	if code := run(context.Background(), g, []string{"nope"}, env, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "nope"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), g, []string{"result"}, env, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), `use "cli consume result"`) {
		t.Errorf("terminate as a command: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), g, []string{"help"}, env, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "double") || !strings.Contains(out.String(), "local [-timeout D]") {
		t.Errorf("help: exit %d, stdout %q", code, out.String())
	}
	errb.Reset()
	if code := run(context.Background(), Graph{Name: "x", WorkExchange: "w", RetryExchange: "r", Nodes: []Node{{}}}, []string{"topology"}, env, strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "constructor") {
		t.Errorf("zero node: exit %d, stderr %q", code, errb.String())
	}
}

func TestDecodeAllowsNullOnlyForPointers(t *testing.T) {
	if v, err := Decode[*num]([]byte("null")); err != nil || v != nil {
		t.Errorf("Decode[*num](null) = %v, %v; want nil, nil", v, err)
	}
	if _, err := Decode[num]([]byte("null")); err == nil {
		t.Error("Decode[num](null) succeeded, want an error")
	}
}

func TestBodyLimitAndPreview(t *testing.T) {
	n := Process[num, num]("p", testEdge("in"), double, "out")
	big := []byte(`{"value":1,"pad":"` + strings.Repeat("x", 2000) + `"}`)
	if _, err := n.decodeBody(big, 100); err == nil || !strings.Contains(err.Error(), "over the limit of 100 bytes") {
		t.Errorf("decodeBody over the limit: %v", err)
	}
	if _, err := n.decodeBody([]byte(`{"value":1}`), 100); err != nil {
		t.Errorf("decodeBody under the limit: %v", err)
	}
	p := preview(big)
	if len(p) > previewSize+32 || !strings.HasSuffix(string(p), "("+fmt.Sprint(len(big))+" bytes)") {
		t.Errorf("preview of %d bytes is %d bytes: %.60q", len(big), len(p), p)
	}
	if small := []byte(`{"value":1}`); string(preview(small)) != string(small) {
		t.Errorf("preview changed a small body")
	}
}

func TestForgedHeadersNeverExtendLimits(t *testing.T) {
	d := Delivery{Deaths: []Death{{Queue: "q", Reason: "rejected", Count: -100}, {Queue: "q", Reason: "expired", Count: 1 << 62}}}
	if a := d.attempt("q"); a != maxHeaderCount {
		t.Errorf("attempt with a negative and an absurd count = %d, want %d", a, maxHeaderCount)
	}
	if r := (Delivery{DeliveryCount: 1000}).redeliveries(); r != 0 {
		t.Errorf("redeliveries of a first delivery carrying x-delivery-count = %d, want 0", r)
	}
	if r := (Delivery{Redelivered: true, DeliveryCount: -5}).redeliveries(); r != 0 {
		t.Errorf("redeliveries with a negative count = %d, want 0", r)
	}
	now := time.Now()
	h := map[string]any{"t": now.Add(time.Hour).Format(time.RFC3339Nano), "n": int64(-3), "bad": "soon"}
	if got := headerTime(h, "t", now); !got.Equal(now) {
		t.Errorf("headerTime of a future time = %v, want now", got)
	}
	if got := headerTime(h, "bad", now); !got.Equal(now) {
		t.Errorf("headerTime of garbage = %v, want now", got)
	}
	if c := headerCount(h, "n"); c != 0 {
		t.Errorf("headerCount of -3 = %d, want 0", c)
	}
}

// TestSubcommandHelp checks that every subcommand's -h says what it does
// and lists its flags, and exits 0.
func TestSubcommandHelp(t *testing.T) {
	g := chainGraph("cli", double)
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"publish", "-h"}, []string{"Usage: cli publish <start> [JSON...]", "new run of the start node <start> (start)", "DGE_AMQP_URL", "cacertfile"}},
		{[]string{"consume", "-h"}, []string{"Usage: cli consume <terminate>", "(result)", "-timeout duration", "-envelope", "DGE_AMQP_URL"}},
		{[]string{"double", "-h"}, []string{"Usage: cli double [flags]", "consumes queue input", "-prefetch int", "-shutdown-timeout duration", "DGE_AMQP_URL"}},
		{[]string{"all", "-h"}, []string{"Usage: cli all [-nodes a,b] [flags]", "-nodes string", "-concurrency int"}},
		{[]string{"topology", "-h"}, []string{"Usage: cli topology", "exchanges, queues and bindings"}},
		{[]string{"local", "-h"}, []string{"Usage: cli local", "in-memory broker", "-start string"}},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			var out, errb strings.Builder
			code := run(context.Background(), g, tc.args, env, strings.NewReader(""), &out, &errb)
			for _, w := range tc.want {
				if code != 0 || !strings.Contains(errb.String(), w) {
					t.Errorf("%v: exit %d, help lacks %q:\n%s", tc.args, code, w, errb.String())
				}
			}
		})
	}
}

func TestAckerAcksBehindAGapAfterATick(t *testing.T) {
	ch := &fakeChannel{}
	s := &session{ch: ch, ctx: context.Background(), r: &nodeRun{log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	a := newAcker(s)
	confirmed := func() Confirmation { c := &fakeConf{ch: make(chan struct{})}; close(c.ch); return c }
	// Tag 1 is still in its handler; 2 and 3 are decided behind it.
	a.settle(ackItem{tag: 2, confs: []Confirmation{confirmed()}})
	a.settle(ackItem{tag: 3, confs: []Confirmation{confirmed()}})
	a.flush()
	a.ticks++ // less than a whole tick has passed since 2 and 3
	a.ackBehindGap()
	if len(ch.log) != 0 {
		t.Fatalf("acker sent %v within a tick of the decisions, want nothing yet", ch.log)
	}
	a.ticks++
	a.ackBehindGap()
	a.settle(ackItem{tag: 1, confs: []Confirmation{confirmed()}})
	a.settle(ackItem{tag: 4, confs: []Confirmation{confirmed()}})
	a.flush()
	// 2 and 3 go one by one; the prefix then never names them again, but
	// its multiple ack of 4 covers them harmlessly.
	want := []string{"ack 2 false", "ack 3 false", "ack 4 true"}
	if got := ch.log; !slices.Equal(got, want) && !slices.Equal(got, []string{"ack 3 false", "ack 2 false", "ack 4 true"}) {
		t.Errorf("acker sent %v, want %v (2 and 3 in either order)", got, want)
	}
	if a.behind != 0 || len(a.decided) != 0 || a.next != 5 {
		t.Errorf("after the prefix: behind %d, decided %v, next %d; want 0, none, 5", a.behind, a.decided, a.next)
	}
}

// TestEagerAckerAcksAJoinedGroupAtOnce checks an aggregate's acker: the
// parts of a group joined behind a held part are acked one by one in the
// same flush, the settled prefix in one frame, and a held part never.
func TestEagerAckerAcksAJoinedGroupAtOnce(t *testing.T) {
	ch := &fakeChannel{}
	s := &session{ch: ch, ctx: context.Background(), r: &nodeRun{log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	a := newAcker(s)
	a.eager = true
	confirmed := func() Confirmation { c := &fakeConf{ch: make(chan struct{})}; close(c.ch); return c }
	acked := 0
	// Tags 1-3 are one group, joined; 4 is held (its group incomplete);
	// 5 and 6 are another group, joined.
	for _, tag := range []uint64{1, 2, 3, 5, 6} {
		a.settle(ackItem{tag: tag, confs: []Confirmation{confirmed()}, ok: func() { acked++ }})
	}
	a.flush()
	want := []string{"ack 3 true", "ack 5 false", "ack 6 false"}
	if !slices.Equal(ch.log, want) {
		t.Fatalf("acker sent %v, want %v", ch.log, want)
	}
	if acked != 5 {
		t.Errorf("ok called %d times, want 5", acked)
	}
	// 4's group joins later: the prefix passes over 5 and 6 (acked
	// already) and names 7, which covers them harmlessly.
	a.settle(ackItem{tag: 4, confs: []Confirmation{confirmed()}})
	a.settle(ackItem{tag: 7, confs: []Confirmation{confirmed()}})
	a.flush()
	want = append(want, "ack 7 true")
	if !slices.Equal(ch.log, want) {
		t.Errorf("acker sent %v, want %v", ch.log, want)
	}
	if a.behind != 0 || len(a.decided) != 0 || a.next != 8 {
		t.Errorf("after the prefix: behind %d, decided %v, next %d; want 0, none, 8", a.behind, a.decided, a.next)
	}
}
