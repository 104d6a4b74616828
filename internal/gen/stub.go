package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dgehq/dge/config"
)

// Stub is one declaration Stubs adds.
type Stub struct {
	Name string // the declared name, e.g. "Double"
	What string // what it is, e.g. `handler of process.double` or `message type`
}

// Stubs returns the source of a Go file of package pkg that declares what
// the graph g names and the handlers package lacks: every message type (an
// empty struct to fill in), every handler function, with exactly the
// signature HandlerSignature (or OnFailureSignature) gives, whose body
// returns an error saying the handler is not written yet (a route's
// returns a label, so runs go down one of its paths), and every
// gather's zero function (ZeroSignature), which returns the accumulator
// type's zero value. have reports
// whether the package already declares a name at package level; those are
// never declared again. With nothing to add, src is nil. The source is
// gofmt-formatted and the same for the same graph and package.
func Stubs(g *config.Graph, pkg string, have func(name string) bool) (src []byte, added []Stub, err error) {
	s := &stubs{have: have, declared: map[string]bool{}, imports: map[string]string{}}
	var types, funcs bytes.Buffer

	queues := map[string][]string{} // message type → queues carrying it, in node order
	var messages []string
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		ms := []string{n.Edge.Message}
		if n.Edge.Typed() {
			ms = n.Edge.Parts // Message only lists them, for display
		}
		for _, m := range ms {
			if _, ok := queues[m]; !ok {
				messages = append(messages, m)
			}
			if q := strconv.Quote(n.Edge.Queue); !slices.Contains(queues[m], q) {
				queues[m] = append(queues[m], q)
			}
		}
	}
	for _, m := range messages {
		if !s.missing(m) {
			continue
		}
		fmt.Fprintf(&types, "// %s is the message of queue %s. Messages travel as JSON:\n// give it the fields they carry.\ntype %s struct{}\n\n",
			m, strings.Join(queues[m], ", "), m)
		added = append(added, Stub{m, "message type"})
	}
	for _, n := range g.Nodes {
		if sig, ok := HandlerSignature(n); ok && s.missing(n.Handler) {
			if n.Kind == config.KindRoute {
				s.route(&funcs, n, sig)
			} else {
				s.handler(&funcs, n.Handler, n.Addr(), sig)
			}
			added = append(added, Stub{n.Handler, "handler of " + n.Addr()})
		}
		if n.Kind != config.KindGather || n.Zero == "" {
			continue
		}
		if acc, ok := ZeroSignature(n); ok && s.missing(n.Zero) {
			s.zero(&funcs, n.Zero, n.Addr(), acc)
			added = append(added, Stub{n.Zero, "zero function of " + n.Addr()})
		}
	}
	if g.OnFailure != "" && s.missing(g.OnFailure) {
		s.onFailure(&funcs, g.OnFailure)
		added = append(added, Stub{g.OnFailure, "on_failure function"})
	}
	if len(added) == 0 {
		return nil, nil, nil
	}
	if !token.IsIdentifier(pkg) {
		return nil, nil, fmt.Errorf("%q is not a Go package name", pkg)
	}

	var out bytes.Buffer
	fmt.Fprintf(&out, "package %s\n\n", pkg)
	if len(s.imports) > 0 {
		paths := make([]string, 0, len(s.imports))
		for p := range s.imports {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		out.WriteString("import (\n")
		for _, std := range []bool{true, false} {
			if !std {
				out.WriteString("\n")
			}
			for _, p := range paths {
				if isStd(p) != std {
					continue
				}
				if name := s.imports[p]; name != defaultImportName(p) {
					fmt.Fprintf(&out, "%s ", name)
				}
				fmt.Fprintf(&out, "%q\n", p)
			}
		}
		out.WriteString(")\n\n")
	}
	out.Write(types.Bytes())
	out.Write(funcs.Bytes())
	src, err = format.Source(out.Bytes())
	if err != nil {
		// Every name was checked, so this is a bug in dge.
		return nil, nil, fmt.Errorf("stubs do not format (a bug in dge; please report it): %w", err)
	}
	return src, added, nil
}

type stubs struct {
	have     func(string) bool
	declared map[string]bool   // names this file declares
	imports  map[string]string // import path → name in the file
}

// missing reports whether name must be declared: an exported identifier
// that neither the package nor this file declares yet. Other names are left
// to dge generate's check to report.
func (s *stubs) missing(name string) bool {
	if !token.IsIdentifier(name) || !token.IsExported(name) || s.have(name) || s.declared[name] {
		return false
	}
	s.declared[name] = true
	return true
}

// use imports path and returns its name in the file: its usual name, or
// that name with "pkg" appended while the package declares it.
func (s *stubs) use(path string) string {
	if name, ok := s.imports[path]; ok {
		return name
	}
	name := defaultImportName(path)
	if path == RuntimePath {
		name = "dge"
	}
	for s.have(name) || s.declared[name] {
		name += "pkg"
	}
	s.imports[path] = name
	return name
}

// isStd reports whether path is a standard library package: its first
// element has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func defaultImportName(path string) string {
	return path[strings.LastIndex(path, "/")+1:]
}

