package gen

import (
	"fmt"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/tools/go/packages"
)

// Check loads g's handlers package with the go command, from opts.Dir so
// the user's go.mod applies, and checks it against the graph:
//
//   - every message type exists, is a named, non-generic type and can be
//     encoded and decoded with encoding/json;
//   - every handler exists and is a function with exactly the signature its
//     node kind requires (HandlerSignature), a route's returning its
//     label as a string (RouteSignature); a gather's handler takes either
//     the list form or the fold form (GatherSignatures), and a report of
//     one that takes neither shows both;
//   - a gather's zero function, if any, is func() Acc (ZeroSignature), and
//     its handler then takes the fold form;
//   - the on_failure function, if any, is func(context.Context, runtime.Failure)
//     (OnFailureSignature);
//   - the dge runtime package resolves from opts.Dir, since the generated
//     program imports it.
//
// Each problem is an error diagnostic at the HCL attribute that named the
// type or function, saying what was expected and what was found. A package
// that does not load yields one diagnostic with the go command's errors.
func Check(g *config.Graph, opts Options) hcl.Diagnostics {
	_, diags := check(g, opts)
	return diags
}

// check is Check, also returning the form each gather's handler takes
// (true: the fold form), for Generate to render.
func check(g *config.Graph, opts Options) (folds map[*config.Node]bool, diags hcl.Diagnostics) {
	c := &checker{g: g, folds: map[*config.Node]bool{}}
	diags = c.check(opts)
	return c.folds, diags
}

func (c *checker) check(opts Options) hcl.Diagnostics {
	g := c.g
	if g.Handlers == "" {
		c.errorf(g.DeclRange, "Missing handlers package",
			"The graph %q has no handlers attribute. Add handlers = \"<Go import path of your package>\" to the graph block.", g.Name)
		return c.diags
	}
	c.dir = opts.Dir
	if c.dir == "" && len(g.Files) > 0 {
		c.dir = filepath.Dir(g.Files[0])
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:  c.dir,
		Env:  opts.Env,
	}
	pkgs, err := packages.Load(cfg, g.Handlers, RuntimePath)
	if err != nil {
		c.errorf(g.HandlersRange, "Cannot load handlers package",
			"Loading package %s from %s failed: %v. Check that the go command is installed and that %s holds (or is inside) the Go module that provides the package.", g.Handlers, c.displayDir(), err, c.displayDir())
		return c.diags
	}
	var handlers, runtime *packages.Package
	for _, p := range pkgs {
		switch p.PkgPath {
		case g.Handlers:
			handlers = p
		case RuntimePath:
			runtime = p
		}
	}
	if c.moduleProblem(runtime, opts) {
		return c.diags
	}
	if !c.loaded(handlers, g.Handlers, g.HandlersRange, "handlers package",
		"Check the handlers attribute: it must be the import path of a package of your module (go list "+g.Handlers+" must work in "+c.displayDir()+").") {
		return c.diags
	}
	if handlers.Name == "main" {
		c.errorf(g.HandlersRange, "Handlers package is a main package",
			"Package %s is package main, which no other package can import. Move the message types and handlers to a package of their own and name it here.", g.Handlers)
		return c.diags
	}
	c.loaded(runtime, RuntimePath, g.DeclRange, "dge runtime",
		"The generated program imports "+RuntimePath+"; make your module require it with:\n  "+strings.Join(addDge(opts), "\n  ")+"\nrun in "+c.displayDir()+".")

	c.pkg = handlers.Types
	c.fset = handlers.Fset
	c.qualify = func(p *types.Package) string { return p.Name() }
	c.messages = map[string]types.Type{}
	for _, n := range g.Nodes {
		switch {
		case n.Edge == nil:
		case n.Edge.Typed():
			for i, t := range n.Edge.Parts {
				c.message(t, n.Edge.PartRange(i))
			}
		default:
			c.message(n.Edge.Message, n.Edge.MessageRange)
		}
	}
	for _, n := range g.Nodes {
		c.handler(n)
	}
	if g.OnFailure != "" {
		c.onFailure()
	}
	return c.diags
}

