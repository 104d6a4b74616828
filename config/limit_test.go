package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

// loops returns a template of levels nested for directives over ten
// elements each, with body inside them all: it repeats body 10^levels times.
func loops(levels int, body string) string {
	var b strings.Builder
	b.WriteString(`"`)
	for i := range levels {
		fmt.Fprintf(&b, "%%{for i%d in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}", i)
	}
	b.WriteString(body)
	b.WriteString(strings.Repeat("%{endfor}", levels))
	b.WriteString(`"`)
	return b.String()
}

// kib is a KiB of text, for templates without functions.
var kib = strings.Repeat("x", 1024)

// doublingChain returns locals where each is twice the one before,
// starting from 1 KiB, alternating the ways a value can double: the last
// would be 16 GiB.
func doublingChain() string {
	var b strings.Builder
	b.WriteString("locals {\n  l0 = format(\"%1024s\", \"x\")\n")
	ways := []string{
		`"${local.%[1]s}${local.%[1]s}"`,
		`join("", [local.%[1]s, local.%[1]s])`,
		`replace(local.%[1]s, " ", "  ")`,
		`strrev(format("%%s%%s", local.%[1]s, local.%[1]s))`,
		`upper("${local.%[1]s}${local.%[1]s}")`,
	}
	for i := 1; i <= 24; i++ {
		fmt.Fprintf(&b, "  l%d = %s\n", i, fmt.Sprintf(ways[i%len(ways)], fmt.Sprintf("l%d", i-1)))
	}
	b.WriteString("}\n")
	return b.String()
}

// hostileSources are expressions that, without the size limits, build
// gigabytes or more from a few bytes of HCL. Each must be reported as
// "Value too large". FuzzLoad starts from them too.
var hostileSources = map[string]string{
	"format width":     `locals { a = format("%-2147483647s", "x") }`,
	"format precision": `locals { a = format("%.999999999f", 1) }`,
	"format repeating an argument": `locals {
  s = format("%600000s", "")
  a = format("%[1]s%[1]s%[1]s", local.s)
}`,
	"formatlist": `locals {
  l = split("", format("%1000s", ""))
  a = formatlist("%500000s", local.l)
}`,
	"doubling chain": doublingChain(),
	"template for": `locals {
  l = split("", format("%2000s", ""))
  s = format("%1000s", "")
  a = "%{for x in local.l}${local.s}%{endfor}"
}`,
	"nested for": `locals {
  l = split("", format("%1000s", ""))
  a = [for x in local.l : [for y in local.l : [y, y, y, y, y, y, y, y, y, y]]]
}`,
	"constant loops":     `locals { a = ` + loops(7, kib) + ` }`,
	"object keys":        `locals { a = {for i, x in split("", format("%2000s", "")) : "${format("%1000s", "")}${i}" => x} }`,
	"split":              `locals { a = split("", format("%200000s", "")) }`,
	"join separator":     `locals { a = join(format("%500000s", ""), split("", format("%1000s", ""))) }`,
	"replace":            `locals { a = replace(format("%500000s", ""), " ", format("%1000s", "")) }`,
	"regex_replace":      `locals { a = regex_replace(format("%2000s", ""), " ", format("%500000s", "")) }`,
	"huge exponent":      `locals { a = "x${1e600000000}" }`,
	"number in a string": `locals { a = tostring(1e-600000000) }`,
	"shared doubling": `locals {
  l0 = split("", format("%1000s", ""))
  l1 = [local.l0, local.l0]
  l2 = [local.l1, local.l1]
  l3 = [local.l2, local.l2]
  l4 = [local.l3, local.l3]
  l5 = [local.l4, local.l4]
  l6 = [local.l5, local.l5]
  l7 = [local.l6, local.l6]
  a  = jsonencode(local.l7)
}`,
	"variable default":   `variable "v" { default = ` + loops(7, kib) + ` }`,
	"optional default":   `variable "v" { type = object({ a = optional(string, ` + loops(7, kib) + `) }) }`,
	"variable described": `variable "v" { description = ` + loops(7, kib) + ` }`,
}

