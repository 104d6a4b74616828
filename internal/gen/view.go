package gen

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"go/token"
	"go/types"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/dgehq/dge/config"
	"github.com/hashicorp/hcl/v2"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var mainTemplate = template.Must(template.New("main.go.tmpl").
	Funcs(template.FuncMap{"join": strings.Join}).
	ParseFS(templateFS, "templates/main.go.tmpl"))

// view is the precomputed model main.go is rendered from: every field
// holds finished Go source text (quoted strings, checked identifiers,
// duration expressions), so the template only lays it out.
type view struct {
	Sources    []string // one "// Source:" line each
	StdImports []string // `"context"`, `"os"`, `"time"`
	Imports    []string // `behaviour "example.com/m/behaviour"`, `dge "github.com/dgehq/dge/runtime"`, `cli "github.com/dgehq/dge/runtime/cli"`

	Name          string
	Source        string
	Vhost         string
	WorkExchange  string
	RetryExchange string
	PollExchange  string // empty: field left out
	QueueType     string
	OnFailure     string // empty: field left out
	Nodes         []nodeView
	Moved         []string // `"old": "new"`, one per moved block, sorted
}

// nodeView is one runtime constructor call: Ctor[TypeArgs](Args...).
type nodeView struct {
	Ctor     string
	TypeArgs []string
	Args     []string
}

// Identifiers the handlers package's alias may not take: the other imports,
// the package-level names of main.go, and Go's predeclared identifiers
// (checked through types.Universe), so the alias never shadows a name the
// generated code uses.
var reservedAliases = map[string]bool{"dge": true, "cli": true, "os": true, "time": true, "graph": true, "main": true}

// builder accumulates the view and its diagnostics.
type builder struct {
	g           *config.Graph
	folds       map[*config.Node]bool // the gathers whose handler takes the fold form
	alias       string
	usesTime    bool
	usesContext bool
	diags       hcl.Diagnostics
}

// newView builds the view of g. folds says which gathers' handlers take
// the fold form (see Check); nil decides by the gather's zero attribute.
func newView(g *config.Graph, folds map[*config.Node]bool) (*view, hcl.Diagnostics) {
	b := &builder{g: g, folds: folds}
	v := &view{}

	if g.Handlers == "" {
		b.errorf(g.DeclRange, "Missing handlers package",
			"The graph %q has no handlers attribute, so there is nothing to bind its nodes to. Add handlers = \"<Go import path of your package>\" to the graph block.", g.Name)
		return nil, b.diags
	}
	b.alias = packageAlias(g.Handlers)

	var joined string
	v.Sources, joined = sources(g.Files)
	v.Source = strconv.Quote(joined)
	v.Name = strconv.Quote(g.Name)
	v.Vhost = strconv.Quote(g.Broker.Vhost)
	v.WorkExchange = strconv.Quote(g.Broker.WorkExchange)
	v.RetryExchange = strconv.Quote(g.Broker.RetryExchange)
	if g.HasPoll() {
		v.PollExchange = strconv.Quote(g.Broker.PollExchange)
	}
	v.QueueType = strconv.Quote(string(g.Broker.QueueType))
	if g.OnFailure != "" {
		v.OnFailure = b.ref(g.OnFailure, g.OnFailureRange, "on_failure function")
	}
	for _, m := range g.Moved {
		v.Moved = append(v.Moved, strconv.Quote(m.From)+": "+strconv.Quote(m.To))
	}
	slices.Sort(v.Moved)
	for _, n := range g.Nodes {
		if nv, ok := b.node(n); ok {
			v.Nodes = append(v.Nodes, nv)
		}
	}
	if b.diags.HasErrors() {
		return nil, b.diags
	}

	if b.usesContext {
		v.StdImports = append(v.StdImports, strconv.Quote("context"))
	}
	v.StdImports = append(v.StdImports, strconv.Quote("os"))
	if b.usesTime {
		v.StdImports = append(v.StdImports, strconv.Quote("time"))
	}
	imports := [][2]string{{b.alias, g.Handlers}, {"dge", RuntimePath}, {"cli", CLIPath}}
	// Sorted by path, as goimports groups them.
	slices.SortFunc(imports, func(a, b [2]string) int { return strings.Compare(a[1], b[1]) })
	for _, imp := range imports {
		v.Imports = append(v.Imports, imp[0]+" "+strconv.Quote(imp[1]))
	}
	return v, b.diags
}