type checker struct {
	g        *config.Graph
	dir      string
	fset     *token.FileSet // positions of the handlers package's objects
	pkg      *types.Package
	qualify  types.Qualifier
	messages map[string]types.Type // resolved message types; nil value: bad type
	folds    map[*config.Node]bool // each gather whose handler checked: true for the fold form
	diags    hcl.Diagnostics
}

// loaded reports whether p loaded without errors, recording one diagnostic
// with the errors of p and its dependencies otherwise: the compile errors
// when there are any (so the go command's summary of them is not repeated),
// else what the go command said.
func (c *checker) loaded(p *packages.Package, path string, rng hcl.Range, what, fix string) bool {
	if p == nil {
		c.errorf(rng, "Cannot load "+what, "The go command returned no package %s when run in %s. %s", path, c.displayDir(), fix)
		return false
	}
	var compile, list []string
	seen := map[string]bool{}
	packages.Visit([]*packages.Package{p}, nil, func(q *packages.Package) {
		for _, e := range q.Errors {
			m := c.errorText(e)
			if seen[m] {
				continue
			}
			seen[m] = true
			if e.Kind == packages.ParseError || e.Kind == packages.TypeError {
				compile = append(compile, m)
			} else {
				list = append(list, m)
			}
		}
	})
	switch {
	case len(compile) > 0:
		c.errorf(rng, "The "+what+" does not compile",
			"Package %s has errors, so its handlers cannot be checked:\n  %s\nFix them (go build %s shows the same) and run dge generate again.", path, limit(compile), path)
		return false
	case len(list) > 0:
		c.errorf(rng, "Cannot load "+what,
			"The go command, run in %s, cannot load package %s:\n  %s\n%s", c.displayDir(), path, limit(list), fix)
		return false
	case p.Types == nil:
		c.errorf(rng, "Cannot load "+what, "The go command returned package %s without type information. %s", path, fix)
		return false
	}
	return true
}

// modulePath is the module that provides RuntimePath.
const modulePath = "github.com/dgehq/dge"

// moduleProblem reports whether the go command could not load the runtime
// because of the module the graph's folder is in, recording the diagnostic
// with its fix: there is no module (go.mod) at all, the module does not
// require dge, or go.sum lacks the lines of the runtime's dependencies
// (their packages then load without a name, and the runtime and the
// handlers package that imports it fail with "invalid package name").
func (c *checker) moduleProblem(runtime *packages.Package, opts Options) bool {
	var noModule, notRequired, noSum bool
	if runtime != nil {
		packages.Visit([]*packages.Package{runtime}, nil, func(p *packages.Package) {
			for _, e := range p.Errors {
				noModule = noModule || strings.Contains(e.Msg, "go.mod file not found")
				notRequired = notRequired || strings.Contains(e.Msg, "no required module provides package") ||
					strings.Contains(e.Msg, "cannot find module providing package") ||
					strings.Contains(e.Msg, "is replaced but not required")
				noSum = noSum || strings.Contains(e.Msg, "missing go.sum entry")
			}
		})
	}
	g, dir := c.g, c.displayDir()
	switch {
	case noModule:
		c.errorf(g.DeclRange, "No Go module",
			"There is no go.mod in %s or a folder above it, so the handlers package %s cannot be loaded. Start the module with:\n  dge init %s\nrun where you ran this command: it writes go.mod (requiring %s) and what the handlers package lacks, then says what to run next.",
			dir, g.Handlers, dir, modulePath)
	case notRequired:
		c.errorf(g.DeclRange, "Module does not require dge",
			"The Go module in %s does not require %s, whose runtime (%s) the generated program imports. Add it with:\n  %s\nrun in %s, then run dge generate again.",
			dir, modulePath, RuntimePath, strings.Join(addDge(opts), "\n  "), dir)
	case noSum:
		c.errorf(g.DeclRange, "Module lacks the dge runtime's dependencies",
			"go.sum in %s lacks the lines of the packages the dge runtime (%s) imports, so it cannot be loaded. Add them with:\n  go build -mod=mod %s\nrun in %s (go mod tidy does the same once a package of the module imports the runtime), then run dge generate again.",
			dir, RuntimePath, RuntimePath, dir)
	default:
		return false
	}
	return true
}

