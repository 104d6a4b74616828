package runtime

import (
	"context"
	"strings"
	"testing"
)

func TestRouteCheck(t *testing.T) {
	edge := testEdge("in")
	tests := []struct {
		name     string
		paths    map[string]string
		fallback string
		err      string // "" for none
	}{
		{"paths", map[string]string{"one": "t1", "two": "t2"}, "", ""},
		{"default only", nil, "td", ""},
		{"no path", nil, "", `route.r has no path: give it at least one path (a node with from = route.r and a when) or a default path (when = "*")`},
		{"empty label", map[string]string{"": "t1"}, "", `route.r has a path with the label ""`},
		{"star label", map[string]string{"*": "t1"}, "", `route.r has a path with the label "*"`},
		{"no queue", map[string]string{"one": ""}, "td", `route.r: the path of label "one" has no queue`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testGraph("g", Start[num]("start", "in"), Route[num]("r", edge, label, tt.paths, tt.fallback))
			err := g.Check()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Check: %v, want nil", err)
			case tt.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.err)):
				t.Errorf("Check: %v, want an error starting %q", err, tt.err)
			}
		})
	}
	var zero Node
	zero.name, zero.kind, zero.in = "r", KindRoute, edge
	if err := testGraph("g", zero).Check(); err == nil || err.Error() != "route.r was not built by Route" {
		t.Errorf("Check of a route not built by Route: %v", err)
	}
}

func TestRoutePaths(t *testing.T) {
	withDefault := Route[num]("r", testEdge("in"), label, map[string]string{"two": "t2", "one": "t1"}, "td")
	without := Route[num]("r", testEdge("in"), label, map[string]string{"two": "t2", "one": "t1"}, "")
	for _, tt := range []struct {
		n           Node
		label       string
		queue, when string
	}{
		{withDefault, "one", "t1", "one"},
		{withDefault, "two", "t2", "two"},
		{withDefault, "three", "td", "*"},
		{withDefault, "*", "td", "*"},
		{without, "three", "", ""},
		{without, "", "", ""},
	} {
		if q, w := tt.n.pathOf(tt.label); q != tt.queue || w != tt.when {
			t.Errorf("fallback %q: pathOf(%q) = %q, %q; want %q, %q", tt.n.fallback, tt.label, q, w, tt.queue, tt.when)
		}
	}
	if p := withDefault.noticePath(); p != "td" {
		t.Errorf("notice path with a default: %s, want td", p)
	}
	if p := without.noticePath(); p != "t1" {
		t.Errorf("notice path without a default: %s, want t1 (the first label's)", p)
	}
	if to := without.To(); strings.Join(to, ",") != "t1,t2" {
		t.Errorf("To() = %v, want [t1 t2]", to)
	}
	want := `label "x\"y" is taken by no path of route.r (it takes "one", "two"): add a path with when = "x\"y", or a default path with when = "*"`
	if got := without.noRouteError(`x"y`); got != want {
		t.Errorf("no-route error:\n%s\nwant\n%s", got, want)
	}
}

func TestRouteMetrics(t *testing.T) {
	m := newMetrics("g")
	m.node(Process[num, num]("p", testEdge("a"), double, "b"))
	var b strings.Builder
	if err := m.write(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "dge_route_messages_total") {
		t.Errorf("dge_route_messages_total without a route node:\n%s", b.String())
	}
	r := m.node(Route[num]("r", testEdge("in"), label, map[string]string{"one": "t1", `a"b\c`: "t2"}, "td"))
	r.routeTaken["one"].Add(3)
	r.routeTaken["*"].Add(2)
	b.Reset()
	if err := m.write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, w := range []string{
		"# TYPE dge_route_messages_total counter\n" +
			`dge_route_messages_total{graph="g",label="*",node="route.r"} 2` + "\n" +
			`dge_route_messages_total{graph="g",label="a\"b\\c",node="route.r"} 0` + "\n" +
			`dge_route_messages_total{graph="g",label="one",node="route.r"} 3` + "\n",
		`dge_handler_duration_seconds_count{graph="g",node="route.r",outcome="ok",queue="in"}`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("no\n%s\nin:\n%s", w, out)
		}
	}
	if strings.Contains(out, `dge_route_messages_total{graph="g",node="process.p"`) {
		t.Errorf("a route series for process.p:\n%s", out)
	}
}

