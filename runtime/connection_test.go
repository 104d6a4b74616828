package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// commandsUnderTest are the commands of a generated program that connect
// to the broker: a node, all, publish and consume.
var commandsUnderTest = [][]string{
	{"double"},
	{"all"},
	{"publish", "start", `{"value": 1}`},
	{"consume", "result", "-n", "1", "-timeout", "20s"},
}

// runWith runs one command in-process with DGE_AMQP_URL set to list and
// logs at debug level, for at most limit (then it is cancelled, as SIGTERM
// would), and returns its exit code, combined output and duration.
func runWith(t *testing.T, g Graph, list string, limit time.Duration, args ...string) (code int, out string, took time.Duration) {
	t.Helper()
	env := func(k string) string {
		switch k {
		case "DGE_AMQP_URL":
			return list
		case "DGE_LOG":
			return "debug"
		case "DGE_CONNECTION_NAME":
			return t.Name() + " runtime"
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	var buf syncBuffer
	start := time.Now()
	code = run(ctx, g, args, env, strings.NewReader(""), &buf, &buf)
	return code, buf.String(), time.Since(start)
}

// TestConfigErrorsEndAtOnce checks that a DGE_AMQP_URL no retry can fix
// (unescaped reserved characters in a password, another scheme, an invalid
// port, an empty element of a list) ends every command at once with one
// line that names the variable and says what to fix, and never holds the
// password.
func TestConfigErrorsEndAtOnce(t *testing.T) {
	g := chainGraph("cfg", double)
	g.Vhost = "cfg"
	type badURL struct {
		name, list, fix string
		passwords       []string
	}
	var cases []badURL
	for _, pw := range nastyPasswords {
		if pw == "p@ss" {
			continue // parses: Go takes the last @ as the end of the user information
		}
		cases = append(cases, badURL{"password " + pw, "amqp://guest:" + pw + "@127.0.0.1:5672/cfg", "percent-encode", []string{pw}})
	}
	cases = append(cases,
		badURL{"scheme", "http://guest:s3cr3t-pw@127.0.0.1:5672/cfg", "use amqp:// or amqps://", []string{"s3cr3t-pw"}},
		badURL{"port", "amqp://guest:s3cr3t-pw@127.0.0.1:99999/cfg", "from 1 to 65535", []string{"s3cr3t-pw"}},
		badURL{"three passwords", "amqp://a:pw1/one@127.0.0.1:5672/cfg,amqp://b:pw2#two@127.0.0.1:5672/cfg,amqp://c:pw3?three@127.0.0.1:5672/cfg",
			"percent-encode", []string{"pw1/one", "pw2#two", "pw3?three"}},
		badURL{"trailing comma", "amqp://guest:s3cr3t-pw@127.0.0.1:5672/cfg,", "single commas", []string{"s3cr3t-pw"}},
	)
	for _, c := range cases {
		for _, args := range commandsUnderTest {
			t.Run(c.name+"/"+args[0], func(t *testing.T) {
				code, out, took := runWith(t, g, c.list, 20*time.Second, args...)
				if code != 1 || took > 2*time.Second {
					t.Errorf("exit %d after %v, want 1 at once; output:\n%s", code, took, out)
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, "cfg: DGE_AMQP_URL") || !strings.Contains(last, c.fix) {
					t.Errorf("last line %q: want it to name DGE_AMQP_URL and say %q", last, c.fix)
				}
				if strings.Contains(out, "retrying") || len(lines) > 1 {
					t.Errorf("output has %d lines, want one and no retry:\n%s", len(lines), out)
				}
				for _, pw := range c.passwords {
					if leaked(out, pw) {
						t.Errorf("output holds the password %q:\n%s", pw, out)
					}
				}
			})
		}
	}
}

// TestNoPasswordWhenBrokersFail runs every command against lists of three
// URLs with three passwords that parse but fail: unreachable ports (nodes
// retry, publish and consume give up) and the real broker refusing the
// login. No password, escaped or not, may appear in the output. Nodes run
// until the limit with debug logs, so their retries are in the output too.
func TestNoPasswordWhenBrokersFail(t *testing.T) {
	h := newHarness(t, chainGraph("leak", double))
	passwords := []string{"pw1/one", "pw2#two", "pw3?three", "pw4@four"}
	esc := func(p string) string { return url.UserPassword("u", p).String() }
	u, err := url.Parse(h.vh.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]string{
		"unreachable": "amqp://" + esc(passwords[0]) + "@127.0.0.1:1/v,amqp://" + esc(passwords[1]) + "@127.0.0.1:2/v,amqp://" + esc(passwords[2]) + "@127.0.0.1:3/v",
		"refused": "amqp://" + esc(passwords[0]) + "@" + u.Host + u.EscapedPath() + ",amqp://" + esc(passwords[1]) + "@" + u.Host + u.EscapedPath() +
			",amqp://guest:" + url.PathEscape(passwords[3]) + "@" + u.Host + u.EscapedPath(),
	}
	for name, list := range lists {
		for _, args := range commandsUnderTest {
			t.Run(name+"/"+args[0], func(t *testing.T) {
				limit := 3 * time.Second // long enough for a node's retries
				if name == "refused" {
					limit = 30 * time.Second // the broker delays a refusal
				}
				code, out, _ := runWith(t, h.g, list, limit, args...)
				switch {
				case args[0] == "publish" || args[0] == "consume" || name == "refused":
					if code != 1 {
						t.Errorf("exit %d, want 1; output:\n%s", code, out)
					}
				case !strings.Contains(out, "broker unavailable; retrying"):
					t.Errorf("a node with no reachable broker did not retry; output:\n%s", out)
				}
				if !strings.Contains(out, ":xxxxx@127.0.0.1:") {
					t.Errorf("output does not name the endpoints, redacted:\n%s", out)
				}
				for _, pw := range passwords {
					for _, form := range []string{pw, url.PathEscape(pw), url.QueryEscape(pw)} {
						if strings.Contains(out, form) {
							t.Errorf("output holds the password %q as %q:\n%s", pw, form, out)
						}
					}
				}
			})
		}
	}
}

// TestURLListFailsOver runs a node, publish and consume with a list whose
// other URLs are unreachable: each connects to the one that works, whatever
// the random order; a URL without a path connects to the graph's vhost.
func TestURLListFailsOver(t *testing.T) {
	h := newHarness(t, chainGraph("failover", double))
	u, err := url.Parse(h.vh.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	noPath := *u
	noPath.Path, noPath.RawPath = "", ""
	list := "amqp://guest:guest@127.0.0.1:1," + noPath.String() + ",amqp://guest:guest@127.0.0.1:2/" + url.PathEscape(h.vh.Name)
	env := func(k string) string {
		if k == "DGE_AMQP_URL" {
			return list
		}
		return h.env(k)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, h.g, []string{"double"}, env, strings.NewReader(""), &syncBuffer{}, &syncBuffer{})
	}()
	defer func() { cancel(); <-done }()
	for i := range 3 {
		code, out, _ := runWith(t, h.g, list, time.Minute, "publish", "start", `{"value": 21}`)
		if code != 0 {
			t.Fatalf("publish %d through the list: exit %d\n%s", i, code, out)
		}
	}
	code, out, _ := runWith(t, h.g, list, time.Minute, "consume", "result", "-n", "3", "-timeout", "50s")
	if code != 0 || strings.Count(out, `{"value":42}`) != 3 {
		t.Fatalf("consume through the list: exit %d, want 3 results of 42:\n%s", code, out)
	}
}

// TestLostConnectionFailsOverAtOnce force-closes a node's connection: with
// two URLs it reconnects through the other one at once, without backing
// off, and logs which endpoint each connection uses.
func TestLostConnectionFailsOverAtOnce(t *testing.T) {
	h := newHarness(t, chainGraph("lost", double))
	u, err := url.Parse(h.vh.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	other := *u
	other.Host = "localhost:" + u.Port()
	list := h.vh.AMQPURL + "," + other.String()
	env := func(k string) string {
		switch k {
		case "DGE_AMQP_URL":
			return list
		case "DGE_LOG":
			return "info"
		}
		return h.env(k)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, h.g, []string{"double"}, env, strings.NewReader(""), &syncBuffer{}, &logs) }()
	defer func() { cancel(); <-done }()
	waitLog(t, &logs, `"msg":"connected"`)
	h.closeRuntimeConnections()
	waitLog(t, &logs, `"msg":"reconnected"`)
	out := logs.String()
	first := logField(out, `"msg":"connected"`, "endpoint")
	lost := logField(out, `"msg":"connection lost; connecting to another endpoint at once"`, "endpoint")
	again := logField(out, `"msg":"reconnected"`, "endpoint")
	if first == "" || lost != first || again == first || again == "" {
		t.Errorf("connected to %q, lost %q, reconnected to %q: want the other endpoint at once; logs:\n%s", first, lost, again, out)
	}
	if strings.Contains(out, "retry_in") {
		t.Errorf("backed off before trying the other endpoint:\n%s", out)
	}
	h.publishNums("start", 5)
	if got := h.consumeNums("result", 1); got[0] != 10 {
		t.Errorf("result %d after the failover, want 10", got[0])
	}
}

// waitLog waits up to a minute for a log line holding s.
func waitLog(t *testing.T, logs *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(logs.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %s within a minute:\n%s", s, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logField returns the string field key of the first JSON log line holding
// s, or "".
func logField(logs, s, key string) string {
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, s) {
			continue
		}
		_, v, ok := strings.Cut(line, `"`+key+`":"`)
		if !ok {
			return ""
		}
		v, _, _ = strings.Cut(v, `"`)
		return v
	}
	return ""
}

// TestBlockedNoticeAndGauge checks the log lines and the gauge a
// connection.blocked and connection.unblocked pair produces.
func TestBlockedNoticeAndGauge(t *testing.T) {
	var logs syncBuffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&logs, nil))).With("graph", "g")
	m := newMetrics("g")
	notice := blockedNotice(log, m)
	gauge := func() string {
		var b strings.Builder
		if err := m.write(&b); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(line, "dge_connection_blocked{") {
				return line
			}
		}
		return ""
	}
	if g := gauge(); g != `dge_connection_blocked{graph="g"} 0` {
		t.Errorf("gauge before: %q", g)
	}
	notice(amqp.Blocking{Active: true, Reason: "low on memory"})
	if g := gauge(); g != `dge_connection_blocked{graph="g"} 1` {
		t.Errorf("gauge while blocked: %q", g)
	}
	notice(amqp.Blocking{Active: false})
	if g := gauge(); g != `dge_connection_blocked{graph="g"} 0` {
		t.Errorf("gauge after: %q", g)
	}
	out := logs.String()
	if strings.Count(out, `"level":"WARN"`) != 1 || !strings.Contains(out, `"reason":"low on memory"`) || strings.Count(out, "unblocked") != 1 {
		t.Errorf("logs: want one warning with the reason and one line when it ends:\n%s", out)
	}
}

