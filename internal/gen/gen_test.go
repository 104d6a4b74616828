package gen

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite the expected generated files (golden files and examples/*/cmd) from the generator's output")

// goldenCase is one graph folder and the folder its generated files are
// expected in. The arith case's expected files are the committed
// examples/arith/cmd/arith, so this test is also the check that they are in
// sync with the generator (sqlc's "verify").
type goldenCase struct {
	name, graphDir, outDir string
}

var goldenCases = []goldenCase{
	{"arith", "../../examples/arith", "../../examples/arith/cmd/arith"},
	{"orders", "../../examples/orders", "../../examples/orders/cmd/orders"},
	{"multi", "testdata/multi", "testdata/multi/cmd/multi"},
	{"clash", "testdata/clash", "testdata/clash/cmd/clash"},
	{"split", "testdata/split", "testdata/split/cmd/split"},
	{"route", "testdata/route", "testdata/route/cmd/route"},
	{"fib", "../../examples/fib", "../../examples/fib/cmd/fib"},
	{"docs", "../../examples/docs", "../../examples/docs/cmd/docs"},
}

func load(t *testing.T, path string) *config.Graph {
	t.Helper()
	g, diags := config.NewLoader().Load(path, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", path, diags)
	}
	return g
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			g := load(t, tc.graphDir)
			files, diags := Generate(g, Options{Dir: tc.graphDir})
			if diags.HasErrors() {
				t.Fatalf("Generate: %v", diags)
			}
			if len(diags) > 0 {
				t.Errorf("Generate: unexpected warnings: %v", diags)
			}
			if got, want := sortedKeys(files), []string{DotFile, MermaidFile, MainFile}; !cmp.Equal(got, want) {
				t.Fatalf("files = %v, want %v", got, want)
			}
			for _, name := range sortedKeys(files) {
				path := filepath.Join(tc.outDir, name)
				if *update {
					if err := os.MkdirAll(tc.outDir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, files[name], 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/gen -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), string(files[name])); diff != "" {
					t.Errorf("%s is out of date with the generator (-want +got); run go test ./internal/gen -update:\n%s", path, diff)
				}
				if !HasHeader(name, files[name]) {
					t.Errorf("%s does not start with the generated-code header", name)
				}
			}
		})
	}
}

// TestE2EChainInSync checks that the main.go files the end-to-end tests
// build (testdata/e2e/chain, cluster and diamond, owned by the
// runtime's tests, and internal/e2e/testdata/splitbench, the split
// benchmark's) are what the generator writes for those graphs now. Only
// main.go is kept there.
func TestE2EChainInSync(t *testing.T) {
	for _, graphDir := range []string{"../../testdata/e2e/chain", "../../testdata/e2e/cluster", "../../testdata/e2e/diamond", "../e2e/testdata/splitbench"} {
		name := filepath.Base(graphDir)
		target := graphDir + "/cmd/" + name + "/main.go"
		files, diags := Generate(load(t, graphDir), Options{Dir: graphDir})
		if diags.HasErrors() {
			t.Fatalf("Generate %s: %v", name, diags)
		}
		if *update {
			if err := os.WriteFile(target, files[MainFile], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(files[MainFile])); diff != "" {
			t.Errorf("%s is out of date with the generator (-want +got); run go test ./internal/gen -update:\n%s", target, diff)
		}
	}
}

// TestGeneratedCodeCompiles builds every expected main package against the
// real runtime, as sqlc requires of its expected output.
func TestGeneratedCodeCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs; not in -short mode")
	}
	args := []string{"build", "-o", t.TempDir()}
	for _, tc := range goldenCases {
		args = append(args, "./"+filepath.ToSlash(tc.outDir))
	}
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestDeterministic generates each case twice, and once more from an
// absolute path, and expects the same bytes every time.
func TestDeterministic(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			abs, err := filepath.Abs(tc.graphDir)
			if err != nil {
				t.Fatal(err)
			}
			var runs []map[string][]byte
			for _, dir := range []string{tc.graphDir, tc.graphDir, abs} {
				files, diags := Render(load(t, dir))
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				runs = append(runs, files)
			}
			for i := 1; i < len(runs); i++ {
				if diff := cmp.Diff(runs[0], runs[i]); diff != "" {
					t.Errorf("run %d differs from run 0 (-run0 +run%d):\n%s", i, i, diff)
				}
			}
			if strings.Contains(string(runs[2][MainFile]), abs) {
				t.Errorf("main.go contains the absolute path %s", abs)
			}
		})
	}
}

var wantMarker = regexp.MustCompile(`#\s*want:\s*(.+?)\s*$`)

// TestMismatchCorpus checks the handlers of testdata/mismatch, whose graph
// marks every line that must draw a diagnostic with "# want: <summary>".
func TestMismatchCorpus(t *testing.T) {
	const dir = "testdata/mismatch"
	g := load(t, dir)
	diags := Check(g, Options{Dir: dir})

	want := map[string]string{} // "file:line" → summary
	path := filepath.Join(dir, "graph.dge.hcl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if m := wantMarker.FindStringSubmatch(sc.Text()); m != nil {
			want[fmt.Sprintf("graph.dge.hcl:%d", line)] = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	got := map[string]string{}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			t.Errorf("unexpected warning: %s: %s", d.Summary, d.Detail)
			continue
		}
		if d.Subject == nil {
			t.Errorf("diagnostic without a source range: %s: %s", d.Summary, d.Detail)
			continue
		}
		key := fmt.Sprintf("%s:%d", filepath.Base(d.Subject.Filename), d.Subject.Start.Line)
		if prev, dup := got[key]; dup {
			t.Errorf("two diagnostics on %s: %q and %q", key, prev, d.Summary)
		}
		got[key] = d.Summary
		if !strings.Contains(d.Detail, "must") && !strings.Contains(d.Detail, "Declare") && !strings.Contains(d.Detail, "Change") {
			t.Errorf("%s: detail does not say what is expected: %s", key, d.Detail)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics by line (-want +got):\n%s\nall diagnostics:\n%s", diff, diagsText(diags))
	}

	// Generate refuses to render when the check fails.
	if files, diags := Generate(g, Options{Dir: dir}); files != nil || !diags.HasErrors() {
		t.Errorf("Generate returned %d files and %d diagnostics, want no files and errors", len(files), len(diags))
	}
}

// TestMismatchDetails pins the wording of the most common mismatches: what
// was expected, what was found, and where the function is declared.
func TestMismatchDetails(t *testing.T) {
	const dir = "testdata/mismatch"
	diags := Check(load(t, dir), Options{Dir: dir})
	for _, want := range []string{
		"The process.wrong_in handler must be\n  func(context.Context, behaviour.Integer) (behaviour.Integer, error)\nbut behaviour.TakesFloat (declared at behaviour/behaviour.go:",
		"is\n  func(ctx context.Context, in behaviour.Float) (behaviour.Integer, error)\nIts parameter 2 (in) is behaviour.Float; it must be behaviour.Integer, the message type of queue \"wrong_in\".",
		"NoContext (declared at behaviour/behaviour.go:",
		"It takes 1 parameter; it must take 2: context.Context, behaviour.Integer (the message type of queue \"no_ctx\")",
		"It returns 1 value; it must return 2: behaviour.Integer (the message type of queue \"join\", which aggregate.join reads), error",
		"must be func(context.Context, behaviour.Integer) (behaviour.Integer, error), but behaviour.Limit is a constant of type untyped int",
		"declares no exported function Dubble. Did you mean Double?",
		"declares triple, a function declared at behaviour/behaviour.go:",
		"which is not exported: the generated program, another package, cannot call it. Rename it Triple in Go",
		"declares no exported type Intger. Did you mean Integer?",
		"The aggregate.join handler must be\n  func(context.Context, []behaviour.Integer) (behaviour.Float, error)",
		"Its parameter 2 (in) is behaviour.Integer; it must be []behaviour.Integer, one message of queue \"join\" from each node in from, in from order",
		"The poll.check handler must be\n  func(context.Context, behaviour.Float) (behaviour.Integer, bool, error)",
		"It is variadic",
		"has type parameters",
		"has field Done of type chan struct{}, and encoding/json cannot encode channels",
		"The on_failure function must be\n  func(context.Context, runtime.Failure)\n",
		"It returns 1 value; it must return nothing",
		"It returns 2 values; it must return 3: behaviour.Integer (the message type of queue \"to_chan\", which process.to_chan reads), bool (done: false to check again after the interval), error",
		"behaviour.Limit is a constant",
		"The aggregate.typed_swapped handler must be\n  func(context.Context, behaviour.Integer, behaviour.Float) (behaviour.Integer, error)",
		"Its parameter 2 (f) is behaviour.Float; it must be behaviour.Integer, the part from process.typed_int, message[0] of queue \"typed_swapped\"",
		"It takes 2 parameters; it must take 3: context.Context, behaviour.Integer (the part from process.typed_int2, message[0] of queue \"typed_slice\"), behaviour.Float (the part from process.typed_float2, message[1] of queue \"typed_slice\")",
		"The split.split_one handler must be\n  func(context.Context, behaviour.Integer) ([]behaviour.Float, error)\n",
		"Its result 1 is behaviour.Float; it must be []behaviour.Float, the split's items, each sent on its own to queue \"neither\", which gather.neither reads",
		"The gather.neither handler must be either the list form\n  func(context.Context, []behaviour.Float) (behaviour.Float, error)\n(called once per split with every item, in index order) or the fold form\n  func(context.Context, behaviour.Float, behaviour.Float) (behaviour.Float, error)\n",
		"As the list form, its parameter 2 (parts) is []behaviour.Integer; it must be []behaviour.Float, every item of the split of split.split_one",
		"As the fold form, its parameter 2 (acc) is behaviour.Float; it must be behaviour.Integer, the accumulator",
		"so the gather.zero_with_list handler must take the fold form\n  func(context.Context, behaviour.Float, behaviour.Integer) (behaviour.Float, error)\nbut behaviour.SumSlice takes the list form",
		"The zero function of gather.zero_wrong must be func() behaviour.Float, returning the accumulator's starting value, but behaviour.Double (declared at behaviour/behaviour.go:",
		"It takes 2 parameters; it must take none",
		"declares no exported function NewTotal. The zero function of gather.fold_wrong must be func() behaviour.Integer",
		"The route.label_message handler must be\n  func(context.Context, behaviour.Integer) (string, error)\nbut behaviour.Double (declared at behaviour/behaviour.go:",
		"Its result 1 is behaviour.Integer; it must be string, the label of the path to take: \"one\" (terminate.label_message_one) or any other label (terminate.label_message_rest).",
		"Its parameter 2 (in) is behaviour.Float; it must be behaviour.Integer, the message type of queue \"label_float\".",
	} {
		found := false
		for _, d := range diags {
			if strings.Contains(d.Detail, want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no diagnostic detail contains %q; got:\n%s", want, diagsText(diags))
		}
	}
}

func TestCheckPackageDoesNotLoad(t *testing.T) {
	for _, tc := range []struct {
		name, handlers, summary, detail string
	}{
		{"missing", "github.com/dgehq/dge/internal/gen/testdata/nosuchpackage", "Cannot load handlers package", "nosuchpackage"},
		{"main", "github.com/dgehq/dge/internal/gen/testdata/mainpkg", "Handlers package is a main package", "is package main"},
		{"compile", "github.com/dgehq/dge/internal/gen/testdata/broken", "The handlers package does not compile", "broken/broken.go:11:28: cannot use \"three\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(`graph "g" {
  handlers = %q
}
start "in" {}
terminate "out" {
  from    = start.in
  queue   = "out"
  message = "Integer"
}
`, tc.handlers)
			g, diags := config.NewLoader().LoadSource("testdata/inline.dge.hcl", []byte(src), config.Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			diags = Check(g, Options{Dir: "testdata"})
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1:\n%s", len(diags), diagsText(diags))
			}
			d := diags[0]
			if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("got %q: %q; want summary %q with %q in the detail", d.Summary, d.Detail, tc.summary, tc.detail)
			}
			if d.Subject == nil || d.Subject.Start.Line != 2 {
				t.Errorf("subject = %v, want the handlers attribute on line 2", d.Subject)
			}
		})
	}
}

func diagsText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "  %v: %s: %s\n", d.Subject, d.Summary, d.Detail)
	}
	return b.String()
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestCheckModuleWithoutDge checks a module that does not require dge:
// its handlers package, importing the runtime, fails to compile with
// "invalid package name", which only follows from the missing requirement;
// the check names the requirement and the command that adds it.
func TestCheckModuleWithoutDge(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/x\n\ngo 1.26\n",
		"h/h.go": `package h

import (
	"context"

	dge "github.com/dgehq/dge/runtime"
)

type M struct{ V int }

func A(ctx context.Context, m M) (M, error) { return m, nil }

func F(ctx context.Context, f dge.Failure) {}
`,
		"graph.dge.hcl": `graph "g" {
  handlers   = "example.com/x/h"
  on_failure = "F"
}
start "start" {}
process "a" {
  from    = start.start
  queue   = "a_in"
  message = "M"
  handler = "A"
}
terminate "out" {
  from    = process.a
  queue   = "out"
  message = "M"
}
`,
	}
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "GOPROXY=off")
	diags := Check(load(t, dir), Options{Dir: dir, Env: env})
	if len(diags) != 1 || diags[0].Summary != "Module does not require dge" || !strings.Contains(diags[0].Detail, "go get github.com/dgehq/dge/runtime@latest\n") {
		t.Errorf("want one diagnostic saying the module must require dge, with the go get command; got:\n%s", diagsText(diags))
	}
	if text := diagsText(diags); strings.Contains(text, "invalid package name") || strings.Contains(text, "go build") {
		t.Errorf("the diagnostics blame the handlers package:\n%s", text)
	}
}
