package config_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// deepSources returns expressions that nest n levels or more; with n =
// 100,000 each crashed dge with a stack overflow, or took a gigabyte to
// load, before nesting was bounded.
func deepSources(n int) map[string]string {
	return map[string]string{
		"brackets":         strings.Repeat("[", n) + strings.Repeat("]", n),
		"parentheses":      strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"braces":           strings.Repeat("{a = ", n) + "1" + strings.Repeat("}", n),
		"unary minus":      strings.Repeat("-", 2*n) + "1",
		"negation":         strings.Repeat("!", 2*n) + "true",
		"templates":        strings.Repeat(`"${`, n/2) + "1" + strings.Repeat(`}"`, n/2),
		"template ifs":     `"` + strings.Repeat("%{if true}", n/5) + "x" + strings.Repeat("%{endif}", n/5) + `"`,
		"template fors":    `"` + strings.Repeat("%{for x in [1]}", n/5) + "x" + strings.Repeat("%{endfor}", n/5) + `"`,
		"additions":        strings.Repeat("1 + ", n) + "1",
		"conditionals":     strings.Repeat("true ? 1 : ", n) + "1",
		"computed indexes": "[[1]]" + strings.Repeat("[0+0]", n),
	}
}

// deepLocal returns a graph whose local a, on line 2, is expr: a deep
// expression is reported there.
func deepLocal(expr string) string {
	return "locals {\n  a = " + expr + "\n}\n"
}

// TestNestingTooDeep checks that each deep expression is refused as one
// "Nesting too deep" error on its line, before it is parsed, at a cost in
// proportion to its size: about what lexing it takes (the parser lexes a
// file first too), under 1 KiB a byte of source, where a deep
// expression took 5 KiB a byte and crashed.
func TestNestingTooDeep(t *testing.T) {
	for name, expr := range deepSources(100_000) {
		t.Run(name, func(t *testing.T) {
			src := []byte(deepLocal(expr))
			l := config.NewLoader()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, diags := l.LoadSource("deep.dge.hcl", src, config.Options{})
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(src))<<10 {
				t.Errorf("loading %d KiB allocated %d MiB, more than 1 KiB a byte", len(src)>>10, alloc>>20)
			}
			checkTooDeep(t, diags, "deep.dge.hcl", 2)
		})
	}
}

// manyAttributes returns n attributes with an addition each, one a line:
// their levels do not add up.
func manyAttributes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  b%d = 1 + 2 + 3\n", i)
	}
	return b.String()
}

// checkTooDeep checks that diags holds one "Nesting too deep" error, at
// filename's line.
func checkTooDeep(t *testing.T, diags hcl.Diagnostics, filename string, line int) {
	t.Helper()
	var deep hcl.Diagnostics
	for _, d := range diags {
		if d.Summary == "Nesting too deep" {
			deep = append(deep, d)
		}
	}
	if len(deep) != 1 {
		t.Fatalf("got %v, want one \"Nesting too deep\" error", diags)
	}
	d := deep[0]
	if d.Subject == nil || d.Subject.Filename != filename || d.Subject.Start.Line != line {
		t.Errorf("the error points at %v, want %s line %d", d.Subject, filename, line)
	}
	if !strings.Contains(d.Detail, "at most 100") || !strings.Contains(d.Detail, "Split the expression into locals.") {
		t.Errorf("the detail does not name the limit and the fix: %s", d.Detail)
	}
}

// TestNestingLimit checks the limit's edge: an expression of 100 levels
// loads, one of 101 is refused. The locals block is the first level.
func TestNestingLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		expr string
		ok   bool
	}{
		{"99 brackets", strings.Repeat("[", 99) + strings.Repeat("]", 99), true},
		{"100 brackets", strings.Repeat("[", 100) + strings.Repeat("]", 100), false},
		{"98 additions in brackets", "[" + strings.Repeat("1 + ", 98) + "1]", true},
		{"99 additions in brackets", "[" + strings.Repeat("1 + ", 99) + "1]", false},
		{"many short expressions", "[" + strings.Repeat("-1 + 2, ", 1000) + "(3)]", true},
		{"many directives", `"` + strings.Repeat("%{if true}x%{else}y%{endif}%{for x in [1]}${x}%{endfor}", 1000) + `"`, true},
		{"many attributes", "1\n" + manyAttributes(1000), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := deepLocal(tc.expr)
			_, diags := config.NewLoader().LoadSource("edge.dge.hcl", []byte(src), config.Options{})
			if tc.ok {
				for _, d := range diags {
					if d.Summary == "Nesting too deep" {
						t.Errorf("refused: %v", d)
					}
				}
				return
			}
			checkTooDeep(t, diags, "edge.dge.hcl", 2)
		})
	}
}