// TestNackClosesTheChannel checks that a publish the broker nacks closes its
// channel, so that the node opens a new one (see amqpChannel.refused): a
// queue limited to one message that rejects publishes beyond it nacks the
// second.
func TestNackClosesTheChannel(t *testing.T) {
	h := newBareHarness(t, chainGraph("nack", double))
	admin, err := h.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.QueueDeclare("full", true, false, false, false, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}); err != nil {
		t.Fatal(err)
	}
	conn, err := AMQP{URL: h.vh.AMQPURL}.Dial(t.Context(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel(t.Context(), 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, wantErr := range []bool{false, true} {
		c, err := ch.Publish(t.Context(), "", "full", Message{Body: []byte(`{}`), MessageID: strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Wait(t.Context())
		if (err != nil) != wantErr || (wantErr && !strings.Contains(err.Error(), "nack")) {
			t.Fatalf("publish %d: %v, want a nack: %v", i+1, err, wantErr)
		}
	}
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the channel is still open 10 s after a nack")
	}
}

// TestNackedOutputRedeliversItsInput checks that the input of an output
// the broker refuses (a nack) is left to come back when the nack closes
// the channel, not rejected: it returns at once with its attempt
// unchanged, never passing through its retry queue and the queue's
// dead-letter worker (which RabbitMQ 3.10.8 can leave holding it after a
// fail-over). An operator policy caps result, which is filled until it
// refuses publishes; the handler's second call empties it first.
func TestNackedOutputRedeliversItsInput(t *testing.T) {
	var h *harness
	var calls atomic.Int32
	handler := func(_ context.Context, n num) (num, error) {
		if calls.Add(1) == 2 {
			ch, err := h.conn.Channel()
			if err != nil {
				return num{}, err
			}
			defer ch.Close()
			if _, err := ch.QueuePurge("result", false); err != nil {
				t.Errorf("empty result: %v", err)
			}
		}
		return num{n.Value * 2}, nil
	}
	h = newHarness(t, chainGraph("nackin", handler))
	res, err := h.vh.Client.PutOperatorPolicy(h.vh.Name, "cap-result", rabbithole.OperatorPolicy{
		Pattern: "^result$", ApplyTo: "queues", Definition: map[string]any{"max-length": 1},
	})
	if err != nil {
		t.Fatalf("put operator policy: %v", err)
	}
	res.Body.Close()
	h.fill("result")

	cancel, wait, logs := h.backgroundLogs(h.env, "double")
	h.publishNums("start", 21)
	for deadline := time.Now().Add(time.Minute); calls.Load() < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("handler called %d times in a minute, want 2 (refused, then redelivered)\n%s", calls.Load(), logs)
		}
	}
	out := h.waitMessages("result", 1)[0] // the blockers were taken away
	cancel()
	if code := wait(); code != 0 {
		t.Errorf("node exited %d, want 0", code)
	}
	if string(out.Body) != `{"value":42}` || out.Headers[HeaderAttempt] != int32(1) {
		t.Errorf("result %s at attempt %v, want {\"value\":42} at attempt 1: the refused output's input was retried as an attempt", out.Body, out.Headers[HeaderAttempt])
	}
	if !strings.Contains(logs.String(), `"msg":"output not confirmed; the input will be redelivered"`) {
		t.Errorf("logs say nothing of the refused output:\n%s", logs)
	}
	if n := h.count("input.dead"); n != 0 {
		t.Errorf("%d inputs parked, want 0", n)
	}
}

// fill publishes to queue, whose length a policy caps and which refuses
// publishes beyond it, until it refuses one.
func (h *harness) fill(queue string) {
	h.t.Helper()
	ch := h.confirmChannel()
	defer ch.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dc, err := ch.PublishWithDeferredConfirmWithContext(h.t.Context(), "", queue, false, false, amqp.Publishing{Body: []byte(`{"value":-1}`)})
		if err != nil {
			h.t.Fatalf("publish to %s: %v", queue, err)
		}
		if !dc.Wait() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s still takes every publish 30 s after its cap", queue)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClosedPortSaysWhatToCheck checks that a node whose broker port is
// closed says, while it retries, that the broker at HOST:PORT refuses
// connections and what to check, without the password.
func TestClosedPortSaysWhatToCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	g := chainGraph("closed", double)
	code, out, _ := runWith(t, g, "amqp://guest:s3cr3t-pw@"+addr+"/v", 2*time.Second, "double")
	want := "the broker at " + addr + " refuses connections: is RabbitMQ running"
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "DGE_AMQP_URL") {
		t.Errorf("exit %d, output:\n%s\nwant 0 after the cancel, and %q", code, out, want)
	}
	if strings.Contains(out, "s3cr3t-pw") {
		t.Errorf("output holds the password:\n%s", out)
	}
}