// addDge returns the commands that make a module require dge: opts.AddDge,
// or go get of the runtime's latest version.
func addDge(opts Options) []string {
	if len(opts.AddDge) > 0 {
		return opts.AddDge
	}
	return []string{"go get " + RuntimePath + "@latest"}
}

// errorText formats a loader error with its position made relative to the
// graph's folder.
func (c *checker) errorText(e packages.Error) string {
	pos := e.Pos
	if pos == "" || pos == "-" {
		return e.Msg
	}
	if abs, err := filepath.Abs(c.dir); err == nil {
		if rel, err := filepath.Rel(abs, pos); err == nil && !strings.HasPrefix(rel, "..") {
			pos = filepath.ToSlash(rel)
		}
	}
	return pos + ": " + e.Msg
}

// limit joins at most ten messages, saying how many more there are.
func limit(msgs []string) string {
	const max = 10
	if len(msgs) <= max {
		return strings.Join(msgs, "\n  ")
	}
	return strings.Join(msgs[:max], "\n  ") + fmt.Sprintf("\n  ... and %d more", len(msgs)-max)
}

// message resolves a message type an edge names at rng.
func (c *checker) message(name string, rng hcl.Range) {
	if t, done := c.messages[name]; done {
		if t == nil {
			// Reported once per edge that names it, at that edge.
			c.messageProblem(name, rng)
		}
		return
	}
	c.messages[name] = nil
	if !c.messageProblem(name, rng) {
		c.messages[name] = c.pkg.Scope().Lookup(name).Type()
	}
}

// messageProblem records a diagnostic at rng when the type name is
// unusable and reports whether it did.
func (c *checker) messageProblem(name string, rng hcl.Range) bool {
	obj := c.pkg.Scope().Lookup(name)
	if obj == nil || !obj.Exported() {
		c.errorf(rng, "Message type not found",
			"Package %s (%s) declares no exported type %s%s Declare it there, or name an existing type.", c.pkg.Name(), c.pkg.Path(), name+".", c.suggest(name, isType))
		return true
	}
	tn, ok := obj.(*types.TypeName)
	if !ok {
		c.errorf(rng, "Message is not a type",
			"%s.%s is a %s (%s), not a type. message must name a type that encoding/json can encode, such as a struct.", c.pkg.Name(), name, objKind(obj), c.where(obj))
		return true
	}
	if named, ok := types.Unalias(tn.Type()).(*types.Named); ok && named.TypeParams().Len() > 0 && named.TypeArgs().Len() == 0 {
		c.errorf(rng, "Message type is generic",
			"%s.%s has type parameters (%s), so it cannot be a message type on its own. Declare a concrete type with its type arguments (type Name = %s[Args]) and name that.", c.pkg.Name(), name, c.where(obj), name)
		return true
	}
	if p := jsonProblem(tn.Type(), c.qualify); p != "" {
		c.errorf(rng, "Message type does not work with encoding/json",
			"Messages travel as JSON, but %s.%s (%s) %s. Change the type, or give it MarshalJSON and UnmarshalJSON methods.", c.pkg.Name(), name, c.where(obj), p)
		return true
	}
	return false
}

// part is one parameter or result of a wanted signature: its type and
// what it carries, for the diagnostic.
type part struct {
	t    types.Type
	note string
}

