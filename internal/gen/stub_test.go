package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStubsSatisfyCheck renders the stubs for a graph whose handlers
// package declares part of what it names, compares them with the committed
// handlers/stubs.go, and checks that package, stubs included, with Check:
// every stub compiles and has exactly the signature Check wants.
func TestStubsSatisfyCheck(t *testing.T) {
	const dir = "testdata/stubs"
	stubFile := filepath.Join(dir, "handlers", "stubs.go")
	g := load(t, dir)
	declared := declaredExcept(t, filepath.Join(dir, "handlers"), "stubs.go")
	src, added, err := Stubs(g, "handlers", func(name string) bool { return declared[name] })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range added {
		names = append(names, s.Name+" ("+s.What+")")
	}
	want := []string{
		"Range (message type)",
		"Float (message type)",
		"Total (message type)",
		"Kind (handler of route.by_kind)",
		"Digits (handler of split.digits)",
		"Collect (handler of gather.collect)",
		"Numbers (handler of split.numbers)",
		"Sum (handler of gather.sum)",
		"NewTotal (zero function of gather.sum)",
		"Sign (handler of route.by_sign)",
		"Square (handler of process.square)",
		"Multiply (handler of aggregate.multiply)",
		"RestCall (handler of poll.rest_call)",
		"AcceptFailure (on_failure function)",
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
	if *update {
		if err := os.WriteFile(stubFile, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(stubFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(golden), string(src)); diff != "" {
		t.Errorf("%s is out of date (-want +got); run go test ./internal/gen -update:\n%s", stubFile, diff)
	}
	for _, want := range []string{
		`dgepkg "github.com/dgehq/dge/runtime"`,
		`errors.New("process.square: handler Square is not written yet")`,
		"func Numbers(ctx context.Context, in Range) (items []Integer, err error) {",
		"func Collect(ctx context.Context, items []Integer) (out Total, err error) {",
		"func Sum(ctx context.Context, acc Total, item Integer) (out Total, err error) {",
		"func NewTotal() Total {",
		"func Kind(ctx context.Context, in Integer) (label string, err error) {\n\treturn \"*\", nil\n}",
		"It is not written yet: it sends every\n// message down the default path, terminate.rest.",
		"func Sign(ctx context.Context, in Integer) (label string, err error) {\n\treturn \"negative\", nil\n}",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("stubs lack %s:\n%s", want, src)
		}
	}
	if diags := Check(g, Options{Dir: dir}); len(diags) > 0 {
		t.Errorf("Check of the package with its stubs: %v", diags)
	}
}

func TestStubsNothingMissing(t *testing.T) {
	g := load(t, "testdata/stubs")
	src, added, err := Stubs(g, "handlers", func(string) bool { return true })
	if src != nil || added != nil || err != nil {
		t.Errorf("Stubs with everything declared = %q, %v, %v; want nil, nil, nil", src, added, err)
	}
}

// declaredExcept returns what Declared finds in the package in dir when
// its file skip is left out.
func declaredExcept(t *testing.T, dir, skip string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for _, e := range entries {
		if e.Name() == skip {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name, names, err := Declared(tmp)
	if err != nil || name != "handlers" {
		t.Fatalf("Declared = %q, %v; want package handlers", name, err)
	}
	return names
}

// TestStubsTypedParts renders the stubs of the orders example, whose
// aggregate joins a Reservation and a Payment: each part's type is
// declared, and the handler takes one parameter per part, in from order.
func TestStubsTypedParts(t *testing.T) {
	g := load(t, "../../examples/orders")
	src, _, err := Stubs(g, "handlers", func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"type Reservation struct{}",
		"type Payment struct{}",
		"func Confirm(ctx context.Context, in1 Reservation, in2 Payment) (out Confirmation, err error) {",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("stubs lack %q:\n%s", want, src)
		}
	}
}