// TestPublishReportsLostConfirms closes the publish command's connection
// while it publishes many runs, and checks its report: every run ID it
// printed is queued, every run it sent but could not confirm is listed
// with the right reason (the confirm was lost with the connection, never a
// nack), the counts add up to the inputs, and any run queued beyond the
// printed ones is among those listed as unconfirmed.
func TestPublishReportsLostConfirms(t *testing.T) {
	h := newHarness(t, chainGraph("pubclose", double))
	n := 60000
	for try := 1; ; try++ {
		code, stdout, stderr := h.publishWhileClosing(n)
		if code == 0 {
			// Finished before the close: purge and try with more runs.
			if try == 4 {
				t.Fatalf("publish of %d runs finished before its connection was closed, 4 times", n)
			}
			h.drainIDs("input")
			n *= 2
			continue
		}
		printed := strings.Fields(stdout)
		unconfirmed := map[string]bool{}
		var unsent int
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if id, rest, ok := strings.Cut(line, ": publish: run "); ok && !strings.Contains(id, " ") {
				id, _, _ = strings.Cut(rest, " ")
				if !strings.Contains(rest, ErrUnconfirmed.Error()) {
					t.Errorf("run %s reported with the wrong reason: %s", id, line)
				}
				unconfirmed[id] = true
				continue
			}
			if _, rest, ok := strings.Cut(line, " runs confirmed (their run IDs printed)"); ok {
				if m := regexp.MustCompile(`; (\d+) not published `).FindStringSubmatch(rest); m != nil {
					unsent, _ = strconv.Atoi(m[1])
				}
			}
		}
		if strings.Contains(stderr, "nack") {
			t.Errorf("a confirm lost with the connection reported as a nack:\n%s", tail(stderr, 2000))
		}
		if !strings.Contains(stderr, fmt.Sprintf("%d of %d runs confirmed", len(printed), n)) {
			t.Errorf("the summary does not count the %d printed run IDs:\n%s", len(printed), tail(stderr, 2000))
		}
		if got := len(printed) + len(unconfirmed) + unsent; got != n {
			t.Errorf("%d printed + %d unconfirmed + %d not published = %d, want the %d inputs:\n%s", len(printed), len(unconfirmed), unsent, got, n, tail(stderr, 2000))
		}
		queued := h.drainIDs("input")
		for _, id := range printed {
			if queued[id] != 1 {
				t.Errorf("printed run %s is queued %d times, want 1", id, queued[id])
			}
			delete(queued, id)
		}
		for id := range queued {
			if !unconfirmed[id] {
				t.Errorf("run %s is queued but neither printed nor listed as unconfirmed", id)
			}
		}
		t.Logf("%d runs: %d confirmed and printed, %d unconfirmed (%d of them queued), %d not published",
			n, len(printed), len(unconfirmed), len(queued), unsent)
		return
	}
}

