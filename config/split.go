package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Split and gather: a gather's own attributes (over, zero), read here and
// resolved after the from references.

// buildGather reads a gather's over, a reference to the split it closes
// (resolved by linkOver), and its zero, the name of a function of the
// handlers package. Whether the handler is in the list or the fold form is
// decided by the generator from its Go signature, so zero is only checked
// as a name here.
func (s *state) buildGather(d *nodeDecl, n *Node) {
	if attr, ok := d.attrs["over"]; ok {
		n.OverRange = attr.Expr.Range()
		d.over = s.decodeOver(d, attr.Expr)
	} else {
		s.missing(d, "an over", "the split it closes, such as over = split.pages; a gather fires once per split of that node, when all its items are in.")
	}
	if attr, ok := d.attrs["zero"]; ok {
		n.ZeroRange = attr.Expr.Range()
		zero := func(v string) string { return goNameProblem(v, "zero function") }
		if v, ok := s.evalChecked(attr, "zero", "Invalid zero function name", zero); ok {
			n.Zero = v
		}
	}
}

// decodeOver reads a gather's over as a reference, split.NAME, without
// evaluating it.
func (s *state) decodeOver(d *nodeDecl, expr hcl.Expression) *fromRef {
	rng := expr.Range()
	t, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(t) != 2 {
		hint := ""
		if len(expr.Variables()) == 0 {
			if v, vDiags := s.evaluate(expr, nil); !vDiags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				hint = fmt.Sprintf(": over = %s", v.AsString())
			}
		}
		s.errorf(&rng, "Invalid over reference",
			"over names the split %s closes with a reference, split.NAME, not a string or an expression. Write it without quotes%s.", d.addr(), hint)
		return nil
	}
	a, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		s.errorf(&rng, "Invalid over reference",
			"over names the split %s closes with a reference, split.NAME, such as over = split.pages.", d.addr())
		return nil
	}
	return &fromRef{kind: Kind(t.RootName()), name: a.Name, rng: t.SourceRange()}
}

// linkOver resolves each gather's over reference to a split node of the
// graph and sets Node.Over.
func (s *state) linkOver(nodes []*nodeDecl) {
	byAddr := map[string]*nodeDecl{}
	byName := map[string]*nodeDecl{}
	var splits []string
	for _, d := range nodes {
		byAddr[d.addr()] = d
		byName[d.name] = d
		if d.kind == KindSplit {
			splits = append(splits, d.addr())
		}
	}
	dup := map[string]bool{}
	for _, d := range s.nodes {
		if d.dup {
			dup[d.addr()] = true
		}
	}
	for _, d := range nodes {
		r := d.over
		if r == nil {
			continue
		}
		t := byAddr[r.addr()]
		if t == nil {
			if dup[r.addr()] {
				continue // the duplicate is reported; don't pile on
			}
			hint := ""
			if same := byName[r.name]; same != nil && same.kind == KindSplit {
				hint = fmt.Sprintf(" (did you mean %s?)", same.addr())
			} else {
				hint = suggestSuffix(r.addr(), splits)
			}
			s.errorf(r.rng.Ptr(), "Reference to undeclared split",
				"There is no split %s%s. over names the split node that %s closes: declare it, or fix the reference.", r.addr(), hint, d.addr())
			continue
		}
		if t.kind != KindSplit {
			s.errorf(r.rng.Ptr(), "Gather over a node that is not a split",
				"%s is a %s; over names the split node whose items %s gathers, such as over = split.pages. Name a split, or use an aggregate to join the outputs of several nodes.", t.addr(), t.kind, d.addr())
			continue
		}
		r.target = t
		d.node.Over = t.node
	}
}