// TestRouteLocal runs a route whose paths end at different terminate
// nodes on Local: WaitRuns returns once each run has its outcome at the
// terminate of the path it took, and each outcome is where its label
// says; the route's span names the label and the path.
func TestRouteLocal(t *testing.T) {
	g := testGraph("routelocal",
		Start[num]("start", "in"),
		Route[num]("r", testEdge("in"), label, map[string]string{"one": "t1", "two": "t2"}, ""),
		Terminate[num]("one", testEdge("t1")),
		Terminate[num]("two", testEdge("t2")),
	)
	rec, _, l := traceLocal(t, g)
	runs := map[string]string{}
	for _, body := range []string{`{"value":1}`, `{"value":2}`, `{"value":3}`} {
		run, err := l.Publish(t.Context(), "start", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		runs[run] = body
	}
	ctx, cancel := context.WithTimeout(t.Context(), confDeadline)
	defer cancel()
	if err := l.WaitRuns(ctx); err != nil {
		t.Fatalf("WaitRuns: %v", err)
	}
	byRun := map[string]string{}
	for _, r := range l.Results() {
		byRun[r.RunID] = r.Node + ":" + string(r.Body)
	}
	for _, f := range l.Failures() {
		byRun[f.RunID] = f.Node + ":failed " + f.Failed.Reason
	}
	want := map[string]string{`{"value":1}`: `terminate.one:{"value":1}`, `{"value":2}`: `terminate.two:{"value":2}`,
		`{"value":3}`: "terminate.one:failed no-route"}
	for run, body := range runs {
		if byRun[run] != want[body] {
			t.Errorf("run of %s: %q, want %q", body, byRun[run], want[body])
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for run, body := range runs {
		s := runSpans(t, rec, run)["process route.r"]
		if s == nil {
			t.Fatalf("run of %s: no span of route.r", body)
		}
		a := attrs(s)
		w := map[string][2]string{`{"value":1}`: {"one", "t1"}, `{"value":2}`: {"two", "t2"}, `{"value":3}`: {"three", ""}}[body]
		wantLabel, wantTo := w[0], w[1]
		if a[attrRouteLabel].AsString() != wantLabel || a[attrRouteTo].AsString() != wantTo {
			t.Errorf("run of %s: span has dge.route.label %q, dge.route.to %q; want %q, %q",
				body, a[attrRouteLabel].AsString(), a[attrRouteTo].AsString(), wantLabel, wantTo)
		}
	}
}

func TestRunEnded(t *testing.T) {
	// start -> fan_out f -> (route r -> t1 | (process p -> t2)) and t3.
	g := testGraph("ended",
		Start[num]("start", "f"),
		FanOut[num]("f", testEdge("f"), "in", "t3"),
		Route[num]("r", testEdge("in"), label, map[string]string{"one": "t1", "two": "p"}, ""),
		Terminate[num]("one", testEdge("t1")),
		Process[num, num]("p", testEdge("p"), double, "t2"),
		Terminate[num]("two", testEdge("t2")),
		Terminate[num]("three", testEdge("t3")),
	)
	start, _ := g.Node("start")
	byQueue := g.nodesByQueue()
	for _, tt := range []struct {
		reached []string
		want    bool
	}{
		{nil, false},
		{[]string{"terminate.three"}, false},
		{[]string{"terminate.one"}, false},
		{[]string{"terminate.one", "terminate.three"}, true},
		{[]string{"terminate.two", "terminate.three"}, true},
	} {
		reached := map[string]bool{}
		for _, r := range tt.reached {
			reached[r] = true
		}
		if got := runEnded(byQueue, start, reached); got != tt.want {
			t.Errorf("reached %v: ended %v, want %v", tt.reached, got, tt.want)
		}
	}
}
