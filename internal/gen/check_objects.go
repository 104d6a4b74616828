package gen

import (
	"fmt"
	"go/types"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// How the checker names and finds the handlers package's objects in its
// diagnostics: types, positions, near misses.

// describe says what kind of object obj is and where it is declared.
func (c *checker) describe(obj types.Object) string {
	return fmt.Sprintf("a %s of type %s (%s)", objKind(obj), c.typ(obj.Type()), c.where(obj))
}

// where returns obj's declaration position, relative to the graph's folder
// when it is inside it.
func (c *checker) where(obj types.Object) string {
	pos := c.position(obj)
	if pos == "" {
		return "declared in " + c.pkg.Path()
	}
	return "declared at " + pos
}

func (c *checker) position(obj types.Object) string {
	if c.fset == nil || !obj.Pos().IsValid() {
		return ""
	}
	p := c.fset.Position(obj.Pos())
	name := p.Filename
	if abs, err := filepath.Abs(c.dir); err == nil {
		if rel, err := filepath.Rel(abs, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = filepath.ToSlash(rel)
		}
	}
	return fmt.Sprintf("%s:%d", name, p.Line)
}

func (c *checker) displayDir() string {
	if c.dir == "" {
		return "the current folder"
	}
	return c.dir
}

// unexported returns the unexported function of the handlers package whose
// name is name but for its case (double for Double), or nil.
func (c *checker) unexported(name string) types.Object {
	for _, cand := range c.pkg.Scope().Names() {
		obj := c.pkg.Scope().Lookup(cand)
		if !obj.Exported() && isFunc(obj) && strings.EqualFold(cand, name) {
			return obj
		}
	}
	return nil
}

// suggest returns " Did you mean X?" for the closest exported name of the
// wanted kind, or "".
func (c *checker) suggest(name string, want func(types.Object) bool) string {
	best, bestD := "", len(name)/3+2
	names := c.pkg.Scope().Names()
	sort.Strings(names)
	for _, cand := range names {
		obj := c.pkg.Scope().Lookup(cand)
		if !obj.Exported() || !want(obj) {
			continue
		}
		if d := distance(strings.ToLower(name), strings.ToLower(cand)); d < bestD {
			best, bestD = cand, d
		}
	}
	if best == "" {
		return ""
	}
	return " Did you mean " + best + "?"
}

func (c *checker) errorf(rng hcl.Range, summary, format string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rangePtr(rng),
	})
}

var errorType = types.Universe.Lookup("error").Type()

// contextType is context.Context, for messages only: the parameter itself is
// checked by isContext, since the handlers package's own context package
// object is not at hand.
func contextType() types.Type {
	pkg := types.NewPackage("context", "context")
	return types.NewNamed(types.NewTypeName(0, pkg, "Context", nil), types.NewInterfaceType(nil, nil), nil)
}

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

func isType(obj types.Object) bool { _, ok := obj.(*types.TypeName); return ok }

func isFunc(obj types.Object) bool {
	switch o := obj.(type) {
	case *types.Func:
		return true
	case *types.Var:
		_, ok := o.Type().Underlying().(*types.Signature)
		return ok
	}
	return false
}

func objKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Func:
		return "function"
	case *types.Var:
		return "variable"
	case *types.Const:
		return "constant"
	case *types.TypeName:
		return "type"
	}
	return "declaration"
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