// handler writes the stub of the handler of the node at addr.
func (s *stubs) handler(w *bytes.Buffer, name, addr string, sig Signature) {
	ctx := s.use("context")
	var params, results, values []string
	messageParams := 0
	for _, p := range sig.Params {
		if p.Kind == SlotMessage {
			messageParams++
		}
	}
	for i, p := range sig.Params {
		pname := "in"
		switch {
		case p.Name != "":
			pname = p.Name
		case p.Kind == SlotMessages:
			pname = "parts"
		case p.Kind == SlotMessage && messageParams > 1:
			pname = fmt.Sprintf("in%d", i+1)
		}
		params = append(params, pname+" "+s.typ(p))
	}
	for _, r := range sig.Results {
		switch r.Kind {
		case SlotBool:
			results = append(results, "done bool")
			values = append(values, "false")
		case SlotError:
			results = append(results, "err error")
			values = append(values, fmt.Sprintf("%s.New(%q)", s.use("errors"), addr+": handler "+name+" is not written yet"))
		default:
			rname := "out"
			if r.Name != "" {
				rname = r.Name
			}
			results = append(results, rname+" "+s.typ(r))
			values = append(values, rname)
		}
	}
	fmt.Fprintf(w, "// %s is the handler of %s. It is not written yet: it fails\n// every message, which is retried and then parked.\n", name, addr)
	fmt.Fprintf(w, "func %s(ctx %s.Context, %s) (%s) {\n\treturn %s\n}\n\n",
		name, ctx, strings.Join(params, ", "), strings.Join(results, ", "), strings.Join(values, ", "))
}

// route writes the stub of a route's handler. Unlike the other handler
// stubs it works: it sends every message down one path, the default path
// when the route has one (the label "*", which no other path takes), else
// the path of the first label in sorted order, so a run of the new graph
// goes through.
func (s *stubs) route(w *bytes.Buffer, n *config.Node, sig Signature) {
	ctx := s.use("context")
	label, path := stubLabel(n)
	var params []string
	for _, p := range sig.Params {
		params = append(params, "in "+s.typ(p))
	}
	fmt.Fprintf(w, "// %s is the handler of %s: it returns the label of the path each\n// message takes. It is not written yet: it sends every message down %s.\n", n.Handler, n.Addr(), path)
	fmt.Fprintf(w, "func %s(ctx %s.Context, %s) (label string, err error) {\n\treturn %s, nil\n}\n\n",
		n.Handler, ctx, strings.Join(params, ", "), strconv.Quote(label))
}

// stubLabel returns the label a route's stub returns and the path it
// names: config.WhenDefault for the default path when the route has one,
// else the first label in sorted order ("" when the route feeds no path
// with a label yet, which validation reports).
func stubLabel(n *config.Node) (label, path string) {
	var first *config.Node
	for _, t := range n.To {
		switch {
		case t.When == config.WhenDefault:
			return config.WhenDefault, "the default path, " + t.Addr()
		case t.When != "" && (first == nil || t.When < first.When):
			first = t
		}
	}
	if first == nil {
		return "", "no path: the route feeds no node with a when"
	}
	return first.When, fmt.Sprintf("the path %q, %s", first.When, first.Addr())
}

// zero writes the stub of the zero function of the gather at addr: it
// returns the accumulator type's zero value, which is what the fold starts
// from without a zero function, so the stub already works.
func (s *stubs) zero(w *bytes.Buffer, name, addr string, acc Slot) {
	fmt.Fprintf(w, "// %s returns the starting value of the accumulator %s folds\n// the items of a split into. It returns %s's zero value until you write it.\n", name, addr, acc.Message)
	fmt.Fprintf(w, "func %s() %s {\n\tvar acc %s\n\treturn acc\n}\n\n", name, s.typ(acc), s.typ(acc))
}

// onFailure writes an on_failure stub that logs the parked message.
func (s *stubs) onFailure(w *bytes.Buffer, name string) {
	ctx := s.use("context")
	var params []string
	for _, p := range OnFailureSignature().Params {
		params = append(params, "f "+s.typ(p))
	}
	fmt.Fprintf(w, "// %s is the graph's on_failure function, called for every parked\n// message. It is not written yet: it only logs the message.\n", name)
	fmt.Fprintf(w, "func %s(ctx %s.Context, %s) {\n", name, ctx, strings.Join(params, ", "))
	fmt.Fprintf(w, "\t%s.WarnContext(ctx, \"message parked (%s is not written yet)\", \"node\", f.Node, \"run_id\", f.RunID, \"reason\", f.Reason, \"error\", f.Error)\n}\n\n",
		s.use("log/slog"), name)
}

// typ returns the Go source of a slot's type in the handlers package.
func (s *stubs) typ(p Slot) string {
	switch p.Kind {
	case SlotMessage:
		return p.Message
	case SlotMessages:
		return "[]" + p.Message
	case SlotBool:
		return "bool"
	case SlotError:
		return "error"
	case SlotString:
		return "string"
	case SlotFailure:
		return s.use(RuntimePath) + ".Failure"
	}
	panic(fmt.Sprintf("gen: unknown slot kind %d", p.Kind))
}

// Declared parses the Go files of the package in dir (tests excluded)
// without type-checking them (the package need not compile) and returns
// its name ("" when dir holds no Go file) and every name it declares at
// package level: what Stubs must not declare again. A missing dir is an
// empty package.
func Declared(dir string) (name string, declared map[string]bool, err error) {
	declared = map[string]bool{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", declared, nil
	}
	if err != nil {
		return "", nil, err
	}
	fset := token.NewFileSet()
	for _, ent := range entries {
		n := ent.Name()
		if ent.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return "", nil, err
		}
		if name == "" {
			name = f.Name.Name
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					declared[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						declared[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, id := range s.Names {
							declared[id.Name] = true
						}
					}
				}
			}
		}
	}
	return name, declared, nil
}
