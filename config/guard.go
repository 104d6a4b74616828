package config

import (
	"context"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fixValue ends the detail of a diagnostic about a value over the limits.
const fixValue = "Make the value smaller: a value that doubles from one local to the next, or a for expression or template that repeats a large value, soon passes the limit."

// evaluate evaluates expr in ctx (nil for a constant) under the size
// limits. Every subexpression's value is measured as it is produced, and
// so is what the expressions still being built hold together (a
// template's parts so far, a for expression's collection and elements so
// far), so an evaluation never builds much more than the limits, however
// its values repeat or nest; functions whose result can dwarf their
// arguments are refused before they run (see limited). Past a limit the
// evaluation stops with one "Value too large" error and the value is
// cty.DynamicVal, which the expressions that use it pass on without
// further errors.
//
// An evaluation interrupted by the cancellation of the load's context
// stops as quickly, with no error: load reports the interruption once.
func (s *state) evaluate(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if s.stop(expr.Range().Ptr()) {
		return cty.DynamicVal, nil
	}
	b := &s.budget
	*b = budget{interrupt: s.interrupt}
	var val cty.Value
	var diags hcl.Diagnostics
	if e, ok := expr.(hclsyntax.Expression); ok && builds(e) {
		b.syntax = map[hcl.Expression]hcl.Expression{}
		val, diags = b.guard(e).Value(ctx)
		for _, d := range diags {
			if e, ok := b.syntax[d.Expression]; ok {
				d.Expression = e
			}
		}
	} else {
		// A literal, a reference, or a value in a JSON -var-file (its
		// strings are literals when read without variables) is read, not
		// built: measuring it is enough.
		val, diags = expr.Value(ctx)
		if size := sizeOf(val); size.over() {
			b.failed = tooLarge(expr.Range().Ptr(), "This value holds", size, fixValue)
		}
	}
	if b.stopped != nil {
		s.stopped = b.stopped
		return cty.DynamicVal, nil
	}
	if b.failed != nil {
		return cty.DynamicVal, append(diags, b.failed)
	}
	return val, diags
}

// builds tells whether evaluating e may build a value, rather than read
// a literal or a variable: most attributes do not.
func builds(e hclsyntax.Expression) bool {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr:
		return false
	case *hclsyntax.TemplateExpr:
		return !e.IsStringLiteral()
	}
	return true
}

// budget follows one evaluation under the size limits.
type budget struct {
	// held is the size of the values that finished subexpressions have
	// handed to expressions still being evaluated: what those hold while
	// they build their own values.
	held valueSize
	// stack holds the ranges of the subexpressions being evaluated,
	// innermost last.
	stack []hcl.Range
	// failed is the first value over the limits. Once it is set, every
	// guarded subexpression returns cty.DynamicVal at once, so that the
	// evaluation ends quickly.
	failed *hcl.Diagnostic
	// syntax maps the evaluated copies of subexpressions back to the parsed
	// ones, for the diagnostics hcl attaches expressions to.
	syntax map[hcl.Expression]hcl.Expression

	// interrupt is the load's context; once it is cancelled, the
	// evaluation stops, with stopped the error that says so.
	interrupt context.Context
	stopped   *hcl.Diagnostic
	steps     int // guarded subexpressions evaluated
}

// refuse stops the evaluation because a function's result would pass the
// limits; the diagnostic points at the call being evaluated.
func (b *budget) refuse(holds string, size valueSize, fix string) {
	if b.failed != nil {
		return
	}
	var subject *hcl.Range
	if n := len(b.stack); n > 0 {
		r := b.stack[n-1]
		subject = &r
	}
	b.failed = tooLarge(subject, holds, size, fix)
}

// guarded is a subexpression whose value is checked against the limits.
type guarded struct {
	hclsyntax.Expression
	budget *budget
}

// Value evaluates the subexpression, then measures its value and what the
// expressions being built around it now hold.
func (g *guarded) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	b := g.budget
	rng := g.Range()
	if b.failed != nil || b.interrupted(rng) {
		return cty.DynamicVal, nil
	}
	held := b.held
	b.stack = append(b.stack, rng)
	val, diags := g.Expression.Value(ctx)
	b.stack = b.stack[:len(b.stack)-1]
	// What this subexpression's own parts held is now either in val or
	// dropped.
	b.held = held
	if b.failed != nil || b.stopped != nil {
		return cty.DynamicVal, diags
	}
	size := sizeOf(val)
	total := held.add(size)
	switch {
	case size.over():
		b.failed = tooLarge(&rng, "This value would hold", size, fixValue)
	case total.over():
		// The value fits, but not beside what the expression it belongs
		// to has built so far.
		subject := rng
		if n := len(b.stack); n > 0 {
			subject = b.stack[n-1]
		}
		b.failed = tooLarge(&subject, "Building this value would hold at least", total, fixValue)
	default:
		b.held = total
		return val, diags
	}
	return cty.DynamicVal, diags
}

