package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGraphGolden(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		golden string
	}{
		{[]string{"graph", arithDir}, "arith.dot"},
		{[]string{"graph", "-format", "dot", arithDir}, "arith.dot"},
		{[]string{"graph", "-format", "mermaid", arithDir}, "arith.mmd"},
		{[]string{"graph", arithDir, "-format=mermaid", "-var", "vhost=/x"}, "arith.mmd"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := cliRun(t, "", tt.args...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			// The CLI prints exactly the diagram package's bytes, whose
			// golden files live beside it.
			want := readFile(t, filepath.Join("../../internal/diagram/testdata", tt.golden))
			if stdout != want {
				t.Errorf("stdout differs from internal/diagram/testdata/%s:\n%s", tt.golden, stdout)
			}
		})
	}
}

func TestGraphErrors(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "graph", "-format", "svg", arithDir)
	if code != 1 || stdout != "" || !strings.Contains(stderr, `unknown -format "svg"`) {
		t.Errorf("bad format: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	dir := writeTemp(t, map[string]string{"g.dge.hcl": badGraph})
	code, stdout, stderr = cliRun(t, "", "graph", dir)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "g.dge.hcl:8:13") {
		t.Errorf("invalid graph: exit %d, stdout %q, stderr %q; want 1, nothing drawn, a located diagnostic", code, stdout, stderr)
	}
}

// TestGraphJSON checks -format json against a golden file for examples/arith
// (TestJSONErrors checks that it refuses -status).
func TestGraphJSON(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "graph", "-format", "json", arithDir)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	checkGolden(t, "graph/arith.json", []byte(stdout))
}

// TestGraphJSONSplit checks -format json for split and gather nodes
// against a golden file: a gather's over, zero and timeout, and the items
// mark on the edges leaving a split.
func TestGraphJSONSplit(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "graph", "-format", "json", "../../internal/gen/testdata/split")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	checkGolden(t, "graph/split.json", []byte(stdout))
	for _, want := range []string{
		`"over": "split.numbers",` + "\n" + `      "zero": "NewTotal",` + "\n" + `      "timeout": "30m",`,
		`"over": "split.pages",` + "\n" + `      "timeout": "1h",`,
		`"over": "split.documents",` + "\n" + `      "timeout": "2h",`,
		`"from": "split.numbers",` + "\n" + `      "to": "process.fib",` + "\n" + `      "queue": "fib",` + "\n" + `      "message": "Number",` + "\n" + `      "items": true`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("graph JSON lacks\n%s\n%s", want, stdout)
		}
	}
}

// TestGraphJSONRoute checks -format json for routes and merges against a
// golden file: the when of each path, on its node and on the edge from
// its route ("*" for the default path), and a merge's node listing every
// input, one edge from each.
func TestGraphJSONRoute(t *testing.T) {
	code, stdout, stderr := cliRun(t, "", "graph", "-format", "json", "../../internal/gen/testdata/route")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	checkGolden(t, "graph/route.json", []byte(stdout))
	var g graphJSON
	if err := json.Unmarshal([]byte(stdout), &g); err != nil {
		t.Fatal(err)
	}
	whens := map[string]string{} // "from -> to" of each edge with a when
	into := map[string]int{}     // edges into each node
	for _, e := range g.Edges {
		if e.When != "" {
			whens[e.From+" -> "+e.To] = e.When
		}
		into[e.To]++
	}
	want := map[string]string{
		"route.by_kind -> process.invoice": "invoice",
		"route.by_kind -> process.receipt": "receipt",
		"route.by_kind -> process.other":   "*",
		"route.by_size -> process.shrink":  "large",
		"route.by_size -> process.keep":    "small",
	}
	if diff := cmp.Diff(want, whens); diff != "" {
		t.Errorf("edges with a when (-want +got):\n%s", diff)
	}
	if into["terminate.filed"] != 3 || into["process.stamp"] != 2 {
		t.Errorf("edges into the merges: terminate.filed %d, process.stamp %d; want 3 and 2", into["terminate.filed"], into["process.stamp"])
	}
	for _, n := range g.Nodes {
		if n.Address == "process.other" && (n.When != "*" || len(n.From) != 1) {
			t.Errorf("process.other: when %q, from %v; want \"*\" from the route", n.When, n.From)
		}
		if n.Address == "terminate.filed" && (n.When != "" || len(n.From) != 3) {
			t.Errorf("terminate.filed: when %q, from %v; want no when, three inputs", n.When, n.From)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                 "",
		time.Hour:                         "1h",
		30 * time.Minute:                  "30m",
		90 * time.Minute:                  "1h30m",
		90 * time.Second:                  "1m30s",
		time.Hour + 1500*time.Millisecond: "1h0m1.5s",
		250 * time.Millisecond:            "250ms",
	} {
		if got := durationJSON(d); got != want {
			t.Errorf("durationJSON(%v) = %q, want %q", d, got, want)
		}
	}
}