// publishWhileClosing runs publish with n runs and closes its connection
// through the management API as soon as the broker lists it.
func (h *harness) publishWhileClosing(n int) (code int, stdout, stderr string) {
	h.t.Helper()
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "{\"value\": %d}\n", i)
	}
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(h.t.Context(), h.g, []string{"publish", "start"}, h.env, strings.NewReader(in.String()), &out, &errb)
	}()
	h.closeRuntimeConnections()
	code = <-done
	return code, out.String(), errb.String()
}

// drainIDs takes every message ready in queue and returns how many times
// each run ID (correlation ID) was there.
func (h *harness) drainIDs(queue string) map[string]int {
	h.t.Helper()
	return h.drainBy(queue, func(d amqp.Delivery) string { return d.CorrelationId })
}

// drainBy takes every message ready in queue and counts them by key.
func (h *harness) drainBy(queue string, key func(amqp.Delivery) string) map[string]int {
	h.t.Helper()
	ready := h.count(queue)
	ids := make(map[string]int, ready)
	if ready == 0 {
		return ids
	}
	ch, err := h.conn.Channel()
	if err != nil {
		h.t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Qos(1000, 0, false); err != nil {
		h.t.Fatal(err)
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	timeout := time.After(2 * time.Minute)
	for got := 0; got < ready; got++ {
		select {
		case d := <-ds:
			ids[key(d)]++
			if got%500 == 499 || got == ready-1 {
				if err := d.Ack(true); err != nil {
					h.t.Fatal(err)
				}
			}
		case <-timeout:
			h.t.Fatalf("drained %d of the %d messages of %s in two minutes", got, ready, queue)
		}
	}
	return ids
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestClosedConnectionsDuplicateOnlyInFlight runs a chain of two nodes (the
// first with a fixed window of 32, the second adaptive) under a steady
// stream, closes their connection three times through the management API,
// and counts the results that arrive more than once: a lost connection
// may duplicate at most what the nodes held unacknowledged at that moment,
// their windows (the adaptive node's current consumer and, while it
// changes its window, the one before), never the runs that follow.
func TestClosedConnectionsDuplicateOnlyInFlight(t *testing.T) {
	adaptive := testEdge("mid")
	adaptive.Prefetch = 0
	h := newHarness(t, testGraph("dups",
		Start[num]("start", "input"),
		Process[num, num]("double", testEdge("input"), double, "mid"),
		Process[num, num]("again", adaptive, double, "result"),
		Terminate[num]("result", testEdge("result")),
	))
	stop := h.background("all")
	defer stop()
	const closes, perRound = 3, 1500
	ch, err := h.conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	sent := 0
	publish := func(n int) {
		for range n {
			dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), h.g.WorkExchange, "input", true, false, amqp.Publishing{
				MessageId: "in-" + strconv.Itoa(sent), DeliveryMode: amqp.Persistent, Body: fmt.Appendf(nil, `{"value": %d}`, sent),
			})
			if err != nil {
				t.Fatal(err)
			}
			sent++
			if sent%50 == 0 && !dc.Wait() {
				t.Fatal("input not confirmed")
			}
		}
	}
	for range closes {
		publish(perRound / 2)
		h.closeRuntimeConnections()
		publish(perRound / 2)
	}
	publish(perRound)
	for _, q := range []string{"input", "mid"} {
		h.waitSettled(q)
	}
	ids := map[string]int{}
	for deadline := time.Now().Add(2 * time.Minute); len(ids) < sent && time.Now().Before(deadline); {
		for id, n := range h.drainMessageIDs("result") {
			ids[id] += n
		}
		time.Sleep(100 * time.Millisecond)
	}
	dups := 0
	for _, n := range ids {
		dups += n - 1
	}
	bound := closes * (32 + 2*maxWindow)
	t.Logf("%d runs, %d closes: %d results duplicated (bound %d)", sent, closes, dups, bound)
	if len(ids) != sent {
		t.Errorf("%d distinct results of %d runs", len(ids), sent)
	}
	if dups > bound {
		t.Errorf("%d results duplicated after %d connection losses, more than the %d the windows held", dups, closes, bound)
	}
}

// drainMessageIDs takes every message ready in queue and returns how many
// times each message ID was there.
func (h *harness) drainMessageIDs(queue string) map[string]int {
	h.t.Helper()
	return h.drainBy(queue, func(d amqp.Delivery) string { return d.MessageId })
}

// TestSlowDeliveryHoldsBackNoAcks holds the first delivery of a node in
// its handler while the node handles the 100 after it, then closes the
// node's connection: only the held delivery may come back. An acker that
// acknowledged only the prefix of decided delivery tags kept all 100
// unacknowledged behind the held one, and the lost connection redelivered
// them all: 100 duplicated results.
func TestSlowDeliveryHoldsBackNoAcks(t *testing.T) {
	release := make(chan struct{})
	var released sync.Once
	defer released.Do(func() { close(release) })
	hold := func(ctx context.Context, n num) (num, error) {
		if n.Value == 0 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return num{n.Value * 2}, nil
	}
	edge := testEdge("input")
	edge.Prefetch = 128
	h := newHarness(t, testGraph("held",
		Start[num]("start", "input"),
		Process[num, num]("double", edge, hold, "result"),
		Terminate[num]("result", testEdge("result")),
	))
	stop := h.background("double")
	defer stop()
	const n = 100
	values := make([]int, n+1)
	for i := range values {
		values[i] = i
	}
	h.publishNums("start", values...)
	ids := map[string]int{}
	for _, d := range h.waitMessages("result", n) {
		ids[d.MessageId]++
	}
	// Every delivery but the held one is handled: the broker must see them
	// acknowledged, and only the held one outstanding. The management API's
	// count lags up to 5 s.
	deadline := time.Now().Add(time.Minute)
	for {
		q, err := h.vh.Client.GetQueue(h.vh.Name, "input")
		if err == nil && q.MessagesUnacknowledged == 1 && q.MessagesReady == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("input still holds %d unacknowledged deliveries a minute after %d of them were handled: the held one keeps the acks of those behind it", q.MessagesUnacknowledged, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.closeRuntimeConnections()
	released.Do(func() { close(release) })
	for deadline := time.Now().Add(time.Minute); len(ids) < n+1 && time.Now().Before(deadline); {
		for id, c := range h.drainMessageIDs("result") {
			ids[id] += c
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.waitSettled("input")
	time.Sleep(time.Second) // let a late duplicate arrive, if any
	for id, c := range h.drainMessageIDs("result") {
		ids[id] += c
	}
	dups := 0
	for _, c := range ids {
		dups += c - 1
	}
	t.Logf("%d runs, one held in its handler across a lost connection: %d results duplicated", n+1, dups)
	if len(ids) != n+1 {
		t.Errorf("%d distinct results of %d runs", len(ids), n+1)
	}
	if dups > 1 {
		t.Errorf("%d results duplicated after the connection was lost; only the held delivery was in flight", dups)
	}
}
