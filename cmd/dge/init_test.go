package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// placeholders makes output that names temporary folders and this
// checkout comparable with a golden file.
func placeholders(t *testing.T, s, dir string) string {
	t.Helper()
	_, checkout, err := dgeSource()
	if err != nil || checkout == "" {
		t.Fatalf("dgeSource in a test binary = %q, %v; want this checkout", checkout, err)
	}
	return strings.NewReplacer(dir, "DIR", checkout, "CHECKOUT").Replace(s)
}

// tree returns every file under dir (slash paths) with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = readFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestInitProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	code, stdout, stderr := cliRun(t, "", "init", "-module", "example.com/hello", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	checkGolden(t, "init/project.txt", []byte(placeholders(t, stdout, dir)))
	files := tree(t, dir)
	want := []string{"cmd/hello/graph.dot", "cmd/hello/graph.mmd", "cmd/hello/graph_test.go", "cmd/hello/main.go",
		"go.mod", "graph.dge.hcl", "handlers/doc.go", "handlers/handlers.go"}
	if diff := cmp.Diff(want, keys(files)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	for _, name := range []string{"go.mod", "graph.dge.hcl", "handlers/doc.go", "handlers/handlers.go", "cmd/hello/graph_test.go"} {
		checkGolden(t, "init/project/"+name+".golden", []byte(placeholders(t, files[name], dir)))
	}
	if !strings.Contains(files["handlers/doc.go"], "\n//go:generate dge generate ..\n") {
		t.Errorf("handlers/doc.go has no go:generate line:\n%s", files["handlers/doc.go"])
	}

	// The graph validates, and dge generate would write what init wrote.
	if code, _, stderr := cliRun(t, "", "validate", dir); code != 0 {
		t.Errorf("dge validate of the new graph: exit %d\n%s", code, stderr)
	}
}

func TestInitNeverOverwrites(t *testing.T) {
	dir := writeTemp(t, map[string]string{"handlers/handlers.go": "mine\n", "notes.txt": "mine\n"})
	code, stdout, stderr := cliRun(t, "", "init", "-module", "example.com/hello", dir)
	if code != 1 || !strings.Contains(stderr, "already holds handlers/handlers.go; dge init never overwrites a file") || stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 naming handlers/handlers.go", code, stdout, stderr)
	}
	if diff := cmp.Diff(map[string]string{"handlers/handlers.go": "mine\n", "notes.txt": "mine\n"}, tree(t, dir)); diff != "" {
		t.Errorf("the folder changed (-want +got):\n%s", diff)
	}

	// A second init in a new project finds its graph and adds nothing.
	dir = t.TempDir()
	if code, _, stderr := cliRun(t, "", "init", "-module", "example.com/hello", dir); code != 0 {
		t.Fatalf("first init: exit %d\n%s", code, stderr)
	}
	before := tree(t, dir)
	code, stdout, stderr = cliRun(t, "", "init", dir)
	if code != 0 || !strings.Contains(stdout, "already declares every message type and handler") {
		t.Errorf("second init: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(before, tree(t, dir)); diff != "" {
		t.Errorf("second init changed the folder (-want +got):\n%s", diff)
	}
}

// shopGraph is the arith graph with its handlers in module example.com/shop.
func shopGraph(t *testing.T) string {
	t.Helper()
	return strings.ReplaceAll(readFile(t, "../../examples/arith/graph.dge.hcl"), "github.com/dgehq/dge/examples/arith/behaviour", "example.com/shop/behaviour")
}

const shopWritten = `package behaviour

import "context"

type Integer struct{ Value int64 }

// Double is written, with the wrong signature: init leaves it alone.
func Double() {}

var _ = context.Background
`

