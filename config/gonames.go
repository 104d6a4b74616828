package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// The handlers package's one namespace: the message types and the
// functions (handlers, zero functions, the on_failure function) a graph
// names all live in one Go package, where a type and a function cannot
// share a name.

// goType is the first place a graph names a message type.
type goType struct {
	attr string // the attribute that names it: message = "Tax"
	addr string // the node whose attribute it is
}

// checkGoNames reports each function attribute (handler, zero, on_failure)
// whose value a message attribute also names as a type: the handlers
// package could declare only one of them, so dge init would write the type
// and no function, and the check of the package would find a type where the
// function should be. The error sits on the function attribute, with the
// fix: rename one of them.
func (s *state) checkGoNames(g *Graph, nodes []*nodeDecl) {
	types := map[string]goType{}
	for _, d := range nodes {
		if d.dup || d.node == nil || d.node.Edge == nil {
			continue
		}
		e := d.node.Edge
		names := e.Parts
		if !e.Typed() {
			names = []string{e.Message}
		}
		for _, name := range names {
			if _, ok := types[name]; !ok && name != "" {
				types[name] = goType{attr: fmt.Sprintf("message = %q", name), addr: d.addr()}
			}
		}
	}
	clash := func(name, attr, owner, prefix string, rng hcl.Range) {
		t, ok := types[name]
		if !ok {
			return
		}
		s.errorf(rng.Ptr(), "Function named like a message type",
			"%s of %s names a function of the handlers package, and %s of %s names a type there: one Go package cannot declare a type and a function of the same name, so dge init could write only the type. Rename one of them, e.g. %s = %q.",
			attr, owner, t.attr, t.addr, attr, prefix+name)
	}
	for _, d := range nodes {
		if d.dup || d.node == nil {
			continue
		}
		clash(d.node.Handler, "handler", d.addr(), "Handle", d.node.HandlerRange)
		clash(d.node.Zero, "zero", d.addr(), "New", d.node.ZeroRange)
	}
	if s.graph != nil {
		clash(g.OnFailure, "on_failure", "the graph", "Handle", g.OnFailureRange)
	}
}