// handler checks the function a process, aggregate, poll, route, split or
// gather node names, against HandlerSignature (GatherSignatures for a
// gather).
func (c *checker) handler(n *config.Node) {
	if n.Kind == config.KindGather {
		c.gather(n)
		return
	}
	sig, ok := HandlerSignature(n)
	if !ok {
		return // not a handler node, or Render reports the problem
	}
	params, ok := c.parts(sig.Params)
	if !ok {
		return // a missing type is already reported; the signature cannot be checked
	}
	results, ok := c.parts(sig.Results)
	if !ok {
		return
	}
	c.function(n.Handler, n.HandlerRange, n.Addr()+" handler", params, results)
}

// parts resolves slots to the handlers package's types. ok is false when a
// slot's type is unusable (already reported) or unknown.
func (c *checker) parts(slots []Slot) (ps []part, ok bool) {
	for _, s := range slots {
		var t types.Type
		switch s.Kind {
		case SlotMessage:
			t = c.messages[s.Message]
		case SlotMessages:
			if m := c.messages[s.Message]; m != nil {
				t = types.NewSlice(m)
			}
		case SlotBool:
			t = types.Typ[types.Bool]
		case SlotError:
			t = errorType
		case SlotString:
			t = types.Typ[types.String]
		case SlotFailure:
			t = c.lookupFailure()
		}
		if t == nil {
			return nil, false
		}
		ps = append(ps, part{t, s.Note})
	}
	return ps, true
}

func (c *checker) onFailure() {
	failure := c.lookupFailure()
	if failure == nil {
		// The package never mentions runtime.Failure, so no function in it
		// can have the right signature; say what it should look like.
		obj := c.pkg.Scope().Lookup(c.g.OnFailure)
		found := "it does not exist"
		if obj != nil {
			found = "found " + c.describe(obj)
		}
		c.errorf(c.g.OnFailureRange, "Wrong on_failure signature",
			"The on_failure function must be func(context.Context, runtime.Failure) with runtime = %s, but %s. Declare it in %s, e.g. func %s(ctx context.Context, f dge.Failure) with import dge %q.", RuntimePath, found, c.pkg.Path(), c.g.OnFailure, RuntimePath)
		return
	}
	sig := OnFailureSignature()
	params, ok := c.parts(sig.Params)
	results, ok2 := c.parts(sig.Results)
	if ok && ok2 {
		c.function(c.g.OnFailure, c.g.OnFailureRange, "on_failure function", params, results)
	}
}

// lookupFailure finds runtime.Failure among the handlers package's imports.
func (c *checker) lookupFailure() types.Type {
	for _, imp := range c.pkg.Imports() {
		if imp.Path() == RuntimePath {
			if obj, ok := imp.Scope().Lookup("Failure").(*types.TypeName); ok {
				return obj.Type()
			}
		}
	}
	return nil
}

// function checks that name is a function of the handlers package with
// signature func(context.Context, params...) (results...).
func (c *checker) function(name string, rng hcl.Range, what string, params, results []part) {
	wantSig := c.sigString(params, results)
	obj, sig := c.lookupFunc(name, rng, "Handler", what, "The "+what+" must be "+wantSig)
	if sig == nil {
		return
	}
	if reason := c.mismatch(sig, params, results); reason != "" {
		c.errorf(rng, "Wrong handler signature",
			"The %s must be\n  %s\nbut %s.%s (%s) is\n  %s\n%s.", what, wantSig, c.pkg.Name(), name, c.where(obj), types.TypeString(sig, c.qualify), reason)
	}
}

