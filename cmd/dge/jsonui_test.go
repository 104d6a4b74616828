package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/plan"
)

// uiLines parses the machine-readable UI line by line: every line must be
// one JSON object with a type, @level, @message, @module and an RFC 3339
// @timestamp. It returns the lines with their timestamps and elapsed
// seconds normalised (and the replacements applied), for golden files,
// and the parsed events.
func uiLines(t *testing.T, out string, replace ...string) (string, []map[string]any) {
	t.Helper()
	if out == "" || !strings.HasSuffix(out, "\n") {
		t.Fatalf("output %q is not newline-terminated lines", out)
	}
	timestamp := regexp.MustCompile(`"@timestamp":"[^"]*"`)
	elapsed := regexp.MustCompile(`"elapsed_seconds":\d+`)
	var norm strings.Builder
	var events []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		for _, k := range []string{"type", "@level", "@message", "@module", "@timestamp"} {
			if s, ok := ev[k].(string); !ok || s == "" {
				t.Fatalf("line %d lacks %s:\n%s", i+1, k, line)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, ev["@timestamp"].(string)); err != nil {
			t.Fatalf("line %d: @timestamp: %v", i+1, err)
		}
		events = append(events, ev)
		line = timestamp.ReplaceAllString(line, `"@timestamp":"TIMESTAMP"`)
		line = elapsed.ReplaceAllString(line, `"elapsed_seconds":0`)
		norm.WriteString(line + "\n")
	}
	s := norm.String()
	for i := 0; i+1 < len(replace); i += 2 {
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s, events
}

// types returns the type of each event.
func types(events []map[string]any) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev["type"].(string))
	}
	return out
}

// TestApplyJSONStream drives apply -json and destroy -json against the
// broker, with a parallelism of 1 so the stream's order is the plan's, and
// compares each stream with its golden file; then applies a saved plan
// with -json (no -auto-approve needed) and checks the summaries.
func TestApplyJSONStream(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")

	code, out, errs := runIn(t, environ, "apply", "-json", "-auto-approve", "-parallelism", "1", dir)
	if code != 0 || errs != "" {
		t.Fatalf("apply -json: exit %d, stderr %q\n%s", code, errs, out)
	}
	norm, events := uiLines(t, out, vh.Name, "VHOST")
	checkGolden(t, "apply/apply.jsonl", []byte(norm))
	last := events[len(events)-1]
	if last["type"] != "change_summary" || last["changes"].(map[string]any)["add"] != 16.0 {
		t.Errorf("last line %v; want a change_summary with add 16", last)
	}

	// A saved plan applies with -json and no -auto-approve.
	planFile := filepath.Join(t.TempDir(), "c.plan")
	dir7 := chainGraph(t, vh.Name, "7s")
	if code, _, errs := runIn(t, environ, "plan", "-out", planFile, dir7); code != 0 {
		t.Fatalf("plan -out: exit %d: %s", code, errs)
	}
	code, out, errs = runIn(t, environ, "apply", "-json", "-parallelism", "1", planFile)
	if code != 0 || errs != "" {
		t.Fatalf("apply -json PLANFILE: exit %d, stderr %q\n%s", code, errs, out)
	}
	_, events = uiLines(t, out)
	got := strings.Join(types(events), " ")
	want := "version planned_change planned_change change_summary apply_start apply_complete apply_start apply_complete change_summary"
	if got != want {
		t.Errorf("apply -json PLANFILE: types\n%s\nwant\n%s\n%s", got, want, out)
	}
	if c := events[len(events)-1]["changes"].(map[string]any); c["add"] != 1.0 || c["change"] != 1.0 || c["operation"] != "apply" {
		t.Errorf("final summary %v; want 1 added, 1 changed, operation apply", c)
	}

	// Nothing to do: the stream still ends with a summary.
	code, out, errs = runIn(t, environ, "apply", "-json", "-auto-approve", dir7)
	if code != 0 {
		t.Fatalf("apply -json with no changes: exit %d, stderr %q\n%s", code, errs, out)
	}
	_, events = uiLines(t, out)
	if got, want := strings.Join(types(events), " "), "version change_summary change_summary"; got != want {
		t.Errorf("apply -json with no changes: types %s; want %s", got, want)
	}

	code, out, errs = runIn(t, environ, "destroy", "-json", "-auto-approve", "-parallelism", "1", dir)
	if code != 0 || errs != "" {
		t.Fatalf("destroy -json: exit %d, stderr %q\n%s", code, errs, out)
	}
	norm, events = uiLines(t, out, vh.Name, "VHOST")
	checkGolden(t, "apply/destroy.jsonl", []byte(norm))
	if c := events[len(events)-1]["changes"].(map[string]any); c["remove"] != 17.0 || c["operation"] != "destroy" {
		t.Errorf("final summary %v; want 17 removed, operation destroy", c)
	}
}

