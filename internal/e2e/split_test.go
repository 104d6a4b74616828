package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	docs "github.com/dgehq/dge/examples/docs/behaviour"
	fib "github.com/dgehq/dge/examples/fib/behaviour"
)

// fibNodes are the subcommands of examples/fib's consuming nodes.
var fibNodes = []string{"numbers", "fib", "sum"}

// fibQueues are examples/fib's edge queues, whose .dead queues must stay
// empty.
var fibQueues = []string{"numbers", "fib", "sum", "total"}

// total is examples/fib's result, as consume prints it.
type total = fib.Total

// sumFib is the direct computation a run's result is checked against:
// fib(from) + … + fib(to) = fib(to+2) − fib(from+1).
func sumFib(from, to int64) *big.Int {
	return new(big.Int).Sub(fib.Fib(to+2), fib.Fib(from+1))
}

// fibRanges returns the JSON lines of n runs, run r (1..n) the range
// r..r+items-1, so each run's result names its run by its first number.
func fibRanges(from, to, items int) string {
	var b strings.Builder
	for r := from; r <= to; r++ {
		fmt.Fprintf(&b, "{\"from\":%d,\"to\":%d}\n", r, r+items-1)
	}
	return b.String()
}

// startFib starts instances of every node of examples/fib, each its own
// process, and returns them by name ("fib-2").
func startFib(e *env, instances int) (map[string]*proc, []string) {
	procs := map[string]*proc{}
	var names []string
	for _, n := range fibNodes {
		for i := 1; i <= instances; i++ {
			name := fmt.Sprintf("%s-%d", n, i)
			procs[name] = e.start(name, n)
			names = append(names, name)
		}
	}
	return procs, names
}

// splitTally checks fib results against the direct computation: a run
// with a wrong count or sum is double-counted (or lost items), a run seen
// twice a duplicate.
type splitTally struct {
	t          *testing.T
	runs       int
	items      int
	seen       map[int64]bool
	dups, bad  int
	firstWrong string
}

func newSplitTally(t *testing.T, runs, items int) *splitTally {
	return &splitTally{t: t, runs: runs, items: items, seen: map[int64]bool{}}
}

func (s *splitTally) add(line string) {
	var r total
	if err := json.Unmarshal([]byte(line), &r); err != nil || r.Sum == nil {
		s.t.Fatalf("result %q: not a Total (%v)", line, err)
	}
	if r.First < 1 || r.First > int64(s.runs) {
		s.t.Fatalf("result %q of no run published", line)
	}
	if r.Count != int64(s.items) || r.Last != r.First+int64(s.items)-1 || r.Sum.Cmp(sumFib(r.First, r.Last)) != 0 {
		s.bad++
		if s.firstWrong == "" {
			s.firstWrong = fmt.Sprintf("run %d..%d gave %s, want count %d and sum %v", r.First, r.First+int64(s.items)-1, line, s.items, sumFib(r.First, r.First+int64(s.items)-1))
		}
	}
	if s.seen[r.First] {
		s.dups++
	}
	s.seen[r.First] = true
}

// parkedIn counts the messages in the dead queues of the given edge queues.
func parkedIn(e *env, queues []string) int {
	n := 0
	for _, q := range queues {
		n += e.queueCount(q + ".dead")
	}
	return n
}

// TestFibSplit runs examples/fib with one instance of every node on the
// real broker: 1..10 gives 143 (the seed's example), a range of no
// numbers (a split of 0 items) reaches the gather and gives the fold's
// zero, and 1..200 matches the direct computation.
func TestFibSplit(t *testing.T) {
	e := newEnv(t, "examples/fib", "./examples/fib/cmd/fib")
	startFib(e, 1)
	e.run("publish", "{\"from\":1,\"to\":10}\n{\"from\":5,\"to\":4}\n{\"from\":1,\"to\":200}\n", "publish", "start")
	result := e.consume("total")
	got := map[string]bool{}
	for range 3 {
		got[result.next(t)] = true
	}
	for _, want := range []string{
		`{"count":10,"first":1,"last":10,"sum":143}`,
		`{"count":0,"first":0,"last":0,"sum":0}`,
		fmt.Sprintf(`{"count":200,"first":1,"last":200,"sum":%v}`, sumFib(1, 200)),
	} {
		if !got[want] {
			t.Errorf("results %v lack %s", keys(got), want)
		}
	}
	if n := parkedIn(e, fibQueues); n != 0 {
		t.Errorf("%d messages parked, want 0", n)
	}
}