func (v *view) render() ([]byte, error) {
	var buf bytes.Buffer
	if err := mainTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render %s: %w", MainFile, err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", MainFile, err)
	}
	return src, nil
}

func (b *builder) node(n *config.Node) (nodeView, bool) {
	name := strconv.Quote(n.Name)
	nv := nodeView{}
	switch n.Kind {
	case config.KindStart:
		out, ok := b.outType(n)
		if !ok {
			return nv, false
		}
		nv.Ctor, nv.TypeArgs = "Start", []string{out}
		nv.Args = append([]string{name}, b.toQueues(n)...)
		return nv, true
	case config.KindTerminate:
		in, ok := b.inType(n)
		if !ok {
			return nv, false
		}
		nv.Ctor, nv.TypeArgs, nv.Args = "Terminate", []string{in}, []string{name, b.edge(n.Edge)}
		return nv, true
	case config.KindFanOut:
		in, ok := b.inType(n)
		if !ok || !b.hasOutputs(n) {
			return nv, false
		}
		nv.Ctor, nv.TypeArgs = "FanOut", []string{in}
		nv.Args = append([]string{name, b.edge(n.Edge)}, b.toQueues(n)...)
		return nv, true
	case config.KindProcess, config.KindAggregate, config.KindPoll:
		in, inOK := "", true
		if n.Edge == nil || !n.Edge.Typed() {
			in, inOK = b.inType(n)
		}
		out, outOK := b.outType(n)
		handler := b.ref(n.Handler, n.HandlerRange, "handler")
		if !inOK || !outOK || handler == "" || !b.singleOutput(n) {
			return nv, false
		}
		nv.TypeArgs = []string{in, out}
		to := strconv.Quote(n.To[0].Edge.Queue)
		switch n.Kind {
		case config.KindProcess:
			nv.Ctor = "Process"
			nv.Args = []string{name, b.edge(n.Edge), handler, to}
		case config.KindAggregate:
			if n.Edge.Typed() {
				return b.join(n, nv, name, handler, out, to)
			}
			from := make([]string, len(n.From))
			for i, f := range n.From {
				from[i] = strconv.Quote(f.Addr())
			}
			nv.Ctor = "Aggregate"
			nv.Args = []string{name, b.edge(n.Edge), "[]string{" + strings.Join(from, ", ") + "}", b.duration(n.Timeout), handler, to}
		case config.KindPoll:
			nv.Ctor = "Poll"
			nv.Args = []string{name, b.edge(n.Edge), b.duration(n.Interval), b.duration(n.Timeout), handler, to}
		}
		return nv, true
	case config.KindSplit:
		in, inOK := b.inType(n)
		item, outOK := b.outType(n)
		handler := b.ref(n.Handler, n.HandlerRange, "handler")
		if !inOK || !outOK || handler == "" || !b.singleOutput(n) {
			return nv, false
		}
		nv.Ctor, nv.TypeArgs = "Split", []string{in, item}
		nv.Args = []string{name, b.edge(n.Edge), handler, strconv.Quote(n.To[0].Edge.Queue)}
		return nv, true
	case config.KindRoute:
		return b.route(n, nv, name)
	case config.KindGather:
		return b.gather(n, nv, name)
	}
	b.errorf(n.DeclRange, "Unknown node kind",
		"dge generate does not know how to run a %q node (%s). This is a bug: the loader accepted a kind the generator lacks; please report it.", n.Kind, n.Addr())
	return nv, false
}

