package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// execLocal runs the local subcommand in-process.
func execLocal(t *testing.T, g Graph, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb syncBuffer
	env := func(string) string { return "" }
	code = run(t.Context(), g, append([]string{"local"}, args...), env, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLocalPrintsEveryResult(t *testing.T) {
	g := joinGraph("local", time.Minute)
	code, out, errs := execLocal(t, g, "{\"value\": 1}\n\n{\"value\":2}\n{\"value\":3}\n")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(lines)
	// (n+1)*100000 + n*10, compact JSON.
	want := []string{`{"value":200010}`, `{"value":300020}`, `{"value":400030}`}
	if !slices.Equal(lines, want) {
		t.Errorf("stdout lines %q, want %q", lines, want)
	}
	if !strings.Contains(errs, "local local: 3 runs, 3 results, 0 failure records, 0 parked") {
		t.Errorf("stderr %q, want the summary", errs)
	}
}

func TestLocalReportsParkedAndExitsZero(t *testing.T) {
	g := chainGraph("localpark", func(_ context.Context, n num) (num, error) {
		if n.Value < 0 {
			return num{}, Permanent(fmt.Errorf("negative value %d", n.Value))
		}
		return num{2 * n.Value}, nil
	})
	code, out, errs := execLocal(t, g, `{"value": 4}`+"\n"+`{"value": -1}`+"\n")
	if code != 0 || out != "{\"value\":8}\n" {
		t.Errorf("exit %d, stdout %q; want 0 and the one result", code, out)
	}
	for _, want := range []string{
		"parked: process.double (queue input.dead) run ", ", reason permanent, attempt 1: negative value -1; body {\"value\":-1}\n",
		"2 runs, 1 result, 1 failure record, 1 parked\n",
		"localpark local: 1 failure record not printed (-envelope prints them)\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q, want it to contain %q", errs, want)
		}
	}
}