// TestFibSplitRuns: DGE_SPLIT_RUNS runs (default 1,000),
// each split into 100 items, through 3 instances of every node: every
// run's sum is right (checked against the direct computation), none lost,
// none double-counted; duplicates (a run's result twice) are logged.
func TestFibSplitRuns(t *testing.T) {
	runs := chaosInt(t, "DGE_SPLIT_RUNS", 1000)
	const items = 100
	e := newEnv(t, "examples/fib", "./examples/fib/cmd/fib")
	startFib(e, 3)
	result := e.consume("total")
	e.run("publish", fibRanges(1, runs, items), "publish", "start")
	tally := newSplitTally(t, runs, items)
	for len(tally.seen) < runs {
		tally.add(result.next(t))
	}
	parked := parkedIn(e, fibQueues)
	line := fmt.Sprintf("chaos: split-runs runs=%d items=%d lost=%d double_counted=%d duplicates=%d parked=%d",
		runs, runs*items, runs-len(tally.seen), tally.bad, tally.dups, parked)
	t.Log(line)
	fmt.Println(line)
	if tally.bad > 0 || parked > 0 {
		t.Errorf("%d runs with a wrong sum (first: %s), %d messages parked", tally.bad, tally.firstWrong, parked)
	}
}

// TestFibSplitKillStorm: the same runs with a SIGKILL every second, each
// instance restarted at once: no run lost, none double-counted, nothing
// parked; duplicates are counted and printed. The victims take turns by
// node (numbers, fib, sum: splitting, mapping, folding), a random instance
// of each, so that with the default 9 kills no node is killed more than 3
// times: every kill hands the messages its victim held back to the queue
// one delivery closer to the work queues' delivery-limit of 5, and a node
// killed 4 or more times within seconds can rightly have the crash-loop
// guard park a healthy message its instances held each time (random
// victims gave the splitting node 4 to 6 of 10 kills in some runs, and
// those runs parked). Sizes: DGE_SPLIT_RUNS (default 1,000) and
// DGE_SPLIT_KILLS (default 9); make chaos runs 3,000 runs and 60 kills.
func TestFibSplitKillStorm(t *testing.T) {
	runs := chaosInt(t, "DGE_SPLIT_RUNS", 1000)
	kills := chaosInt(t, "DGE_SPLIT_KILLS", 9)
	const items = 100
	e := newEnv(t, "examples/fib", "./examples/fib/cmd/fib")
	procs, names := startFib(e, 3)
	result := e.consume("total")
	// One batch of runs and one SIGKILL a second, so that the storm lasts
	// as long as the runs are being published.
	batch := (runs + kills - 1) / kills
	next := 1
	publish := func() {
		if next > runs {
			return
		}
		to := min(next+batch-1, runs)
		e.run("publish", fibRanges(next, to, items), "publish", "start")
		next = to + 1
	}
	publish()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	killed, gen := 0, 0
	killedNodes := map[string]int{}
	tally := newSplitTally(t, runs, items)
	deadline := time.After(time.Duration(kills+240) * time.Second)
	for len(tally.seen) < runs {
		select {
		case line, ok := <-result.lines:
			if !ok {
				t.Fatalf("consume ended early: %s", result.p.stderr.String())
			}
			tally.add(line)
		case <-tick.C:
			if killed == kills {
				continue
			}
			node := []string{"numbers", "fib", "sum"}[killed%3]
			var ofNode []string
			for _, name := range names {
				if strings.HasPrefix(name, node+"-") {
					ofNode = append(ofNode, name)
				}
			}
			name := ofNode[rng.IntN(len(ofNode))]
			procs[name].kill()
			gen++
			procs[name] = e.start(fmt.Sprintf("%s-r%d", name, gen), node)
			killed++
			killedNodes[node]++
			publish()
		case <-deadline:
			t.Fatalf("%d of %d runs delivered after %d SIGKILLs (%v)", len(tally.seen), runs, killed, killedNodes)
		}
	}
	parked := parkedIn(e, fibQueues)
	line := fmt.Sprintf("chaos: split-sigkill-storm runs=%d items=%d kills=%d (numbers=%d fib=%d sum=%d) lost=%d double_counted=%d duplicates=%d parked=%d",
		runs, runs*items, killed, killedNodes["numbers"], killedNodes["fib"], killedNodes["sum"], runs-len(tally.seen), tally.bad, tally.dups, parked)
	t.Logf("%s; duplicates are results received twice for one run", line)
	fmt.Println(line)
	if tally.bad > 0 || parked > 0 {
		t.Errorf("%d runs with a wrong sum (first: %s), %d messages parked", tally.bad, tally.firstWrong, parked)
	}
}