// gather renders a gather: a Gather for the list form, a Fold for the fold
// form, which b.folds gives (without it, a gather with a zero function
// takes the fold form and one without the list form).
func (b *builder) gather(n *config.Node, nv nodeView, name string) (nodeView, bool) {
	item, inOK := b.inType(n)
	out, outOK := b.outType(n)
	handler := b.ref(n.Handler, n.HandlerRange, "handler")
	if n.Over == nil {
		b.errorf(n.DeclRange, "Gather without a split",
			"%s names no split to close, so the generated program cannot tell which items to gather. Add over = split.<name>, the innermost split open on its path.", n.Addr())
		return nv, false
	}
	if !inOK || !outOK || handler == "" || !b.singleOutput(n) {
		return nv, false
	}
	fold := n.Zero != ""
	if b.folds != nil {
		fold = b.folds[n]
	}
	to := strconv.Quote(n.To[0].Edge.Queue)
	over := strconv.Quote(n.Over.Name)
	if !fold {
		nv.Ctor, nv.TypeArgs = "Gather", []string{item, out}
		nv.Args = []string{name, b.edge(n.Edge), over, b.duration(n.Timeout), handler, to}
		return nv, true
	}
	zero := "nil"
	if n.Zero != "" {
		if zero = b.ref(n.Zero, n.ZeroRange, "zero function"); zero == "" {
			return nv, false
		}
	}
	nv.Ctor, nv.TypeArgs = "Fold", []string{item, out}
	nv.Args = []string{name, b.edge(n.Edge), over, b.duration(n.Timeout), zero, handler, to}
	return nv, true
}