// TestJSONErrors checks that every command taking -json (graph: -format
// json) reports its failures as JSON diagnostic lines on stdout, with
// nothing on stderr: bad flags, bad arguments, a graph with errors (with
// their source range), a broker that does not answer.
func TestJSONErrors(t *testing.T) {
	good := chainGraph(t, "/dge-json-errors", "5s")
	bad := chainGraph(t, "/dge-json-errors", "5s")
	src := filepath.Join(bad, "graph.dge.hcl")
	if err := os.WriteFile(src, []byte(strings.Replace(readFile(t, src), "from    = start.start", "from    = start.nowhere", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	notPlan := filepath.Join(writeTemp(t, map[string]string{"notes.txt": "not a plan\n"}), "notes.txt")
	offline := []string{"DGE_MANAGEMENT_URL=http://127.0.0.1:1", "DGE_AMQP_URL=amqp://127.0.0.1:1/"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"validate-bad-flag", []string{"validate", "-json", "-bogus", good}},
		{"validate-two-paths", []string{"validate", "-json", good, good}},
		{"plan-bad-graph", []string{"plan", "-json", bad}},
		{"plan-no-broker", []string{"plan", "-json", good}},
		{"apply-no-auto-approve", []string{"apply", "-json", good}},
		{"apply-bad-parallelism", []string{"apply", "-json", "-auto-approve", "-parallelism", "0", good}},
		{"apply-no-broker", []string{"apply", "-json", "-auto-approve", good}},
		{"destroy-no-auto-approve", []string{"destroy", "-json", good}},
		{"destroy-bad-graph", []string{"destroy", "-json", "-auto-approve", bad}},
		{"show-not-a-plan", []string{"show", "-json", notPlan}},
		{"show-no-argument", []string{"show", "-json"}},
		{"status-bad-graph", []string{"status", "-json", bad}},
		{"status-no-broker", []string{"status", "-json", good}},
		{"parked-list-bad-graph", []string{"parked", "list", "-json", bad}},
		{"graph-json-bad-graph", []string{"graph", "-format", "json", bad}},
		{"graph-json-status", []string{"graph", "-format=json", "-status", good}},
		{"version-argument", []string{"version", "-json", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runIn(t, offline, tc.args...)
			if code != 1 || errs != "" {
				t.Fatalf("exit %d, stderr %q; want exit 1 and nothing on stderr\nstdout:\n%s", code, errs, out)
			}
			norm, events := uiLines(t, out, good, "GOOD", bad, "BAD", notPlan, "NOTPLAN")
			last := events[len(events)-1]
			d, _ := last["diagnostic"].(map[string]any)
			if last["type"] != "diagnostic" || last["@level"] != "error" || d["severity"] != "error" || d["summary"] == "" {
				t.Errorf("last line %v; want an error diagnostic", last)
			}
			for _, ev := range events {
				if ev["type"] != "diagnostic" && ev["type"] != "version" {
					t.Errorf("line of type %v; want only diagnostics (after apply's version line)", ev["type"])
				}
			}
			checkGolden(t, filepath.Join("jsonerrors", tc.name+".jsonl"), []byte(norm))
		})
	}
}

// TestJSONHelpStaysText checks that -h with -json prints the usage as text
// on stderr and exits 0, as without -json.
func TestJSONHelpStaysText(t *testing.T) {
	code, out, errs := runIn(t, nil, "plan", "-json", "-h")
	if code != 0 || out != "" || !strings.HasPrefix(errs, "Usage: dge plan") {
		t.Fatalf("plan -json -h: exit %d, stdout %q, stderr %q; want 0 and the usage on stderr", code, out, errs)
	}
}

// fakeClock is a clock a test sets.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestJSONProgressErrored checks the hooks of a change that fails: an
// apply_start, then an apply_errored at level error with its elapsed
// seconds.
func TestJSONProgressErrored(t *testing.T) {
	var out strings.Builder
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := &fakeClock{t: t0}
	p := newJSONProgress(&jsonUI{w: &out, now: clock.now}, clock.now, time.Hour)
	c := plan.Change{Action: plan.Create, Kind: plan.KindQueue, Address: "queue.a"}
	p.Started(c)
	clock.set(t0.Add(3 * time.Second))
	p.Finished(c, false, errors.New("boom"))
	p.stop()
	want := `{"@level":"info","@message":"queue.a: Creating...","@module":"dge.ui","@timestamp":"2026-01-02T03:04:05.000000Z","type":"apply_start","hook":{"resource":{"addr":"queue.a","kind":"queue"},"action":"create"}}
{"@level":"error","@message":"queue.a: Creation errored after 3s","@module":"dge.ui","@timestamp":"2026-01-02T03:04:08.000000Z","type":"apply_errored","hook":{"resource":{"addr":"queue.a","kind":"queue"},"action":"create","elapsed_seconds":3}}
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestTextProgressTerminal checks the status line a terminal gets: drawn
// at once, erased before each progress line and drawn again after it with
// the count done, and erased at the end; and that it is absent otherwise.
func TestTextProgressTerminal(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := plan.Change{Action: plan.Create, Kind: plan.KindQueue, Address: "queue.a"}
	b := plan.Change{Action: plan.Delete, Kind: plan.KindQueue, Address: "queue.b"}

	var out strings.Builder
	clock := &fakeClock{t: t0}
	p := newTextProgress(&out, true, 2, clock.now)
	clock.set(t0.Add(1500 * time.Millisecond))
	p.Finished(a, false, nil)
	clock.set(t0.Add(2 * time.Second))
	p.Finished(b, false, errors.New("refused"))
	p.stop()
	// The ticker may have redrawn the line meanwhile: drop repeated
	// redraws of the same status.
	got := regexp.MustCompile(`(\r\x1b\[K\[[0-9/]+\] [0-9.a-z]+ elapsed)+`).ReplaceAllStringFunc(out.String(), func(s string) string {
		parts := strings.Split(s, "\r\x1b[K")
		return "\r\x1b[K" + parts[len(parts)-1]
	})
	got = strings.TrimPrefix(got, "\r\x1b[K") // drawn first on a fresh line
	want := "[0/2] 0s elapsed\r\x1b[Kqueue.a: Creation complete\n[1/2] 1s elapsed\r\x1b[K[2/2] 2s elapsed\r\x1b[K"
	if got != want {
		t.Errorf("terminal output %q; want %q", got, want)
	}

	out.Reset()
	p = newTextProgress(&out, false, 2, clock.now)
	p.Finished(a, false, nil)
	p.Finished(b, true, nil)
	p.stop()
	want = "queue.a: Creation complete\nqueue.b: Destruction complete (removed by the broker with its queue or exchange)\n"
	if out.String() != want {
		t.Errorf("output to a pipe %q; want %q", out.String(), want)
	}
}

// TestParallelismDocumented checks that apply's and destroy's -h give
// -parallelism's default.
func TestParallelismDocumented(t *testing.T) {
	for _, cmd := range []string{"apply", "destroy"} {
		_, _, errs := runIn(t, nil, cmd, "-h")
		if !regexp.MustCompile(`-parallelism N\n.*\(default 8\)`).MatchString(errs) {
			t.Errorf("dge %s -h does not give -parallelism's default:\n%s", cmd, errs)
		}
	}
}

// TestDestroyJSONRefusalEndsTheStream checks that destroy -json of a graph
// whose queue holds a message ends its stream with an error diagnostic that
// names -allow-message-loss, after the plan and before any change.
func TestDestroyJSONRefusalEndsTheStream(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, out, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	ch, err := vh.Dial(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", "out", true, false, amqpMsg())
	if err != nil || !dc.Wait() {
		t.Fatalf("publish to out: %v (confirmed: %v)", err, err == nil && dc.Acked())
	}
	code, out, errs := runIn(t, environ, "destroy", "-json", "-auto-approve", dir)
	if code != 1 || errs != "" {
		t.Fatalf("destroy -json with a message in out: exit %d, stderr %q; want 1 and nothing on stderr\n%s", code, errs, out)
	}
	_, events := uiLines(t, out)
	got := types(events)
	if slices.Contains(got, "apply_start") || got[len(got)-1] != "diagnostic" {
		t.Fatalf("types %v; want the plan, then a diagnostic, and no change started", got)
	}
	d := events[len(events)-1]["diagnostic"].(map[string]any)
	if d["severity"] != "error" || !strings.Contains(d["summary"].(string)+" "+fmt.Sprint(d["detail"]), "-allow-message-loss") {
		t.Errorf("last diagnostic %v; want an error naming -allow-message-loss", d)
	}
}

// TestJSONRequested checks which command lines ask for JSON before they
// are parsed, so that a bad flag among them is reported as JSON.
func TestJSONRequested(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-json"}, true},
		{[]string{"dir", "--json"}, true},
		{[]string{"-json=true"}, true},
		{[]string{"-json=false"}, false},
		{[]string{"-format", "json"}, true},
		{[]string{"--format=json"}, true},
		{[]string{"-format", "dot"}, false},
		{[]string{"--", "-json"}, false},
		{[]string{"-var", "x=1", "dir"}, false},
	} {
		if got := jsonRequested(tc.args); got != tc.want {
			t.Errorf("jsonRequested(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
	// Without -json a bad flag stays text on stderr.
	code, out, errs := runIn(t, nil, "plan", "-bogus")
	if code != 1 || out != "" || !strings.Contains(errs, "flag provided but not defined: -bogus") {
		t.Errorf("plan -bogus: exit %d, stdout %q, stderr %q; want 1 and the flag package's text on stderr", code, out, errs)
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// TestJSONProgressStill checks that a change still in flight at a tick gets
// an apply_progress line with its elapsed seconds, and a finished one none.
func TestJSONProgressStill(t *testing.T) {
	var out syncBuffer
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := &fakeClock{t: t0}
	p := newJSONProgress(&jsonUI{w: &out, now: clock.now}, clock.now, 10*time.Millisecond)
	defer p.stop()
	slow := plan.Change{Action: plan.Delete, Kind: plan.KindQueue, Address: "queue.slow"}
	quick := plan.Change{Action: plan.Create, Kind: plan.KindPolicy, Address: "policy.quick"}
	p.Started(slow)
	p.Started(quick)
	p.Finished(quick, false, nil)
	clock.set(t0.Add(12 * time.Second))
	want := `{"@level":"info","@message":"queue.slow: Still destroying... [12s elapsed]","@module":"dge.ui","@timestamp":"2026-01-02T03:04:17.000000Z","type":"apply_progress","hook":{"resource":{"addr":"queue.slow","kind":"queue"},"action":"delete","elapsed_seconds":12}}`
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no apply_progress line for queue.slow after a minute:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, after, _ := strings.Cut(out.String(), `"type":"apply_complete","hook":{"resource":{"addr":"policy.quick"`)
	if strings.Contains(after, `"apply_progress","hook":{"resource":{"addr":"policy.quick"`) {
		t.Errorf("apply_progress for a finished change:\n%s", out.String())
	}
}
