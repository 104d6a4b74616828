package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// TestLoadDeploy loads a graph with deploy blocks on several kinds and
// checks each node's Deploy: the values written, the defaults for the
// rest, and the zero Deploy for start.
func TestLoadDeploy(t *testing.T) {
	g, warnings := load(t, "../testdata/graphs/deploy", config.Options{})
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	with := func(change func(*config.Deploy)) config.Deploy {
		d := config.DefaultDeploy()
		change(&d)
		return d
	}
	want := map[string]config.Deploy{
		"start.in": {},
		"split.numbers": with(func(d *config.Deploy) {
			d.CPU, d.Memory = "0.5", "128Mi"
		}),
		"process.fib": {
			MinReplicas: 2, MaxReplicas: 8, ReadyPerReplica: 50,
			CPU: "500m", Memory: "256Mi",
			ShutdownGrace: time.Minute, Cooldown: 90 * time.Second,
		},
		"gather.sum":      with(func(d *config.Deploy) { d.MaxReplicas = 3 }),
		"terminate.total": with(func(d *config.Deploy) { d.ShutdownGrace = 5 * time.Second }),
	}
	got := map[string]config.Deploy{}
	for _, n := range g.Nodes {
		got[n.Addr()] = n.Deploy
	}
	ignoreRanges := cmpopts.IgnoreFields(config.Deploy{}, "DeclRange", "Ranges")
	if diff := cmp.Diff(want, got, ignoreRanges); diff != "" {
		t.Errorf("Deploy per node (-want +got):\n%s", diff)
	}

	// The ranges: the block header, and each attribute set, at its value.
	fib := g.Node("process.fib")
	if fib == nil {
		t.Fatal("no node fib")
	}
	if r := fib.Deploy.DeclRange; r.Start.Line != 32 || r.Filename == "" {
		t.Errorf("process.fib's DeclRange = %v, want line 32", r)
	}
	lines := map[string]int{}
	for name, r := range fib.Deploy.Ranges {
		lines[name] = r.Start.Line
	}
	wantLines := map[string]int{"min_replicas": 33, "max_replicas": 34, "ready_per_replica": 35, "cpu": 36, "memory": 37, "shutdown_grace": 38, "cooldown": 39}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("process.fib's Ranges lines (-want +got):\n%s", diff)
	}
	sum := g.Node("gather.sum")
	if _, ok := sum.Deploy.Ranges["max_replicas"]; !ok || len(sum.Deploy.Ranges) != 1 {
		t.Errorf("gather.sum's Ranges = %v, want max_replicas alone", sum.Deploy.Ranges)
	}
	if in := g.Node("start.in"); in.Deploy.DeclRange != (hcl.Range{}) || in.Deploy.Ranges != nil {
		t.Errorf("start.in's Deploy = %+v, want the zero Deploy", in.Deploy)
	}
}

// TestLoadDeployDefaults checks that a graph without deploy blocks runs
// every node but start on DefaultDeploy.
func TestLoadDeployDefaults(t *testing.T) {
	g, _ := load(t, "../testdata/graphs/arith", config.Options{})
	for _, n := range g.Nodes {
		want := config.DefaultDeploy()
		if n.Kind == config.KindStart {
			want = config.Deploy{}
		}
		if diff := cmp.Diff(want, n.Deploy); diff != "" {
			t.Errorf("%s's Deploy (-want +got):\n%s", n.Addr(), diff)
		}
	}
}

// deploySource is a graph whose process has the deploy block body given.
func deploySource(body string) []byte {
	return []byte(`
graph "g" {
  handlers = "example.com/g"
}
variable "replicas" {
  default = 6
}
variable "hidden" {
  type      = string
  default   = "1"
  sensitive = true
}
start "in" {}
process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
  deploy {
    ` + body + `
  }
}
terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
`)
}

// hide gives the sensitive variable hidden the value v.
func hide(v string) config.Options {
	return config.Options{VarArgs: []config.VarArg{{Raw: "hidden=" + v}}}
}

