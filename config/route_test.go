package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dgehq/dge/config"
)

// routeGraph returns a graph source: a start "in" feeding fan_out "copy",
// whose paths the nodes in body continue, and a process "check" beside
// them that every run reaches.
func routeGraph(body string) string {
	return `graph "g" {
  handlers = "example.com/g/behaviour"
}
start "in" {}
fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Doc"
}
process "check" {
  from    = fan_out.copy
  queue   = "check"
  message = "Doc"
  handler = "Check"
}
aggregate "join" {
  from    = [process.check, process.last]
  queue   = "join"
  message = "Doc"
  handler = "Join"
}
terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Doc"
}
` + body
}

// node returns a node block: kind, name, from and an optional when.
func node(kind, name, from, when string) string {
	var b strings.Builder
	b.WriteString(kind + ` "` + name + `" {` + "\n  from = " + from + "\n")
	if when != "" {
		b.WriteString(`  when = "` + when + `"` + "\n")
	}
	b.WriteString(`  queue = "` + name + `"` + "\n  message = \"Doc\"\n")
	if kind != string(config.KindTerminate) && kind != string(config.KindFanOut) {
		b.WriteString(`  handler = "H` + name + `"` + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// TestRouteChoices checks the route choices behind the aggregate rule:
// process.last, joined with process.check (on every run), must itself be
// on every run for the graph to be valid.
func TestRouteChoices(t *testing.T) {
	const never = "Aggregate joins paths a run never takes together"
	const maybe = "Aggregate joins a path a run may not take"
	tests := []struct {
		name string
		body string
		want []string
	}{
		{
			name: "every path merged",
			body: node("route", "r", "fan_out.copy", "") +
				node("process", "a", "route.r", "a") +
				node("process", "b", "route.r", "*") +
				node("process", "last", "[process.a, process.b]", ""),
		},
		{
			name: "a route with one path and no default chooses nothing",
			body: node("route", "r", "fan_out.copy", "") +
				node("process", "last", "route.r", "a"),
		},
		{
			name: "one path of two",
			body: node("route", "r", "fan_out.copy", "") +
				node("process", "last", "route.r", "a") +
				node("terminate", "b", "route.r", "*"),
			want: []string{maybe},
		},
		{
			name: "two paths of three merged",
			body: node("route", "r", "fan_out.copy", "") +
				node("process", "a", "route.r", "a") +
				node("process", "b", "route.r", "b") +
				node("terminate", "c", "route.r", "*") +
				node("process", "last", "[process.a, process.b]", ""),
			want: []string{maybe},
		},
		{
			name: "nested routes, each merged",
			body: node("route", "r", "fan_out.copy", "") +
				node("route", "inner", "process.a", "") +
				node("process", "a", "route.r", "a") +
				node("process", "x", "route.inner", "x") +
				node("process", "y", "route.inner", "*") +
				node("process", "inner_done", "[process.x, process.y]", "") +
				node("process", "b", "route.r", "*") +
				node("process", "last", "[process.inner_done, process.b]", ""),
		},
		{
			name: "nested routes, the outer merged around an inner path",
			body: node("route", "r", "fan_out.copy", "") +
				node("route", "inner", "process.a", "") +
				node("process", "a", "route.r", "a") +
				node("process", "x", "route.inner", "x") +
				node("terminate", "y", "route.inner", "*") +
				node("process", "b", "route.r", "*") +
				node("process", "last", "[process.x, process.b]", ""),
			want: []string{maybe},
		},
		{
			name: "a merge of a path and a node every run reaches",
			body: node("fan_out", "again", "fan_out.copy", "") +
				node("route", "r", "fan_out.again", "") +
				node("process", "a", "route.r", "a") +
				node("terminate", "b", "route.r", "*") +
				node("process", "c", "fan_out.again", "") +
				node("process", "last", "[process.a, process.c]", ""),
		},
		{
			name: "two paths of one route joined",
			body: node("route", "r", "fan_out.copy", "") +
				node("fan_out", "a", "route.r", "a") +
				node("process", "a2", "fan_out.a", "") +
				node("fan_out", "b", "route.r", "*") +
				node("process", "last", "[process.a2, fan_out.b]", "") +
				`aggregate "paths" {
  from    = [fan_out.a, fan_out.b]
  queue   = "paths"
  message = "Doc"
  handler = "Paths"
}
terminate "paths_out" {
  from    = aggregate.paths
  queue   = "paths_out"
  message = "Doc"
}
`,
			want: []string{never},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := config.NewLoader()
			_, diags := l.LoadSource("g.dge.hcl", []byte(routeGraph(tt.body)), config.Options{})
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s\n%s", diff, renderDiags(l, diags))
			}
		})
	}
}
