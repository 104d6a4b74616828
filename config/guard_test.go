package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TestEvaluateAsHCL checks that evaluating under the size limits gives
// what hcl gives, value and diagnostics alike, for every kind of
// expression the guard copies, and that no diagnostic names a copy.
func TestEvaluateAsHCL(t *testing.T) {
	tests := []struct{ name, src string }{
		{"literal", `5`},
		{"reference", `local.name`},
		{"template", `"a-${local.name}-${1 + 2}"`},
		{"template directives", `"%{for i, x in local.list}${i}=${x}%{if i < 2},%{endif}%{endfor}"`},
		{"heredoc", "<<-EOT\n  ${local.name}\n  %{for x in local.list}${x}%{endfor}\n  EOT\n"},
		{"wrapped template", `"${local.list}"`},
		{"tuple for with condition", `[for i, x in local.list : upper(x) if i > 0]`},
		{"object for", `{for k, v in local.map : v => k}`},
		{"object for grouping", `{for x in ["a", "b", "a"] : x => x...}`},
		{"object", `{name = local.name, "quoted" = 1, (local.name) = 2, a.b = 3}`},
		{"object with a keyword key", `{null = 1, true = 2}`},
		{"splat", `local.objects[*].a`},
		{"nested splat", `[local.objects, local.objects][*][0].a`},
		{"splat of a single value", `local.name[*]`},
		{"index", `local.list[1]`},
		{"relative traversal", `[local.map][0].k1`},
		{"conditional", `local.name == "n" ? local.list : ["other"]`},
		{"operators", `-(1 + 2) * 3 > 4 || !true`},
		{"parentheses", `(local.name)`},
		{"function with expansion", `concat(["z"], local.list...)`},
		{"functions", `format("%s-%03d", join("/", local.list), length(local.map))`},
		{"null in a template", `"a${null}"`},
		{"wrong type in a for", `[for x in 5 : x]`},
		{"unknown function", `nope(1)`},
		{"bad argument", `upper([1])`},
		{"syntax error", `[1, `},
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"local": cty.ObjectVal(map[string]cty.Value{
			"name":    cty.StringVal("n"),
			"list":    cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b"), cty.StringVal("c")}),
			"map":     cty.MapVal(map[string]cty.Value{"k1": cty.StringVal("v1"), "k2": cty.StringVal("v2")}),
			"objects": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}), cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(2)})}),
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, _ := hclsyntax.ParseExpression([]byte(tt.src), "test.hcl", hcl.InitialPos)
			s := &state{}
			ctx.Functions = functions(nil, &s.budget)
			wantVal, wantDiags := expr.Value(ctx)
			gotVal, gotDiags := s.evaluate(expr, ctx)
			if !gotVal.RawEquals(wantVal) {
				t.Errorf("value = %#v, want %#v", gotVal, wantVal)
			}
			summaries := func(diags hcl.Diagnostics) []string {
				var out []string
				for _, d := range diags {
					out = append(out, d.Summary+": "+d.Detail)
				}
				return out
			}
			if diff := cmp.Diff(summaries(wantDiags), summaries(gotDiags)); diff != "" {
				t.Errorf("diagnostics mismatch (-want +got):\n%s", diff)
			}
			for _, d := range gotDiags {
				if _, isCopy := s.budget.syntax[d.Expression]; isCopy {
					t.Errorf("diagnostic %q names the guard's copy of an expression: %#v", d.Summary, d.Expression)
				}
			}
		})
	}
}
