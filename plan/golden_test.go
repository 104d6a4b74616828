package plan_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/plans")

const casesDir = "../testdata/plans"

// loadCase returns a case's graph and its live snapshot (live.json, as the
// management API returns it).
func loadCase(t *testing.T, dir string) (*config.Graph, *plan.Snapshot) {
	t.Helper()
	g, diags := config.NewLoader().Load(filepath.Join(dir, "graph.dge.hcl"), config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load graph: %s", diags.Error())
	}
	f, err := os.Open(filepath.Join(dir, "live.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	live, err := mgmt.DecodeLive(f)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := live.Snapshot(g.Broker.Vhost)
	if err != nil {
		t.Fatal(err)
	}
	return g, snap
}

func makePlan(t *testing.T, name string, g *config.Graph, snap *plan.Snapshot) (*plan.Plan, error) {
	t.Helper()
	opts := plan.Options{DgeVersion: "test"}
	if strings.HasPrefix(name, "destroy") {
		return plan.NewDestroy(plan.Desired(g), snap, opts)
	}
	return plan.New(plan.Desired(g), snap, opts)
}

// TestGolden plans every case under testdata/plans and compares the text
// rendering (plan.txt), the JSON (plan.json) or the error (error.txt).
// Cases whose name starts with "destroy" make destroy plans.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(casesDir, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases under %s: %v", casesDir, err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			g, snap := loadCase(t, dir)
			p, err := makePlan(t, name, g, snap)
			if err != nil {
				var ce *plan.ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("plan failed with %T, want *plan.ConflictError: %v", err, err)
				}
				golden(t, filepath.Join(dir, "error.txt"), []byte(err.Error()+"\n"))
				return
			}
			var txt, js bytes.Buffer
			if err := plan.Render(&txt, p, plan.RenderOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := plan.WriteJSON(&js, p); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "plan.txt"), txt.Bytes())
			golden(t, filepath.Join(dir, "plan.json"), js.Bytes())

			// The saved form reads back to the same plan, fresh against
			// the same live state.
			back, err := plan.Decode(bytes.NewReader(js.Bytes()), "test")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(p, back); diff != "" {
				t.Errorf("decoded plan differs (-made +decoded):\n%s", diff)
			}
			if err := back.CheckFresh(snap); err != nil {
				t.Errorf("CheckFresh against the same snapshot: %v", err)
			}
			// Rendering is deterministic.
			var again bytes.Buffer
			p2, _ := makePlan(t, name, g, snap)
			plan.Render(&again, p2, plan.RenderOptions{})
			if again.String() != txt.String() {
				t.Errorf("second rendering differs from the first")
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s: %v (run go test ./plan -update to create it)", path, err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; run go test ./plan -update if intended):\n%s", path, diff)
	}
}