func TestLocalTimeout(t *testing.T) {
	// Every attempt fails and waits an hour in input.retry.
	e := testEdge("input")
	e.Retry = time.Hour
	g := testGraph("localtimeout",
		Start[num]("start", "input"),
		Process[num, num]("double", e, func(context.Context, num) (num, error) { return num{}, errors.New("down") }, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	code, out, errs := execLocal(t, g, `{"value": 1}`, "-timeout", "200ms")
	if code != 1 || out != "" || !strings.Contains(errs, "-timeout 200ms passed before every run finished; messages still in flight by queue: input.retry: 1") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and the queue still busy", code, out, errs)
	}
}

func TestLocalEnvelopeAndStart(t *testing.T) {
	g := testGraph("twostarts",
		Start[num]("a", "input"),
		Start[num]("b", "input"),
		Process[num, num]("double", testEdge("input"), double, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	code, _, errs := execLocal(t, g, `{"value": 1}`)
	if code != 2 || !strings.Contains(errs, "the graph has 2 start nodes (a, b): choose one with -start") {
		t.Errorf("exit %d, stderr %q; want 2 and a request for -start", code, errs)
	}
	code, out, errs := execLocal(t, g, `{"value": 5}`, "-start", "b", "-envelope")
	var env resultLine
	if err := json.Unmarshal([]byte(out), &env); code != 0 || err != nil || env.Node != "terminate.result" || len(env.RunID) != 32 || len(env.MessageID) != 32 || string(env.Result) != `{"value":10}` {
		t.Errorf("exit %d, stdout %q (%v), stderr %q; want an envelope with the result", code, out, err, errs)
	}
}

func TestLocalRefusesBadInput(t *testing.T) {
	g := chainGraph("localbad", double)
	tests := []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"{\"value\": 1}\n{\"value\": x}\n", nil, 1, "stdin line 2 is not a valid start.start message"},
		{`{"valeu": 1}`, nil, 1, `unknown field "valeu"`},
		{"\n", nil, 2, "local: no input"},
		{`{"value": 1}`, []string{"extra"}, 2, `unexpected argument "extra"`},
		{`{"value": 1}`, []string{"-start", "double"}, 2, `-start "double" is not a start node`},
		{`{"value": 1}`, []string{"-timeout", "-1s"}, 2, "-timeout must not be negative"},
	}
	for _, tt := range tests {
		code, out, errs := execLocal(t, g, tt.stdin, tt.args...)
		if code != tt.code || out != "" || !strings.Contains(errs, tt.want) {
			t.Errorf("local %v < %q: exit %d, stdout %q, stderr %q; want %d and %q", tt.args, tt.stdin, code, out, errs, tt.code, tt.want)
		}
	}
}

// TestLocalEndsFailedRunsAtOnce runs 10 good and 10 failing runs through a
// join whose timeout is an hour: local must end every failed run with a
// failure record (its other part parked as member-failed), never waiting
// for that timeout, and exit once every run has ended.
func TestLocalEndsFailedRunsAtOnce(t *testing.T) {
	g := testGraph("localfail",
		Start[num]("start", "input"),
		FanOut[num]("split", testEdge("input"), "a_in", "b_in"),
		Process[num, num]("a", testEdge("a_in"), double, "join"),
		Process[num, word]("b", testEdge("b_in"), func(_ context.Context, n num) (word, error) {
			if n.Value%2 == 1 {
				return word{}, Permanent(errors.New("odd"))
			}
			return word{fmt.Sprint(n.Value)}, nil
		}, "join"),
		Join[num]("join", testEdge("join"), []Part{PartOf[num]("process.a"), PartOf[word]("process.b")}, time.Hour,
			func(_ context.Context, parts []any) (num, error) { return num{parts[0].(num).Value + 1}, nil }, "result"),
		Terminate[num]("result", testEdge("result")),
	)
	var in strings.Builder
	for v := range 20 {
		fmt.Fprintf(&in, "{\"value\": %d}\n", v)
	}
	code, out, errs := execLocal(t, g, in.String(), "-envelope", "-timeout", "2m")
	if code != 0 {
		t.Fatalf("exit %d (an exit 1 after -timeout means local waited for the join's timeout), stderr:\n%s", code, errs)
	}
	var results, failed int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Node   string          `json:"node"`
			RunID  string          `json:"run_id"`
			Result json.RawMessage `json:"result"`
			Failed *RunFailure     `json:"failed"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		switch {
		case e.Failed != nil:
			failed++
			if *e.Failed != (RunFailure{Node: "process.b", Reason: "permanent", Error: "odd"}) || e.Node != "terminate.result" || e.RunID == "" {
				t.Errorf("failure record %s, want run failed at process.b: permanent, odd", line)
			}
		case e.Result != nil:
			results++
		default:
			t.Errorf("line %s is neither a result nor a failure record", line)
		}
	}
	if results != 10 || failed != 10 {
		t.Errorf("%d results and %d failure records, want 10 and 10; stdout:\n%s", results, failed, out)
	}
	if !strings.Contains(errs, "localfail local: 20 runs, 10 results, 10 failure records, ") {
		t.Errorf("stderr %q, want the summary", errs)
	}
}

// TestLocalTimeoutOptions: AggregateTimeout and PollTimeout replace the
// graph's timeouts (an hour here), and what they park ends its run with a
// failure record.
func TestLocalTimeoutOptions(t *testing.T) {
	t.Run("aggregate", func(t *testing.T) {
		g := joinGraph("localaggtimeout", time.Hour)
		l, err := StartLocal(g, newMemory(g, 0, 0), LocalOptions{AggregateTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// A lone part, as if b's part were lost: nothing failed, so only
		// the timeout ends the group.
		conf, err := l.pub.Publish(t.Context(), l.g.WorkExchange, "join", Message{Body: []byte(`{"value":1}`), MessageID: "lone", RunID: "lone", Source: "process.a"})
		if err == nil {
			err = conf.Wait(t.Context())
		}
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		parked, err := l.WaitParked(ctx, "join", 1)
		if err != nil || parked[0].Reason != "incomplete-group" {
			t.Fatalf("parked %+v (%v), want the lone part as incomplete-group", parked, err)
		}
		recs, err := l.WaitFailures(ctx, "result", 1)
		if err != nil || recs[0].RunID != "lone" || recs[0].Failed.Node != "aggregate.join" || recs[0].Failed.Reason != "incomplete-group" {
			t.Fatalf("failure records %+v (%v), want run lone failed at aggregate.join", recs, err)
		}
	})
	t.Run("poll", func(t *testing.T) {
		g := pollGraph("localpolltimeout", 10*time.Millisecond, time.Hour, func(context.Context, num) (num, bool, error) { return num{}, false, nil })
		l, err := StartLocal(g, newMemory(g, 0, 0), LocalOptions{PollTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		run, err := l.Publish(t.Context(), "start", []byte(`{"value":1}`))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		recs, err := l.WaitFailures(ctx, "result", 1)
		if err != nil || recs[0].RunID != run || recs[0].Failed.Node != "poll.check" || recs[0].Failed.Reason != "timeout" {
			t.Fatalf("failure records %+v (%v), want run %s failed at poll.check: timeout", recs, err, run)
		}
	})
}