// route renders a route: a Route whose paths map each label to the queue
// of the node that takes it (keys sorted, as Go prints map literals in
// source order) and whose fallback is the queue of the default path, or
// "" without one.
func (b *builder) route(n *config.Node, nv nodeView, name string) (nodeView, bool) {
	in, inOK := b.inType(n)
	handler := b.ref(n.Handler, n.HandlerRange, "handler")
	if !inOK || handler == "" || !b.hasOutputs(n) {
		return nv, false
	}
	queues := map[string]string{}
	takers := map[string]*config.Node{}
	fallback := `""`
	for _, t := range n.To {
		if t.Edge == nil {
			b.errorf(t.DeclRange, "Node has no input queue",
				"%s has no input edge, so %s cannot send it anything. Give it from, queue and message attributes.", t.Addr(), n.Addr())
			return nv, false
		}
		rng := t.WhenRange
		if rng.Filename == "" {
			rng = t.DeclRange
		}
		switch prev := takers[t.When]; {
		case t.When == "":
			b.errorf(rng, "Path without a label",
				"%s is fed by %s but has no when, so the route never chooses it. Add when = \"<label>\" (the label the route's handler returns for it), or when = %q for the default path.", t.Addr(), n.Addr(), config.WhenDefault)
			return nv, false
		case prev != nil:
			b.errorf(rng, "Two paths with one label",
				"%s and %s both take the label %q of %s, but a message goes down exactly one path. Give each path a label of its own.", prev.Addr(), t.Addr(), t.When, n.Addr())
			return nv, false
		}
		takers[t.When] = t
		if t.When == config.WhenDefault {
			fallback = strconv.Quote(t.Edge.Queue)
			continue
		}
		queues[t.When] = t.Edge.Queue
	}
	labels := make([]string, 0, len(queues))
	for l := range queues {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	pairs := make([]string, len(labels))
	for i, l := range labels {
		pairs[i] = strconv.Quote(l) + ": " + strconv.Quote(queues[l])
	}
	nv.Ctor, nv.TypeArgs = "Route", []string{in}
	nv.Args = []string{name, b.edge(n.Edge), handler, "map[string]string{" + strings.Join(pairs, ", ") + "}", fallback}
	return nv, true
}

// join renders an aggregate with typed parts: a Join whose handler passes
// each part, asserted to its type, to the user's function, one parameter
// per part in from order.
func (b *builder) join(n *config.Node, nv nodeView, name, handler, out, to string) (nodeView, bool) {
	parts := make([]string, len(n.From))
	args := []string{"ctx"}
	for i, f := range n.From {
		t := b.ref(n.Edge.PartMessage(i), n.Edge.PartRange(i), "message type")
		if t == "" {
			return nv, false
		}
		parts[i] = fmt.Sprintf("dge.PartOf[%s](%s)", t, strconv.Quote(f.Addr()))
		args = append(args, fmt.Sprintf("p[%d].(%s)", i, t))
	}
	b.usesContext = true
	nv.Ctor, nv.TypeArgs = "Join", []string{out}
	call := fmt.Sprintf("func(ctx context.Context, p []any) (%s, error) {\nreturn %s(%s)\n}", out, handler, strings.Join(args, ", "))
	nv.Args = []string{name, b.edge(n.Edge), "[]dge.Part{" + strings.Join(parts, ", ") + "}", b.duration(n.Timeout), call, to}
	return nv, true
}

// inType returns the Go type of the messages on n's input edge.
func (b *builder) inType(n *config.Node) (string, bool) {
	if n.Edge == nil {
		b.errorf(n.DeclRange, "Node has no input queue",
			"%s has no input edge, so its message type is unknown. Give it from, queue and message attributes.", n.Addr())
		return "", false
	}
	t := b.ref(n.Edge.Message, n.Edge.MessageRange, "message type")
	return t, t != ""
}

// outType returns the Go type of the messages n emits: its consumers'
// input message type.
func (b *builder) outType(n *config.Node) (string, bool) {
	if !b.hasOutputs(n) {
		return "", false
	}
	to := n.To[0]
	if to.Edge == nil {
		b.errorf(to.DeclRange, "Node has no input queue",
			"%s has no input edge, so its message type is unknown. Give it from, queue and message attributes.", to.Addr())
		return "", false
	}
	rng := to.Edge.MessageRange
	for i, f := range to.From {
		if f == n {
			rng = to.Edge.PartRange(i)
		}
	}
	t := b.ref(to.InputFrom(n), rng, "message type")
	return t, t != ""
}

func (b *builder) hasOutputs(n *config.Node) bool {
	if len(n.To) == 0 {
		b.errorf(n.DeclRange, "Node has no consumer",
			"%s sends its output nowhere: no node names it in from. Add a node with from = %s, or remove this one.", n.Addr(), n.Addr())
		return false
	}
	return true
}

func (b *builder) singleOutput(n *config.Node) bool {
	if len(n.To) != 1 {
		names := make([]string, len(n.To))
		for i, t := range n.To {
			names[i] = t.Addr()
		}
		b.errorf(n.DeclRange, "Node has several consumers",
			"%s may feed exactly one node, but %s name it in from. Put a fan_out after it to copy its output to several nodes.", n.Addr(), strings.Join(names, ", "))
		return false
	}
	return true
}

func (b *builder) toQueues(n *config.Node) []string {
	qs := make([]string, len(n.To))
	for i, t := range n.To {
		qs[i] = strconv.Quote(t.Edge.Queue)
	}
	return qs
}

func (b *builder) edge(e *config.Edge) string {
	return fmt.Sprintf("dge.Edge{Queue: %s, Message: %s, Retry: %s, MaxAttempts: %d, Prefetch: %d, Concurrency: %d}",
		strconv.Quote(e.Queue), strconv.Quote(e.Message), b.duration(e.Retry), e.MaxAttempts, e.Prefetch, e.Concurrency)
}

func (b *builder) duration(d time.Duration) string {
	s := durationExpr(d)
	if strings.Contains(s, "time.") {
		b.usesTime = true
	}
	return s
}

// ref returns the qualified Go expression for name in the handlers package
// (behaviour.Double), or "" after recording a diagnostic when name cannot be
// referred to from another package.
func (b *builder) ref(name string, rng hcl.Range, what string) string {
	switch {
	case name == "":
		b.errorf(rng, "Missing "+what, "A %s name is required here. Name an exported identifier of package %s.", what, b.g.Handlers)
		return ""
	case !token.IsIdentifier(name):
		b.errorf(rng, "Invalid "+what+" name",
			"%q is not a Go identifier (letters, digits and underscores, not starting with a digit, not a keyword), so generated code cannot refer to it. Use the name of an exported identifier of package %s.", name, b.g.Handlers)
		return ""
	case !token.IsExported(name):
		b.errorf(rng, "Unexported "+what,
			"%q starts with a lower-case letter, so the generated main package cannot refer to it. Export it (rename it to %q in package %s) and use that name here.", name, config.ExportedName(name), b.g.Handlers)
		return ""
	}
	return b.alias + "." + name
}

func (b *builder) errorf(rng hcl.Range, summary, format string, args ...any) {
	b.diags = append(b.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rangePtr(rng),
	})
}