// TestNestingTooDeepVariable checks that a -var value and a JSON
// -var-file are bounded as a graph file is.
func TestNestingTooDeepVariable(t *testing.T) {
	graph := []byte("variable \"v\" {\n  type = any\n}\n")
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	t.Run("-var", func(t *testing.T) {
		_, diags := config.NewLoader().LoadSource("g.dge.hcl", graph, config.Options{VarArgs: []config.VarArg{{Raw: "v=" + deep}}})
		checkTooDeep(t, diags, "<value for var.v>", 1)
	})
	for _, name := range []string{"vars.json", "vars.hcl"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			src := "{\n\"v\": " + deep + "}"
			if name == "vars.hcl" {
				src = "\nv = " + deep
			}
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags := config.NewLoader().LoadSource("g.dge.hcl", graph, config.Options{VarArgs: []config.VarArg{{File: path}}})
			checkTooDeep(t, diags, path, 2)
		})
	}
}

// TestChainedLocalsLinear checks that loading n chained locals allocates
// in proportion to n: four times the locals may allocate about four times
// the memory, not sixteen, as when the evaluation context was rebuilt with
// every local evaluated so far before each local. 20,000 locals, which
// took two minutes so, load too.
func TestChainedLocalsLinear(t *testing.T) {
	alloc := func(n int) uint64 {
		src := chainedLocals(n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g, diags := config.NewLoader().LoadSource("chain.dge.hcl", src, config.Options{})
		runtime.ReadMemStats(&after)
		if diags.HasErrors() || g == nil {
			t.Fatalf("%d locals: %v", n, diags)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(2500), alloc(10_000)
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("10,000 locals allocated %.1f times what 2,500 did (%d and %d bytes); want about 4", ratio, large, small)
	}
	alloc(20_000)
}

// slowLocals is a graph whose local slow, on line 3, takes many minutes to
// evaluate: a billion steps, each small and within the limits.
const slowLocals = `locals {
  l    = split("", format("%30000s", ""))
  slow = [for a in local.l : [for b in local.l : b if false]]
}
`

// TestLoadInterrupted checks that cancelling the context stops a load
// that would take many minutes, with one "Interrupted" error at the expression
// being evaluated and no graph.
func TestLoadInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.dge.hcl")
	if err := os.WriteFile(path, []byte(slowLocals), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	// Not a time limit: the cancellation comes while local.slow is
	// evaluated, and the load has minutes of work left then.
	time.AfterFunc(100*time.Millisecond, cancel)
	g, diags := config.NewLoader().LoadContext(ctx, path, config.Options{})
	if g != nil {
		t.Fatal("an interrupted load returned a graph")
	}
	if len(diags) != 1 || diags[0].Summary != "Interrupted" {
		t.Fatalf("got %v, want one \"Interrupted\" error", diags)
	}
	if s := diags[0].Subject; s == nil || s.Filename != path || s.Start.Line < 2 || s.Start.Line > 3 {
		t.Errorf("the error points at %v, want a local of %s", s, path)
	}
	if !strings.Contains(diags[0].Detail, "context canceled") || !strings.HasSuffix(diags[0].Detail, "make it simpler.") {
		t.Errorf("detail: %s", diags[0].Detail)
	}
}

// TestLoadCancelled checks that a load whose context is cancelled before
// it starts reads nothing.
func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	g, diags := config.NewLoader().LoadContext(ctx, "../examples/arith", config.Options{})
	if g != nil || len(diags) != 1 || diags[0].Summary != "Interrupted" || diags[0].Subject != nil {
		t.Fatalf("got graph %v and %v, want one \"Interrupted\" error without a subject", g != nil, diags)
	}
}