// TestFibSplitItemFailsThenRedriven: the fib instances refuse n = 13
// (DGE_FIB_REFUSE=13), so the run 1..20 ends with a failure record naming
// process.fib; restarted without the refusal, `dge parked redrive` of the
// parked item completes the split, and the run's result follows: 17,710.
func TestFibSplitItemFailsThenRedriven(t *testing.T) {
	e := newEnv(t, "examples/fib", "./examples/fib/cmd/fib")
	dge := build(t, "./cmd/dge")
	e.start("numbers-1", "numbers")
	e.start("sum-1", "sum")
	e.extra = []string{fib.RefuseEnv + "=13"}
	refusing := e.start("fib-1", "fib")
	e.extra = nil
	cmd := e.command("consume-total", "consume", "total", "-envelope", "-n", "2", "-timeout", "3m")
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = &syncBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	e.run("publish", `{"from":1,"to":20}`+"\n", "publish", "start")
	waitFor(t, "the failure record", func() bool { return strings.Contains(out.String(), `"failed"`) })
	var rec struct {
		Node   string `json:"node"`
		Failed struct {
			Node, Reason, Error string
		} `json:"failed"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &rec); err != nil {
		t.Fatalf("failure record %q: %v", out.String(), err)
	}
	if rec.Node != "terminate.total" || rec.Failed.Node != "process.fib" || rec.Failed.Reason != "permanent" || !strings.Contains(rec.Failed.Error, "fib(13)") {
		t.Errorf("failure record %+v, want process.fib's permanent refusal of fib(13) at terminate.total", rec)
	}
	if n := e.queueCount("fib.dead"); n != 1 {
		t.Fatalf("fib.dead holds %d messages, want the one item n = 13", n)
	}

	refusing.kill()
	e.start("fib-2", "fib")
	redrive := exec.Command(dge, "parked", "redrive", "-auto-approve", "-node", "process.fib", "-var", "vhost="+e.vh.Name, "examples/fib")
	redrive.Dir = repoRoot(t)
	redrive.Env = append(os.Environ(), "DGE_MANAGEMENT_URL="+e.vh.ManagementURL, "DGE_AMQP_URL="+e.vh.AMQPURL)
	if o, err := redrive.CombinedOutput(); err != nil {
		t.Fatalf("dge parked redrive: %v\n%s", err, o)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("consume -n 2: %v\n%s", waitErr, out.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("no result within 3 minutes of the redrive; consume printed:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"result":{"count":20,"first":1,"last":20,"sum":17710}`) {
		t.Errorf("consume printed %q, want the failure record, then the result 17710 (fib(1) + … + fib(20))", lines)
	}
	for _, q := range fibQueues {
		if n := e.queueCount(q + ".dead"); n != 0 {
			t.Errorf("%s.dead holds %d messages after the redrive, want 0", q, n)
		}
	}
}

// TestDocsNestedSplit runs examples/docs (a split of chapters, each split
// into pages, two list-form gathers) with two instances of every node:
// the sample document, a document without text (0 chapters) and one with
// an empty chapter (0 pages inside the outer split) each give the summary
// the handlers give when called in order.
func TestDocsNestedSplit(t *testing.T) {
	e := newEnv(t, "examples/docs", "./examples/docs/cmd/docs")
	for _, n := range []string{"chapters", "pages", "summarise", "chapter", "summary"} {
		for i := 1; i <= 2; i++ {
			e.start(fmt.Sprintf("%s-%d", n, i), n)
		}
	}
	b, err := os.ReadFile(repoRoot(t) + "/examples/docs/sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample docs.Document
	if err := json.Unmarshal(b, &sample); err != nil {
		t.Fatal(err)
	}
	inputs := []docs.Document{sample, {Title: "empty"}, {Title: "gap", Text: "# One\n# Two\nSome words here.\n"}}
	var lines []string
	var want []string
	for _, d := range inputs {
		j, _ := json.Marshal(d)
		lines = append(lines, string(j))
		want = append(want, docsDirect(t, d))
	}
	e.run("publish", strings.Join(lines, "\n")+"\n", "publish", "document")
	result := e.consume("result")
	var got []string
	for range inputs {
		got = append(got, result.next(t))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("summaries\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := parkedIn(e, []string{"docs.chapters", "docs.pages", "docs.summarise", "docs.chapter", "docs.document", "docs.result"}); n != 0 {
		t.Errorf("%d messages parked, want 0", n)
	}
}

// docsDirect runs examples/docs' handlers in the graph's order: the
// summary the graph must return for d, as consume prints it.
func docsDirect(t *testing.T, d docs.Document) string {
	t.Helper()
	ctx := context.Background()
	chapters, err := docs.Chapters(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	cs := []docs.ChapterSummary{}
	for _, c := range chapters {
		pages, err := docs.Pages(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ps := []docs.PageSummary{}
		for _, p := range pages {
			s, err := docs.Summarise(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, s)
		}
		c, err := docs.JoinPages(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	s, err := docs.JoinChapters(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keys returns a set's members, sorted.
func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
