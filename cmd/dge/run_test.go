package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/scale"
	"github.com/dgehq/dge/internal/supervise"
)

const runburst = "../../internal/e2e/testdata/runburst"

// TestRunNodes: dge run supervises every consuming node with its deploy
// block's rule and grace, under the subcommand the generated program
// gives it.
func TestRunNodes(t *testing.T) {
	g, diags := config.NewLoader().Load(runburst, config.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := runNodes(g)
	want := []supervise.Node{{
		Address: "process.work", Command: "work", Queue: "work",
		Rule:  scale.Rule{Min: 1, Max: 4, ReadyPerReplica: 20, Cooldown: 3 * time.Second},
		Grace: 10 * time.Second,
	}}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("runNodes = %+v; want %+v", got, want)
	}
}

// TestRunRefuses: dge run says what to do, before starting anything, when
// the generated main.go does not match the graph, when -program names no
// file, or when the graph has nothing to run; no password is printed.
func TestRunRefuses(t *testing.T) {
	environ := append(os.Environ(), "DGE_AMQP_URL=amqp://user:s3cr3tpw@127.0.0.1:5672/x")
	code, _, stderr := runIn(t, environ, "run", "-var", "attempts=7", runburst)
	if code != exitError || !strings.Contains(stderr, "main.go is out of date with the graph: run dge generate ") {
		t.Errorf("a stale main.go: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runIn(t, environ, "run", "-program", filepath.Join(t.TempDir(), "nothing"), runburst)
	if code != exitError || !strings.Contains(stderr, "not a file; give the path of the graph's built program") {
		t.Errorf("-program without a file: exit %d, stderr:\n%s", code, stderr)
	}
	dir := t.TempDir()
	src := `graph "t" {
  handlers = "example.com/h"
}
start "start" {}
terminate "out" {
  from    = start.start
  queue   = "out"
  message = "M"
}
`
	if err := os.WriteFile(filepath.Join(dir, "graph.dge.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runIn(t, environ, "run", "-json", dir)
	if code != exitError || !strings.Contains(stdout, "no node that consumes a queue") {
		t.Errorf("a graph with nothing to run: exit %d, stdout:\n%s", code, stdout)
	}
	if strings.Contains(stderr+stdout, "s3cr3tpw") {
		t.Errorf("dge run printed the password")
	}
}
