package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// FileSuffix is the suffix of the files that make up a graph.
const FileSuffix = ".dge.hcl"

// Loader loads graphs and keeps every file it parsed (graph files and
// -var-file files) so that diagnostics can be printed with source snippets.
// A Loader is not safe for concurrent use.
type Loader struct {
	files map[string]*hcl.File
}

// Options carries what the command line and the environment add to a graph's
// own files.
type Options struct {
	// VarArgs holds the -var and -var-file arguments in command-line order;
	// a later value for the same variable wins, as in Terraform.
	VarArgs []VarArg
	// Env is the process environment in os.Environ form. DGE_VAR_<name>
	// values and the env() function read it; nil reads nothing.
	Env []string
}

// VarArg is one -var or -var-file argument. Exactly one field is set.
type VarArg struct {
	Raw  string // "name=value" from -var
	File string // path from -var-file
}

// NewLoader returns a Loader with no files.
func NewLoader() *Loader {
	return &Loader{files: map[string]*hcl.File{}}
}

// Files returns every file the loader has parsed, keyed by file name, in the
// form hcl.NewDiagnosticTextWriter expects. The caller must not modify it.
func (l *Loader) Files() map[string]*hcl.File {
	return l.files
}

// Load loads the graph at path: either a folder, whose *.dge.hcl files (not
// recursive, sorted by name) together form one graph, or a single file. It
// returns a Graph only when there are no error diagnostics; warnings may
// accompany it.
func (l *Loader) Load(path string, opts Options) (*Graph, hcl.Diagnostics) {
	return l.LoadContext(context.Background(), path, opts)
}

// LoadContext is Load, stopped when ctx is cancelled: between files and
// within the evaluation of any expression. An interrupted load returns no
// Graph and, with the errors found so far, one "Interrupted" error that
// points at the expression being evaluated, if any.
func (l *Loader) LoadContext(ctx context.Context, path string, opts Options) (*Graph, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read graph",
			Detail:   fmt.Sprintf("%s. Pass a folder that holds *%s files, or one such file.", err, FileSuffix),
		}}
	}
	var paths []string
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read graph folder",
				Detail:   fmt.Sprintf("%s. Check the folder's permissions.", err),
			}}
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), FileSuffix) {
				paths = append(paths, filepath.Join(path, e.Name()))
			}
		}
		if len(paths) == 0 {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No graph files",
				Detail:   fmt.Sprintf("The folder %s holds no *%s files. Pass the folder that holds the graph, or one graph file.", path, FileSuffix),
			}}
		}
	} else {
		paths = []string{path}
	}
	sort.Strings(paths)

	var diags hcl.Diagnostics
	var files []*hcl.File
	for _, p := range paths {
		if ctx.Err() != nil {
			return nil, append(diags, interrupted(ctx, nil))
		}
		src, err := os.ReadFile(p)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read graph file",
				Detail:   fmt.Sprintf("%s. Check the file's permissions.", err),
			})
			continue
		}
		f, fDiags := l.parse(p, src)
		diags = append(diags, fDiags...)
		files = append(files, f)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	g, lDiags := l.load(ctx, paths, files, opts)
	return g, append(diags, lDiags...)
}

// LoadSource loads a graph from one in-memory file named filename, as Load
// does for a single file.
func (l *Loader) LoadSource(filename string, src []byte, opts Options) (*Graph, hcl.Diagnostics) {
	f, diags := l.parse(filename, src)
	if diags.HasErrors() {
		return nil, diags
	}
	g, lDiags := l.load(context.Background(), []string{filename}, []*hcl.File{f}, opts)
	return g, append(diags, lDiags...)
}

// parse parses one HCL native-syntax file and records it in l.files,
// replacing any earlier file of the same name. A file that nests too deep
// to parse safely is not parsed (see nestingDiag).
func (l *Loader) parse(filename string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if d := nestingDiag(src, filename, false); d != nil {
		f := &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
		l.files[filename] = f
		return f, hcl.Diagnostics{d}
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if f != nil {
		l.files[filename] = f
	}
	return f, diags
}

// load decodes, evaluates and validates the parsed files of one graph,
// unless ctx is cancelled first.
func (l *Loader) load(ctx context.Context, names []string, files []*hcl.File, opts Options) (*Graph, hcl.Diagnostics) {
	s := &state{loader: l, opts: opts, files: names, seen: map[string]bool{}, interrupt: ctx}
	for _, f := range files {
		s.decodeFile(f)
	}
	s.decodeVariables()
	s.evalLocals()
	var g *Graph
	if !s.stop(nil) {
		g = s.build()
	}
	if s.stop(nil) {
		return nil, append(s.diags, s.stopped)
	}
	if s.diags.HasErrors() {
		return nil, s.diags
	}
	return g, s.diags
}