var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// packageAlias derives the import alias of the handlers package from its
// import path: the last element (the one before a /vN major-version suffix),
// made an identifier, and moved off names main.go already uses.
func packageAlias(importPath string) string {
	elems := strings.Split(strings.Trim(importPath, "/"), "/")
	last := elems[len(elems)-1]
	if majorVersion.MatchString(last) && len(elems) > 1 {
		last = elems[len(elems)-2]
	}
	var s strings.Builder
	for _, r := range last {
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			s.WriteRune(r)
		} else {
			s.WriteByte('_')
		}
	}
	alias := strings.Trim(s.String(), "_")
	if alias == "" {
		alias = "handlers"
	}
	if unicode.IsDigit([]rune(alias)[0]) {
		alias = "pkg" + alias
	}
	for token.IsKeyword(alias) || reservedAliases[alias] || types.Universe.Lookup(alias) != nil {
		alias += "pkg"
	}
	return alias
}

// sources returns the "// Source:" lines of main.go and the runtime's
// Graph.Source text: the graph's files relative to the graph's folder,
// slash-separated and sorted, so the output does not depend on where dge
// ran.
func sources(files []string) (lines []string, joined string) {
	dir := ""
	for _, f := range files {
		if strings.HasSuffix(f, config.FileSuffix) {
			dir = filepath.Dir(f)
			break
		}
	}
	rel := make([]string, 0, len(files))
	for _, f := range files {
		r, err := filepath.Rel(dir, f)
		if dir == "" || err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			r = filepath.Base(f)
		}
		rel = append(rel, path.Clean(filepath.ToSlash(r)))
	}
	sort.Strings(rel)
	for _, r := range rel {
		line := r
		if strings.ContainsFunc(r, func(c rune) bool { return !unicode.IsPrint(c) }) {
			line = strconv.Quote(r)
		}
		lines = append(lines, line)
	}
	return lines, strings.Join(rel, ", ")
}

// durationExpr renders d as a readable constant expression in the largest
// unit that divides it exactly: 10 * time.Second, time.Minute,
// 1500 * time.Millisecond.
func durationExpr(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	units := []struct {
		d    time.Duration
		name string
	}{
		{time.Hour, "time.Hour"},
		{time.Minute, "time.Minute"},
		{time.Second, "time.Second"},
		{time.Millisecond, "time.Millisecond"},
		{time.Microsecond, "time.Microsecond"},
	}
	for _, u := range units {
		if d%u.d == 0 {
			return scaled(int64(d/u.d), u.name)
		}
	}
	return scaled(int64(d), "time.Nanosecond")
}

func scaled(n int64, unit string) string {
	switch n {
	case 1:
		return unit
	case -1:
		return "-" + unit
	}
	return strconv.FormatInt(n, 10) + " * " + unit
}
