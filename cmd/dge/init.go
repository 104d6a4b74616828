package main

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/gen"
	"github.com/dgehq/dge/internal/scaffold"
)

func runInit(_ context.Context, e *env, args []string) int {
	flags := e.newFlagSet("init", "dge init [-module PATH] [DIR]", `
Start a dge project in DIR (default the current folder, created if missing).
dge init never overwrites a file.

In a folder without a graph, it writes a working project: go.mod (unless
DIR is already inside a Go module) requiring github.com/dgehq/dge, a small
graph (graph.dge.hcl: start -> process.greet -> terminate.result, with the
broker block and a vhost variable), its handlers package (handlers/), the
program dge generate writes (cmd/<name>/) and a test of the whole graph
beside it. Then: go mod tidy && go test ./...

In a folder that already holds a graph, it writes into the graph's handlers
package every message type and handler function the graph names and the
package lacks, each with the signature its node needs and a body that
fails, saying it is not written yet, and the program dge generate writes
(cmd/<name>) unless it exists; it writes go.mod too when there is none,
for module PATH or else the graph's handlers path less the folder the
handlers package is in. Existing declarations are never touched.

When this dge was built from a source checkout rather than a published
version, go.mod replaces github.com/dgehq/dge with that checkout.`)
	modulePath := flags.String("module", "", "the Go module `PATH` of a new go.mod (default the folder's name)")
	pos, code, done := parseArgs(flags, args)
	if done {
		return code
	}
	dir, ok := e.pathArg(flags, pos)
	if !ok {
		return exitError
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	graphs, err := filepath.Glob(filepath.Join(dir, "*"+config.FileSuffix))
	if err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	in := &initer{e: e, dir: dir}
	guess := ""
	if len(graphs) > 0 && *modulePath == "" {
		guess = in.moduleFromGraph()
	}
	if err := in.findModule(*modulePath, guess); err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	if len(graphs) == 0 {
		return in.project()
	}
	return in.stubs()
}

// initer is one run of dge init in dir.
type initer struct {
	e   *env
	dir string

	// The module dir belongs to: found in dir or a parent (modRoot is its
	// folder), or to be written (newMod holds the go.mod, modRoot is dir).
	modPath, modRoot string
	modFile          *modfile.File // the existing go.mod; nil when newMod
	newMod           []byte
	checkout         string // the dge checkout the new go.mod replaces dge with
	sourceErr        error  // why the new go.mod cannot replace dge though it should
	guessed          bool   // the new go.mod's module path comes from the graph's handlers

	wrote []string // paths written, relative to dir
}

// findModule finds the go.mod that applies to in.dir, like the go command:
// in the folder or its nearest parent that has one. Without one, it
// prepares a new go.mod for module PATH want, or else guess (see
// moduleFromGraph), or else the folder's name.
func (in *initer) findModule(want, guess string) error {
	abs, err := filepath.Abs(in.dir)
	if err != nil {
		return err
	}
	root, f, err := findGoMod(in.dir)
	if err != nil {
		return err
	}
	if f != nil {
		if f.Module == nil {
			return fmt.Errorf("%s declares no module: add a module line, or remove it", filepath.Join(root, "go.mod"))
		}
		if want != "" && want != f.Module.Mod.Path {
			return fmt.Errorf("-module %s: %s is already inside module %s (%s); leave out -module, or choose a folder outside that module", want, in.dir, f.Module.Mod.Path, filepath.Join(root, "go.mod"))
		}
		in.modPath, in.modRoot, in.modFile = f.Module.Mod.Path, root, f
		return nil
	}
	switch {
	case want != "":
	case guess != "":
		want, in.guessed = guess, true
	default:
		want = filepath.Base(abs)
	}
	if err := module.CheckImportPath(want); err != nil {
		return fmt.Errorf("%q cannot be the module path: %v. Choose one with -module, e.g. -module example.com/%s", want, err, scaffold.GraphName(want))
	}
	in.modPath, in.modRoot = want, abs
	return in.prepareGoMod()
}

// moduleFromGraph returns the module path a new go.mod in in.dir should
// have for the graph there, whose handlers package must belong to it: the
// handlers path without the elements that name a folder under in.dir
// (example.com/shop/behaviour with a folder behaviour: example.com/shop),
// or, when no such folder exists yet, without its last element (the
// handlers package then goes in a folder of that name, as dge init's own
// projects have it). It returns "" when the graph does not load or that
// leaves no valid module path.
func (in *initer) moduleFromGraph() string {
	g, _, diags := in.e.load(in.dir, varFlags{})
	if diags.HasErrors() || g == nil || g.Handlers == "" {
		return ""
	}
	elems := strings.Split(g.Handlers, "/")
	guess := path.Dir(g.Handlers)
	for k := 1; k < len(elems); k++ {
		if info, err := os.Stat(filepath.Join(in.dir, filepath.Join(elems[k:]...))); err == nil && info.IsDir() {
			guess = strings.Join(elems[:k], "/")
			break
		}
	}
	if guess == "." || module.CheckImportPath(guess) != nil {
		return ""
	}
	return guess
}

// prepareGoMod renders the new go.mod: it requires dge, replaced by the
// checkout this dge was built from when it is not a published version.
func (in *initer) prepareGoMod() error {
	version, checkout, srcErr := dgeSource()
	in.checkout, in.sourceErr = checkout, srcErr
	f := &modfile.File{}
	if err := f.AddModuleStmt(in.modPath); err != nil {
		return err
	}
	if err := f.AddGoStmt(goVersion(checkout)); err != nil {
		return err
	}
	if err := f.AddRequire(dgeModule, version); err != nil {
		return err
	}
	if checkout != "" {
		if err := f.AddReplace(dgeModule, "", checkout, ""); err != nil {
			return err
		}
	}
	data, err := f.Format()
	if err != nil {
		return err
	}
	in.newMod = data
	return nil
}

// goVersion returns the go line of a new go.mod: that of the dge checkout's
// go.mod, or else the language version of the Go that built dge.
func goVersion(checkout string) string {
	if checkout != "" {
		if data, err := os.ReadFile(filepath.Join(checkout, "go.mod")); err == nil {
			if f, err := modfile.ParseLax("go.mod", data, nil); err == nil && f.Go != nil {
				return f.Go.Version
			}
		}
	}
	v := strings.TrimPrefix(goruntime.Version(), "go")
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}

// importPath returns the import path of the package in folder rel (slash-
// separated, relative to in.dir).
func (in *initer) importPath(rel string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(in.dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(in.modRoot, abs)
	if err != nil {
		return "", err
	}
	if r == "." {
		return in.modPath, nil
	}
	return path.Join(in.modPath, filepath.ToSlash(r)), nil
}

// project writes a new project into a folder without a graph.
func (in *initer) project() int {
	e := in.e
	handlers, err := in.importPath(scaffold.HandlersDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	here, err := in.importPath(".")
	if err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	p := scaffold.Project{Module: in.modPath, Name: scaffold.GraphName(here), Handlers: handlers}
	files, err := p.Files()
	if err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	if in.newMod != nil {
		files["go.mod"] = in.newMod
	}
	program := path.Join("cmd", p.Name)
	var all []string
	for name := range files {
		all = append(all, name)
	}
	for _, name := range []string{gen.MainFile, gen.DotFile, gen.MermaidFile} {
		all = append(all, path.Join(program, name))
	}
	// Refuse before writing anything, so a refusal leaves the folder as it was.
	if existing := in.existing(all); len(existing) > 0 {
		fmt.Fprintf(e.stderr, "dge init: %s already holds %s; dge init never overwrites a file. Start the project in an empty folder (dge init DIR), or move those files away.\n",
			in.dir, strings.Join(existing, ", "))
		return exitError
	}
	if !in.writeAll(files) {
		return exitError
	}
	// The program dge generate writes, so go test works at once; dge
	// generate rewrites it after the graph changes.
	g, hclFiles, diags := e.load(in.dir, varFlags{})
	if diags.HasErrors() || g == nil {
		e.printDiags(hclFiles, diags)
		fmt.Fprintf(e.stderr, "dge init: the new graph does not load; this is a bug in dge, please report it\n")
		return exitError
	}
	generated, diags := gen.Render(g)
	if diags.HasErrors() {
		e.printDiags(hclFiles, diags)
		return exitError
	}
	prefixed := map[string][]byte{}
	for name, data := range generated {
		prefixed[path.Join(program, name)] = data
	}
	if !in.writeAll(prefixed) {
		return exitError
	}
	in.report(fmt.Sprintf("Started dge project %q (module %s) in %s:", p.Name, in.modPath, in.dir))
	in.nextSteps(p.Name, program)
	return exitOK
}

// existing returns which of names (relative to in.dir) exist, sorted.
func (in *initer) existing(names []string) []string {
	var found []string
	for _, name := range names {
		if _, err := os.Lstat(filepath.Join(in.dir, filepath.FromSlash(name))); !errors.Is(err, fs.ErrNotExist) {
			found = append(found, name)
		}
	}
	sort.Strings(found)
	return found
}

// writeAll creates files (relative path → content), in path order, each
// only if it does not exist. It reports a failure and returns false.
func (in *initer) writeAll(files map[string][]byte) bool {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := createNew(filepath.Join(in.dir, filepath.FromSlash(name)), files[name]); err != nil {
			fmt.Fprintf(in.e.stderr, "dge init: %v\n", err)
			return false
		}
		in.wrote = append(in.wrote, name)
	}
	return true
}

// createNew writes a new file, creating its folder; it fails, writing
// nothing, when the file exists.
func createNew(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; dge init never overwrites a file", name)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// report lists the files written, then what go.mod says about dge.
func (in *initer) report(title string) {
	w := in.e.stdout
	fmt.Fprintln(w, title)
	sort.Strings(in.wrote)
	for _, name := range in.wrote {
		fmt.Fprintf(w, "  %s\n", name)
	}
	in.reportModule()
}

// reportModule says where dge comes from in the module.
func (in *initer) reportModule() {
	w := in.e.stdout
	switch {
	case in.newMod != nil && in.checkout != "":
		fmt.Fprintf(w, "\ngo.mod takes %s from the source checkout this dge was built from\n(it is not a published version):\n  replace %s => %s\n", dgeModule, dgeModule, in.checkout)
	case in.newMod != nil && in.sourceErr != nil:
		fmt.Fprintf(w, "\nNote: %v. The first steps below point go.mod at your dge checkout: put its folder in them.\n", in.sourceErr)
	case in.modFile != nil && in.modPath != dgeModule && !requires(in.modFile, dgeModule):
		fmt.Fprintf(w, "\nThe module %s (%s) does not require %s yet; the first steps below add it.\n", in.modPath, filepath.Join(in.modRoot, "go.mod"), dgeModule)
	}
}

// moduleSteps returns the commands that make the module require dge, for
// the head of the next steps; none when go.mod is complete.
func (in *initer) moduleSteps() []string {
	switch {
	case in.newMod != nil && in.sourceErr != nil:
		return addDge(nil)
	case in.modFile != nil && in.modPath != dgeModule && !requires(in.modFile, dgeModule):
		return addDge(in.modFile)
	}
	return nil
}

// step is one command of the next steps, with what it does.
type step struct{ cmd, comment string }

// printSteps prints the next steps: a cd to the folder when it is not the
// current one, the module's steps, then steps; each command is to be typed
// as printed, in that folder.
func (in *initer) printSteps(steps []step) {
	w := in.e.stdout
	fmt.Fprintf(w, "\nNext:\n")
	var all []step
	if filepath.Clean(in.dir) != "." {
		all = append(all, step{cmd: "cd " + shellQuote(in.dir)})
	}
	for _, c := range in.moduleSteps() {
		all = append(all, step{cmd: c})
	}
	for _, s := range append(all, steps...) {
		if s.comment == "" {
			fmt.Fprintf(w, "  %s\n", s.cmd)
		} else {
			fmt.Fprintf(w, "  %-28s # %s\n", s.cmd, s.comment)
		}
	}
}

// nextSteps prints the commands that take a new project from here to
// results on RabbitMQ.
func (in *initer) nextSteps(name, program string) {
	in.printSteps([]step{
		{"go mod tidy", "fetch the dependencies and write go.sum"},
		{"go test ./...", fmt.Sprintf("run the whole graph in memory (%s/%s)", program, scaffold.TestFile)},
		{fmt.Sprintf(`echo '{"name":"Ada"}' | go run ./%s local`, program), "the same, from the command line"},
		{"dge apply", `make RabbitMQ (vhost "/") hold the graph's queues`},
		{fmt.Sprintf("go build -o %s ./%s && ./%[1]s all", name, program), "run every node (Ctrl-C stops them)"},
		{fmt.Sprintf(`./%s publish start '{"name":"Ada"}' && ./%[1]s consume result -n 1`, name), "in a second terminal"},
	})
	fmt.Fprintf(in.e.stdout, "After changing graph.dge.hcl, run dge generate (or go generate ./...) again.\n")
}

// stubs writes what a folder's graph names and its handlers package lacks.
func (in *initer) stubs() int {
	e := in.e
	g, hclFiles, diags := e.load(in.dir, varFlags{})
	e.printDiags(hclFiles, diags)
	if diags.HasErrors() || g == nil {
		fmt.Fprintf(e.stderr, "dge init: fix the graph in %s first; then dge init writes what its handlers package lacks\n", in.dir)
		return exitError
	}
	files, stubFile, added, err := in.stubFiles(g)
	if err != nil {
		fmt.Fprintf(e.stderr, "dge init: %v\n", err)
		return exitError
	}
	program, ok := in.programFiles(g, files)
	if !ok {
		return exitError
	}
	if !in.writeAll(files) {
		return exitError
	}
	w := e.stdout
	if len(added) == 0 {
		fmt.Fprintf(w, "The handlers package %s already declares every message type and handler the graph %q names; nothing to add.\n", g.Handlers, g.Name)
	} else {
		fmt.Fprintf(w, "Added to the handlers package %s, in %s, what the graph %q names:\n", g.Handlers, filepath.Join(in.dir, stubFile), g.Name)
		for _, s := range added {
			fmt.Fprintf(w, "  %-20s %s\n", s.Name, s.What)
		}
		routes := false
		for _, s := range added {
			routes = routes || strings.HasPrefix(s.What, "handler of route.")
		}
		if routes {
			fmt.Fprintf(w, "Each handler fails until you write it, but a route's, which sends every message down one of its paths; fill in the message types' fields too.\n")
		} else {
			fmt.Fprintf(w, "Each handler fails until you write it; fill in the message types' fields too.\n")
		}
	}
	if program != "" {
		fmt.Fprintf(w, "Wrote the program dge generate writes, in %s; dge generate checks the handlers and writes it again.\n", filepath.Join(in.dir, program))
	}
	if in.newMod != nil {
		from := ""
		if in.guessed {
			from = ", from the graph's handlers path; choose another with -module"
		}
		fmt.Fprintf(w, "Wrote %s (module %s%s).\n", filepath.Join(in.dir, "go.mod"), in.modPath, from)
	}
	in.reportModule()
	var steps []step
	steps = append(steps, step{"go mod tidy", "fetch the dependencies and write go.sum"},
		step{"dge generate", "check the handlers against the graph and write the program"})
	if safeFolderName(g.Name) {
		steps = append(steps, step{fmt.Sprintf("go build -o %s ./cmd/%[1]s", g.Name), ""})
	}
	in.printSteps(steps)
	return exitOK
}

// programFiles adds to files the program dge generate would write for g
// (in cmd/<name>, the default of dge generate), as a new project has it,
// and returns its folder: it imports the dge runtime, so go mod tidy keeps
// the requirement of dge that go.mod has, which the stubs alone, importing
// nothing of dge, would not. It adds nothing, and returns "", when one of
// the program's files exists (dge init never overwrites) or the graph's
// name cannot be a folder. It reports a failure and returns false.
func (in *initer) programFiles(g *config.Graph, files map[string][]byte) (string, bool) {
	if !safeFolderName(g.Name) {
		return "", true
	}
	program := path.Join("cmd", g.Name)
	var names []string
	for _, name := range []string{gen.MainFile, gen.DotFile, gen.MermaidFile} {
		names = append(names, path.Join(program, name))
	}
	if len(in.existing(names)) > 0 {
		return "", true
	}
	generated, diags := gen.Render(g)
	if diags.HasErrors() {
		in.e.printDiags(nil, diags)
		return "", false
	}
	for name, data := range generated {
		files[path.Join(program, name)] = data
	}
	return program, true
}

// stubFiles returns the files to write for g's stubs (relative path →
// content): go.mod when it is new, and the stub file, stubFile, when
// something is missing from the handlers package.
func (in *initer) stubFiles(g *config.Graph) (files map[string][]byte, stubFile string, added []gen.Stub, err error) {
	pkgDir, err := in.handlersDir(g)
	if err != nil {
		return nil, "", nil, err
	}
	pkgName, declared, err := gen.Declared(pkgDir)
	if err != nil {
		return nil, "", nil, fmt.Errorf("read the handlers package %s: %w", g.Handlers, err)
	}
	if pkgName == "" {
		pkgName = newPackageName(g.Handlers)
	}
	src, added, err := gen.Stubs(g, pkgName, func(name string) bool { return declared[name] })
	if err != nil {
		return nil, "", nil, err
	}
	files = map[string][]byte{}
	if in.newMod != nil {
		files["go.mod"] = in.newMod
	}
	if src == nil {
		return files, "", nil, nil
	}
	name, err := freeName(pkgDir, "stubs", ".go")
	if err != nil {
		return nil, "", nil, err
	}
	abs, err := filepath.Abs(in.dir)
	if err != nil {
		return nil, "", nil, err
	}
	if stubFile, err = filepath.Rel(abs, name); err != nil {
		return nil, "", nil, err
	}
	files[filepath.ToSlash(stubFile)] = src
	return files, stubFile, added, nil
}

// handlersDir returns the folder of g's handlers package, which must
// belong to in's module.
func (in *initer) handlersDir(g *config.Graph) (string, error) {
	if g.Handlers == "" {
		return "", fmt.Errorf("the graph %q names no handlers package: add handlers = %q to its graph block", g.Name, in.modPath+"/handlers")
	}
	rel, ok := strings.CutPrefix(g.Handlers, in.modPath)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return "", fmt.Errorf("the graph's handlers package %s is not in module %s, so dge init cannot write it; set handlers to a package path that starts with %s/", g.Handlers, in.modPath, in.modPath)
	}
	return filepath.Join(in.modRoot, filepath.FromSlash(strings.TrimPrefix(rel, "/"))), nil
}

// newPackageName returns the name of a new package at importPath: its last
// element (before a /vN suffix), lower-cased, with only letters and digits
// kept; "handlers" when that is no identifier.
func newPackageName(importPath string) string {
	elem := path.Base(importPath)
	if prefix, _, ok := module.SplitPathVersion(importPath); ok && prefix != importPath {
		elem = path.Base(prefix)
	}
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, strings.ToLower(elem))
	if !token.IsIdentifier(name) || token.IsKeyword(name) {
		return "handlers"
	}
	return name
}

// freeName returns the first of dir/base+ext, dir/base2+ext, ... that does
// not exist.
func freeName(dir, base, ext string) (string, error) {
	for i := 1; i < 1000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s%d", base, i)
		}
		p := filepath.Join(dir, name+ext)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s holds %s%s to %s999%s already; move some away", dir, base, ext, base, ext)
}