// TestDeployValues checks the values a deploy block accepts, as written
// or converted, and what the errors about the others say.
func TestDeployValues(t *testing.T) {
	tests := []struct {
		body string
		opts config.Options
		// want changes the defaults when the block is valid.
		want func(*config.Deploy)
		// summary and details describe the one error of an invalid block.
		summary string
		details []string
		// hidden are what the detail must not say: a sensitive value.
		hidden []string
	}{
		{body: `cpu = 0.5`, want: func(d *config.Deploy) { d.CPU = "0.5" }},
		{body: `cpu = "2"`, want: func(d *config.Deploy) { d.CPU = "2" }},
		{body: `cpu = "1m"`, want: func(d *config.Deploy) { d.CPU = "1m" }},
		{body: `memory = "1.5Gi"`, want: func(d *config.Deploy) { d.Memory = "1.5Gi" }},
		{body: `memory = "500M"`, want: func(d *config.Deploy) { d.Memory = "500M" }},
		{body: `memory = "1e9"`, want: func(d *config.Deploy) { d.Memory = "1e9" }},
		{body: `min_replicas = 2
		        max_replicas = var.replicas`, want: func(d *config.Deploy) { d.MinReplicas, d.MaxReplicas = 2, 6 }},
		{body: `max_replicas = var.replicas`, opts: config.Options{VarArgs: []config.VarArg{{Raw: "replicas=9"}}}, want: func(d *config.Deploy) { d.MaxReplicas = 9 }},
		{body: `min_replicas = 5
		        max_replicas = 5`, want: func(d *config.Deploy) { d.MinReplicas, d.MaxReplicas = 5, 5 }},
		{body: `cooldown = "1h"
		        shutdown_grace = "2m"`, want: func(d *config.Deploy) { d.Cooldown, d.ShutdownGrace = time.Hour, 2*time.Minute }},

		{body: `cpu = "100u"`, summary: "Invalid quantity", details: []string{`"100u"`, "whole millicores", `"1m"`}},
		{body: `cpu = "fast"`, summary: "Invalid quantity", details: []string{`"fast"`, `"500m"`, `"256Mi"`}},
		{body: `memory = "0.5"`, summary: "Invalid quantity", details: []string{"not a whole number of bytes", `"256Mi"`}},
		{body: `memory = "64m"`, summary: "Invalid quantity", details: []string{`"64Mi"`, `"64M"`}},
		{body: `min_replicas = 4
		        max_replicas = 2`, summary: "Invalid replica range", details: []string{"max_replicas is 2 but min_replicas is 4"}},
		{body: `min_replicas = var.replicas`, summary: "Invalid replica range", details: []string{"min_replicas is 6 but max_replicas is 1 (the default", "max_replicas = 6"}},
		{body: `min_replicas = 0`, summary: "Number out of range", details: []string{"activation"}},
		{body: `cooldown = "61m"`, summary: "Invalid duration", details: []string{"1h1m", "at most 1h"}},
		{body: `readiness = 3`, summary: "Unsupported argument", details: []string{"min_replicas, max_replicas, ready_per_replica, cpu, memory, shutdown_grace, cooldown"}},
		{body: `min_replicas = 5
		        max_replicas = var.hidden`, opts: hide("3"), summary: "Invalid replica range", details: []string{"(sensitive value)", "min_replicas is 5"}, hidden: []string{"3"}},
		{body: `cpu = var.hidden`, opts: hide("0.0005"), summary: "Invalid quantity", details: []string{"sensitive", "millicores"}, hidden: []string{"0.0005", "1m"}},
		{body: `memory = var.hidden`, opts: hide("77m"), summary: "Invalid quantity", details: []string{"sensitive"}, hidden: []string{"77"}},
		{body: `cooldown = var.hidden`, opts: hide("97m"), summary: "Invalid duration", details: []string{"sensitive"}, hidden: []string{"97"}},
		{body: `shutdown_grace = var.hidden`, opts: hide("1234ms"), summary: "Invalid duration", details: []string{"sensitive"}, hidden: []string{"1.234", "1234"}},
		{body: `maxreplicas = 3`, summary: "Unsupported argument", details: []string{`Did you mean "max_replicas"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			l := config.NewLoader()
			g, diags := l.LoadSource("g.dge.hcl", deploySource(tt.body), tt.opts)
			if tt.want != nil {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors:\n%s", renderDiags(l, diags))
				}
				want := config.DefaultDeploy()
				tt.want(&want)
				got := g.Node("process.work").Deploy
				if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(config.Deploy{}, "DeclRange", "Ranges")); diff != "" {
					t.Errorf("Deploy (-want +got):\n%s", diff)
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tt.summary {
				t.Fatalf("want one error %q, got:\n%s", tt.summary, renderDiags(l, diags))
			}
			for _, d := range tt.details {
				if !strings.Contains(diags[0].Detail, d) {
					t.Errorf("detail %q does not say %q", diags[0].Detail, d)
				}
			}
			for _, h := range tt.hidden {
				if strings.Contains(diags[0].Detail, h) {
					t.Errorf("detail %q shows the sensitive %q", diags[0].Detail, h)
				}
			}
		})
	}
}