// TestHostileValuesBounded loads each hostile source and checks that it
// is reported as too large, having allocated a few MiB in all (churn
// included: memory allocated and freed counts). Without the limits each
// would allocate gigabytes, the format width 2 GiB in one block: a
// regression may end this test with "fatal error: out of memory".
func TestHostileValuesBounded(t *testing.T) {
	const maxAlloc = 64 << 20
	for name, src := range hostileSources {
		t.Run(name, func(t *testing.T) {
			l := config.NewLoader()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, diags := l.LoadSource("hostile.dge.hcl", []byte(src), config.Options{})
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxAlloc {
				t.Errorf("loading allocated %d MiB, more than %d MiB", alloc>>20, maxAlloc>>20)
			}
			var tooLarge []*hcl.Diagnostic
			for _, d := range diags {
				if d.Summary == "Value too large" {
					tooLarge = append(tooLarge, d)
				}
			}
			if len(tooLarge) != 1 {
				t.Fatalf("got %d \"Value too large\" errors, want 1:\n%s", len(tooLarge), renderDiags(l, diags))
			}
			d := tooLarge[0]
			if d.Subject == nil || d.Subject.Filename != "hostile.dge.hcl" {
				t.Errorf("the error does not point into the source: %v", d.Subject)
			}
			if !strings.Contains(d.Detail, "at most") {
				t.Errorf("the detail does not name the limit: %s", d.Detail)
			}
		})
	}
}

// TestVariableTooLarge checks that a variable's value over the limits is
// refused from every source, as one error, with the value's source range
// when it has one and no snippet of a sensitive value.
func TestVariableTooLarge(t *testing.T) {
	big := strings.Repeat("x", 1<<20+1)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hclFile := write("big.vars.hcl", "prefix = "+loops(4, kib)+"\n")
	jsonFile := write("big.vars.json", `{"prefix": [0`+strings.Repeat(", 0", 100_000)+`]}`)
	secretFile := write("secret.vars.hcl", "password = "+loops(4, kib)+"\n")
	vhost := config.VarArg{Raw: "vhost=/"}
	tests := []struct {
		name    string
		opts    config.Options
		subject string // the file the error points into; "" for none
	}{
		{"-var", config.Options{VarArgs: []config.VarArg{vhost, {Raw: "prefix=" + big}}}, ""},
		{"DGE_VAR_", config.Options{Env: []string{"DGE_VAR_prefix=" + big}, VarArgs: []config.VarArg{vhost}}, ""},
		{"-var read as HCL", config.Options{VarArgs: []config.VarArg{vhost, {Raw: "attempts=1e600000000"}}}, "<value for var.attempts>"},
		{"-var-file", config.Options{VarArgs: []config.VarArg{vhost, {File: hclFile}}}, hclFile},
		{"JSON -var-file", config.Options{VarArgs: []config.VarArg{vhost, {File: jsonFile}}}, jsonFile},
		{"sensitive", config.Options{VarArgs: []config.VarArg{vhost, {File: secretFile}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := config.NewLoader()
			g, diags := l.Load("../testdata/graphs/vars", tt.opts)
			if g != nil || len(diags) != 1 || diags[0].Summary != "Value too large" {
				t.Fatalf("got graph %v and diagnostics:\n%s\nwant one error \"Value too large\"", g != nil, renderDiags(l, diags))
			}
			d := diags[0]
			subject := ""
			if d.Subject != nil {
				subject = d.Subject.Filename
			}
			if subject != tt.subject {
				t.Errorf("the error points into %q, want %q", subject, tt.subject)
			}
			if !strings.Contains(d.Detail, "at most") || strings.Contains(d.Detail, "xxxx") {
				t.Errorf("the detail does not name the limit, or shows the value: %.300s", d.Detail)
			}
		})
	}
}

// TestValuesAtTheLimit checks where the limits fall: a value of exactly
// 1 MiB of text or 100,000 elements loads; one byte or element more is
// too large.
func TestValuesAtTheLimit(t *testing.T) {
	const graph = `
graph "g" {
  handlers = "example.com/g"
}
start "in" {}
terminate "out" {
  from    = start.in
  queue   = "out"
  message = "Result"
}
locals {
  value = %s
}
`
	tests := []struct {
		name, expr string
		tooLarge   bool
	}{
		{"1 MiB string", `format("%1048576s", "")`, false},
		{"1 MiB and a byte", `format("%1048577s", "")`, true},
		{"1 MiB by a template", `"${format("%524288s", "")}${format("%524288s", "")}"`, false},
		{"1 MiB and a byte by a template", `"${format("%524288s", "")}${format("%524289s", "")}"`, true},
		{"100,000 elements", `split("", format("%100000s", ""))`, false},
		{"100,001 elements", `split("", format("%100001s", ""))`, true},
		{"a for over 50,000 elements", `[for x in split("", format("%50000s", "")) : x]`, false},
		{"a for building 150,000 elements", `[for x in split("", format("%50000s", "")) : [x, x]]`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := config.NewLoader()
			_, diags := l.LoadSource("limit.dge.hcl", fmt.Appendf(nil, graph, tt.expr), config.Options{})
			var want []string
			if tt.tooLarge {
				want = []string{"Value too large"}
			}
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s\n%s", diff, renderDiags(l, diags))
			}
		})
	}
}
