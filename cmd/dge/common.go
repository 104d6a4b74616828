package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/dgehq/dge/config"
)

// Exit codes shared by every command.
const (
	exitOK    = 0
	exitError = 1
)

// varFlags collects -var and -var-file arguments, in command-line order, as
// the loader expects them. Register it on a command's flag set with register.
type varFlags struct {
	args []config.VarArg
}

// register adds -var and -var-file to fs, both appending to v.
func (v *varFlags) register(fs *flag.FlagSet) {
	fs.Var(varValue{v: v}, "var", "set a variable, as `name=value` (repeatable; later values win)")
	fs.Var(varValue{v: v, file: true}, "var-file", "read variables from `FILE`, an HCL file of name = value lines (repeatable)")
}

// varValue is the flag.Value behind one of -var and -var-file.
type varValue struct {
	v    *varFlags
	file bool
}

func (x varValue) String() string { return "" }

func (x varValue) Set(s string) error {
	if x.file {
		if s == "" {
			return errors.New("-var-file needs a file name")
		}
		x.v.args = append(x.v.args, config.VarArg{File: s})
		return nil
	}
	name, _, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%q is not name=value; write -var 'name=value'", s)
	}
	x.v.args = append(x.v.args, config.VarArg{Raw: s})
	return nil
}

// newFlagSet returns the flag set of one command: errors and usage go to
// e.stderr and parsing returns errors rather than exiting. synopsis is the
// line after "Usage: ", about a paragraph printed before the flags.
func (e *env) newFlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("dge "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, strings.TrimSpace(about))
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	if e.onFlagSet != nil {
		e.onFlagSet(fs)
	}
	return fs
}

// addNoColor registers -no-color, which turns off colour in diagnostics.
func (e *env) addNoColor(fs *flag.FlagSet) {
	fs.BoolVar(&e.noColor, "no-color", false, "do not colour the output (also set by NO_COLOR)")
}

// parseArgs parses args with fs, allowing flags after positional arguments
// (`dge validate examples/arith -json`), and returns the positional ones.
// Everything after "--" is positional. When it returns done, the command
// must return code: 0 after -h, 1 after a bad flag (already reported).
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitError, true
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, false
		}
		if len(rest) == 0 {
			return pos, 0, false
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// pathArg returns the single optional PATH argument, "." when absent. It
// reports more than one and returns false.
func (e *env) pathArg(fs *flag.FlagSet, pos []string) (string, bool) {
	switch len(pos) {
	case 0:
		return ".", true
	case 1:
		return pos[0], true
	default:
		fmt.Fprintf(e.stderr, "%s: expected at most one PATH, got %d: %s\n", fs.Name(), len(pos), strings.Join(pos, " "))
		fmt.Fprintf(e.stderr, "Run \"%s -h\" for usage.\n", fs.Name())
		return "", false
	}
}

// load loads the graph at path ("." when empty) with the command's variables
// and the process environment, returning the diagnostics unprinted.
func (e *env) load(path string, vars varFlags) (*config.Graph, map[string]*hcl.File, hcl.Diagnostics) {
	if path == "" {
		path = "."
	}
	l := config.NewLoader()
	g, diags := l.Load(path, config.Options{VarArgs: vars.args, Env: e.environ})
	return g, l.Files(), diags
}

// loadGraph loads the graph at path ("." when empty) and prints its
// diagnostics, warnings included, to e.stderr. It returns false when there
// are errors; the graph is then nil.
func (e *env) loadGraph(path string, vars varFlags) (*config.Graph, bool) {
	g, files, diags := e.load(path, vars)
	e.printDiags(files, diags)
	if diags.HasErrors() || g == nil {
		return nil, false
	}
	return g, true
}

// printDiags writes diagnostics to e.stderr with source snippets, coloured
// only when stderr is a terminal and neither -no-color nor NO_COLOR is set.
// Each location reads file:line:col (hcl writes "file line N"), so editors
// and terminals can jump to it.
func (e *env) printDiags(files map[string]*hcl.File, diags hcl.Diagnostics) {
	width, color := e.terminal(e.stderr)
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, files, width, color)
	for _, d := range diags {
		buf.Reset()
		if err := w.WriteDiagnostic(d); err != nil {
			fmt.Fprintf(e.stderr, "dge: write diagnostic %q: %v\n", d.Summary, err)
			continue
		}
		text := buf.String()
		if r := d.Subject; r != nil {
			text = strings.Replace(text,
				fmt.Sprintf("  on %s line %d", r.Filename, r.Start.Line),
				fmt.Sprintf("  on %s:%d:%d", r.Filename, r.Start.Line, r.Start.Column), 1)
		}
		io.WriteString(e.stderr, text)
	}
}

// terminal returns the wrap width and colour setting for output to w: 0 and
// no colour unless w is a terminal; then $COLUMNS (or 78) and colour unless
// turned off by -no-color or NO_COLOR.
func (e *env) terminal(w io.Writer) (width uint, color bool) {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return 0, false
	}
	return e.terminalStyle()
}

// terminalStyle returns the wrap width and colour setting for a terminal:
// $COLUMNS (or 78) and colour unless turned off by -no-color or NO_COLOR.
func (e *env) terminalStyle() (width uint, color bool) {
	width = 78
	if c, err := strconv.Atoi(e.getenv("COLUMNS")); err == nil && c > 20 {
		width = uint(c)
	}
	return width, !e.noColor && e.getenv("NO_COLOR") == ""
}

// isTerminal reports whether f is a terminal. A file mode check is not
// enough: /dev/null is a character device too.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// getenv reads a variable from the command's environment (not the process's,
// so tests can set it).
func (e *env) getenv(name string) string {
	for i := len(e.environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e.environ[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}