func TestInitStubs(t *testing.T) {
	dir := writeTemp(t, map[string]string{
		"graph.dge.hcl":         shopGraph(t),
		"go.mod":                "module example.com/shop\n",
		"behaviour/written.go":  shopWritten,
		"behaviour/stubs.go":    "package behaviour\n", // taken: the stubs go to stubs2.go
		"behaviour/doc_test.go": "package behaviour\n\nfunc Square() {}\n",
	})
	code, stdout, stderr := cliRun(t, "", "init", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	checkGolden(t, "init/stubs.txt", []byte(placeholders(t, stdout, dir)))
	files := tree(t, dir)
	if files["behaviour/written.go"] != shopWritten || files["behaviour/stubs.go"] != "package behaviour\n" {
		t.Errorf("init touched existing files:\n%v", files)
	}
	src := files["behaviour/stubs2.go"]
	for _, want := range []string{
		"type Float struct{}",
		"func Square(ctx context.Context, in Integer) (out Integer, err error) {",
		"func Multiply(ctx context.Context, parts []Integer) (out Float, err error) {",
		"func RestCall(ctx context.Context, in Float) (out Integer, done bool, err error) {",
		"func AcceptFailure(ctx context.Context, f dge.Failure) {",
		`errors.New("process.square: handler Square is not written yet")`,
	} {
		if !strings.Contains(src, want) {
			t.Errorf("stubs2.go lacks %s:\n%s", want, src)
		}
	}
	if strings.Contains(src, "func Double") || strings.Contains(src, "type Integer") {
		t.Errorf("stubs2.go declares again what written.go has:\n%s", src)
	}

	// Run again: everything is declared now.
	code, stdout, _ = cliRun(t, "", "init", dir)
	if code != 0 || !strings.Contains(stdout, "nothing to add") {
		t.Errorf("second run: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "behaviour", "stubs3.go")); err == nil {
		t.Error("second run wrote stubs3.go")
	}
}

func TestInitStubsWithoutGoMod(t *testing.T) {
	dir := writeTemp(t, map[string]string{"graph.dge.hcl": shopGraph(t)})
	code, stdout, stderr := cliRun(t, "", "init", "-module", "example.com/shop", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	files := tree(t, dir)
	if !strings.HasPrefix(files["go.mod"], "module example.com/shop\n") || !strings.Contains(files["go.mod"], "replace github.com/dgehq/dge => ") {
		t.Errorf("go.mod:\n%s", files["go.mod"])
	}
	if !strings.Contains(files["behaviour/stubs.go"], "type Integer struct{}") || !strings.Contains(stdout, "Wrote "+filepath.Join(dir, "go.mod")) {
		t.Errorf("stdout:\n%s\nstubs.go:\n%s", stdout, files["behaviour/stubs.go"])
	}

	// A graph whose handlers lie outside the module is refused.
	dir = writeTemp(t, map[string]string{"graph.dge.hcl": shopGraph(t)})
	code, _, stderr = cliRun(t, "", "init", "-module", "example.com/other", dir)
	if code != 1 || !strings.Contains(stderr, "is not in module example.com/other") {
		t.Errorf("exit %d, stderr %q; want the handlers package outside the module refused", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		t.Error("a refused init wrote go.mod")
	}
}

func TestInitBadModule(t *testing.T) {
	code, _, stderr := cliRun(t, "", "init", "-module", "bad path!", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "cannot be the module path") || !strings.Contains(stderr, "-module") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestInitInsideModule(t *testing.T) {
	root := writeTemp(t, map[string]string{"go.mod": "module example.com/big\n\ngo 1.26\n"})
	dir := filepath.Join(root, "svc")
	code, stdout, stderr := cliRun(t, "", "init", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	files := tree(t, root)
	if _, ok := files["svc/go.mod"]; ok {
		t.Error("init wrote svc/go.mod inside module example.com/big")
	}
	if !strings.Contains(files["svc/graph.dge.hcl"], `handlers = "example.com/big/svc/handlers"`) ||
		!strings.Contains(files["svc/cmd/svc/graph_test.go"], `"example.com/big/svc/handlers"`) {
		t.Errorf("the graph and its test do not name example.com/big/svc/handlers:\n%s\n%s", files["svc/graph.dge.hcl"], files["svc/cmd/svc/graph_test.go"])
	}
	if !strings.Contains(stdout, "does not require github.com/dgehq/dge yet; the first steps below add it.") || !strings.Contains(stdout, "\n  go build -mod=mod github.com/dgehq/dge/runtime\n") {
		t.Errorf("stdout does not say how to require dge:\n%s", stdout)
	}

	code, _, stderr = cliRun(t, "", "init", "-module", "example.com/other", filepath.Join(root, "more"))
	if code != 1 || !strings.Contains(stderr, "is already inside module example.com/big") {
		t.Errorf("-module inside another module: exit %d, stderr %q", code, stderr)
	}
}

func TestNewPackageName(t *testing.T) {
	for path, want := range map[string]string{
		"example.com/shop/behaviour": "behaviour",
		"example.com/my-pkg/v2":      "mypkg",
		"example.com/2x":             "handlers",
		"example.com/type":           "handlers",
	} {
		if got := newPackageName(path); got != want {
			t.Errorf("newPackageName(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestInitStubsRoute checks that dge init stubs a route's handler (which
// returns a label, so runs flow before it is written) and says so, and
// that dge generate accepts the stubs.
func TestInitStubsRoute(t *testing.T) {
	dir := writeTemp(t, map[string]string{
		"graph.dge.hcl": `graph "kinds" {
  handlers = "example.com/kinds/behaviour"
}
start "in" {}
route "by_kind" {
  from    = start.in
  queue   = "docs"
  message = "Doc"
  handler = "Kind"
}
terminate "invoices" {
  from    = route.by_kind
  when    = "invoice"
  queue   = "invoices"
  message = "Doc"
}
terminate "others" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Doc"
}
`,
		"go.mod": "module example.com/kinds\n",
	})
	code, stdout, stderr := cliRun(t, "", "init", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "handler of route.by_kind") || !strings.Contains(stdout, "but a route's, which sends every message down one of its paths") {
		t.Errorf("init output does not name the route's stub and what it does:\n%s", stdout)
	}
	src := tree(t, dir)["behaviour/stubs.go"]
	if !strings.Contains(src, "func Kind(ctx context.Context, in Doc) (") {
		t.Errorf("stubs.go lacks the route's handler:\n%s", src)
	}
}

// TestInitHandlerNamedLikeType checks that dge init refuses a graph whose
// handler has the name of a message type, which the handlers package
// cannot declare both of, saying where and how to fix it, and writes
// nothing; dge validate says the same.
func TestInitHandlerNamedLikeType(t *testing.T) {
	src := strings.Replace(graphFirst, `handler = "AddTax"`, `handler = "Taxed"`, 1)
	dir := writeTemp(t, map[string]string{"graph.dge.hcl": src})
	for _, cmd := range []string{"init", "validate"} {
		code, _, stderr := cliRun(t, "", cmd, dir)
		for _, want := range []string{"Function named like a message type", "graph.dge.hcl:11:13", `handler = "Taxed"`, `message = "Taxed" of terminate.taxed`, "Rename one of them"} {
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("dge %s: exit %d, stderr lacks %q:\n%s", cmd, code, want, stderr)
			}
		}
	}
	if diff := cmp.Diff(map[string]string{"graph.dge.hcl": src}, tree(t, dir)); diff != "" {
		t.Errorf("dge init changed the folder (-want +got):\n%s", diff)
	}
}