// lookupFunc finds the function name of the handlers package and returns
// it with its signature. When there is no such exported, non-generic
// function it records a diagnostic at rng, titled with noun ("Handler"),
// about the what, saying want (the signature it must have: "The handler
// must be func(...)", with no final period), and returns a nil signature.
func (c *checker) lookupFunc(name string, rng hcl.Range, noun, what, want string) (types.Object, *types.Signature) {
	obj := c.pkg.Scope().Lookup(name)
	if u := c.unexported(name); (obj == nil || !obj.Exported()) && u != nil {
		c.errorf(rng, noun+" not exported",
			"Package %s (%s) declares %s, a %s %s, which is not exported: the generated program, another package, cannot call it. Rename it %s in Go (its name must start with an upper-case letter). %s.",
			c.pkg.Name(), c.pkg.Path(), u.Name(), objKind(u), c.where(u), name, want)
		return nil, nil
	}
	if obj == nil || !obj.Exported() {
		c.errorf(rng, noun+" not found",
			"Package %s (%s) declares no exported function %s%s %s.", c.pkg.Name(), c.pkg.Path(), name+".", c.suggest(name, isFunc), want)
		return nil, nil
	}
	var sig *types.Signature
	switch o := obj.(type) {
	case *types.Func:
		sig, _ = o.Type().(*types.Signature)
	case *types.Var:
		sig, _ = o.Type().Underlying().(*types.Signature)
	}
	if sig == nil {
		c.errorf(rng, noun+" is not a function",
			"%s, but %s.%s is %s.", want, c.pkg.Name(), name, c.describe(obj))
		return nil, nil
	}
	if sig.TypeParams().Len() > 0 {
		c.errorf(rng, noun+" is generic",
			"%s, but %s.%s has type parameters (%s). Wrap it in a non-generic function with that signature.", want, c.pkg.Name(), name, c.where(obj))
		return nil, nil
	}
	return obj, sig
}

// mismatch explains the first difference between sig and the wanted
// signature, or returns "" when they agree.
func (c *checker) mismatch(sig *types.Signature, params, results []part) string {
	ps, rs := sig.Params(), sig.Results()
	want := append([]part{{contextType(), ""}}, params...)
	if sig.Variadic() {
		return "It is variadic; declare the last parameter as a plain " + c.typ(want[len(want)-1].t)
	}
	if ps.Len() != len(want) {
		return fmt.Sprintf("It takes %s; it must take %d: %s", config.Plural(ps.Len(), "parameter"), len(want), c.list(want))
	}
	if !isContext(ps.At(0).Type()) {
		return "Its first parameter is " + c.typ(ps.At(0).Type()) + "; it must be context.Context"
	}
	for i := 1; i < len(want); i++ {
		if got := ps.At(i).Type(); !types.Identical(got, want[i].t) {
			name := ""
			if n := ps.At(i).Name(); n != "" && n != "_" {
				name = " (" + n + ")"
			}
			return fmt.Sprintf("Its parameter %d%s is %s; it must be %s, %s", i+1, name, c.typ(got), c.typ(want[i].t), want[i].note)
		}
	}
	if rs.Len() != len(results) {
		if len(results) == 0 {
			return fmt.Sprintf("It returns %s; it must return nothing", config.Plural(rs.Len(), "value"))
		}
		return fmt.Sprintf("It returns %s; it must return %d: %s", config.Plural(rs.Len(), "value"), len(results), c.list(results))
	}
	for i, w := range results {
		if got := rs.At(i).Type(); !types.Identical(got, w.t) {
			msg := fmt.Sprintf("Its result %d is %s; it must be %s", i+1, c.typ(got), c.typ(w.t))
			if w.note != "" {
				msg += ", " + w.note
			}
			return msg
		}
	}
	return ""
}

// list lists wanted parameters or results with their notes.
func (c *checker) list(ps []part) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = c.typ(p.t)
		if p.note != "" {
			s[i] += " (" + p.note + ")"
		}
	}
	return strings.Join(s, ", ")
}

func (c *checker) sigString(params, results []part) string {
	ps := []string{"context.Context"}
	for _, p := range params {
		ps = append(ps, c.typ(p.t))
	}
	s := "func(" + strings.Join(ps, ", ") + ")"
	var rs []string
	for _, r := range results {
		rs = append(rs, c.typ(r.t))
	}
	switch len(rs) {
	case 0:
	case 1:
		s += " " + rs[0]
	default:
		s += " (" + strings.Join(rs, ", ") + ")"
	}
	return s
}

func (c *checker) typ(t types.Type) string { return types.TypeString(t, c.qualify) }