// guard returns e, guarded, with each of its subexpressions guarded in a
// copy of e. The parsed expression is left as it is: other code reads its
// syntax.
func (b *budget) guard(e hclsyntax.Expression) hclsyntax.Expression {
	g := &guarded{Expression: b.copyGuarded(e), budget: b}
	b.syntax[g] = e
	return g
}

// guardOpt guards e, if there is one.
func (b *budget) guardOpt(e hclsyntax.Expression) hclsyntax.Expression {
	if e == nil {
		return nil
	}
	return b.guard(e)
}

func (b *budget) guardAll(es []hclsyntax.Expression) []hclsyntax.Expression {
	out := make([]hclsyntax.Expression, len(es))
	for i, e := range es {
		out[i] = b.guard(e)
	}
	return out
}

// copyGuarded returns a shallow copy of e whose subexpressions are
// guarded. Leaves (literals, references, the item of a splat) build
// nothing and are returned as they are; so is any node this function does
// not know, whose value is still measured where it is guarded.
func (b *budget) copyGuarded(e hclsyntax.Expression) hclsyntax.Expression {
	var c hclsyntax.Expression
	switch e := e.(type) {
	case *hclsyntax.TemplateExpr:
		n := *e
		n.Parts = b.guardAll(e.Parts)
		c = &n
	case *hclsyntax.TemplateJoinExpr:
		n := *e
		n.Tuple = b.guard(e.Tuple)
		c = &n
	case *hclsyntax.TemplateWrapExpr:
		n := *e
		n.Wrapped = b.guard(e.Wrapped)
		c = &n
	case *hclsyntax.ForExpr:
		n := *e
		n.CollExpr = b.guard(e.CollExpr)
		n.KeyExpr = b.guardOpt(e.KeyExpr)
		n.ValExpr = b.guard(e.ValExpr)
		n.CondExpr = b.guardOpt(e.CondExpr)
		c = &n
	case *hclsyntax.TupleConsExpr:
		n := *e
		n.Exprs = b.guardAll(e.Exprs)
		c = &n
	case *hclsyntax.ObjectConsExpr:
		n := *e
		n.Items = make([]hclsyntax.ObjectConsItem, len(e.Items))
		for i, item := range e.Items {
			n.Items[i] = hclsyntax.ObjectConsItem{KeyExpr: b.guard(item.KeyExpr), ValueExpr: b.guard(item.ValueExpr)}
		}
		c = &n
	case *hclsyntax.ObjectConsKeyExpr:
		// A bare name is a literal key (or, dotted, an error the key
		// reports); only a key computed by an expression is evaluated.
		if _, isRef := e.Wrapped.(*hclsyntax.ScopeTraversalExpr); !e.ForceNonLiteral && (isRef || hcl.ExprAsKeyword(e.Wrapped) != "") {
			return e
		}
		n := *e
		n.Wrapped = b.guard(e.Wrapped)
		c = &n
	case *hclsyntax.FunctionCallExpr:
		n := *e
		n.Args = b.guardAll(e.Args)
		c = &n
	case *hclsyntax.ConditionalExpr:
		n := *e
		n.Condition = b.guard(e.Condition)
		n.TrueResult = b.guard(e.TrueResult)
		n.FalseResult = b.guard(e.FalseResult)
		c = &n
	case *hclsyntax.IndexExpr:
		n := *e
		n.Collection = b.guard(e.Collection)
		n.Key = b.guard(e.Key)
		c = &n
	case *hclsyntax.SplatExpr:
		// Item stays the same node: Each refers to it.
		n := *e
		n.Source = b.guard(e.Source)
		n.Each = b.guard(e.Each)
		c = &n
	case *hclsyntax.RelativeTraversalExpr:
		n := *e
		n.Source = b.guard(e.Source)
		c = &n
	case *hclsyntax.BinaryOpExpr:
		n := *e
		n.LHS = b.guard(e.LHS)
		n.RHS = b.guard(e.RHS)
		c = &n
	case *hclsyntax.UnaryOpExpr:
		n := *e
		n.Val = b.guard(e.Val)
		c = &n
	case *hclsyntax.ParenthesesExpr:
		n := *e
		n.Expression = b.guard(e.Expression)
		c = &n
	default:
		return e
	}
	b.syntax[c] = e
	return c
}
