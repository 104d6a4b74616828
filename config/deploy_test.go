package config_test

import (
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
