package main

import (
	"bytes"
	"context"
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

// addJSON registers -json with usage: with it, the command's failures are
// JSON diagnostics on stdout (see fail).
func (e *env) addJSON(fs *flag.FlagSet, usage string) {
	fs.BoolVar(&e.json, "json", false, usage)
}

// parseArgs is the package's parseArgs for a command: when args ask for
// JSON (-json, or -format json), a bad flag is reported as a JSON
// diagnostic on stdout rather than as text with the usage.
func (e *env) parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	if !jsonRequested(args) {
		return parseArgs(fs, args)
	}
	out := fs.Output()
	fs.SetOutput(io.Discard)
	pos, err := parseFlags(fs, args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return nil, exitOK, true
	case err != nil:
		e.json = true
		return nil, e.failf(strings.TrimPrefix(fs.Name(), "dge "), "%v\nRun \"%s -h\" for usage.", err, fs.Name()), true
	}
	return pos, 0, false
}

// jsonRequested reports whether the command line asks for JSON output,
// before it is parsed.
func jsonRequested(args []string) bool {
	for i, a := range args {
		switch strings.TrimPrefix(a, "-") {
		case "-":
			return false
		case "json", "-json", "json=true", "-json=true", "format=json", "-format=json":
			return true
		case "format", "-format":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		}
	}
	return false
}

// parseArgs parses args with fs, allowing flags after positional arguments
// (`dge validate examples/arith -json`), and returns the positional ones.
// Everything after "--" is positional. When it returns done, the command
// must return code: 0 after -h, 1 after a bad flag (already reported).
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	pos, err := parseFlags(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, exitOK, true
	case err != nil:
		return nil, exitError, true
	}
	return pos, 0, false
}

// parseFlags is parseArgs returning the flag package's error.
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
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
		e.failf(strings.TrimPrefix(fs.Name(), "dge "), "expected at most one PATH, got %d: %s\nRun \"%s -h\" for usage.", len(pos), strings.Join(pos, " "), fs.Name())
		return "", false
	}
}

// load loads the graph at path ("." when empty) with the command's variables
// and the process environment, returning the diagnostics unprinted. A
// signal stops it with an "Interrupted" error (see env.ctx).
func (e *env) load(path string, vars varFlags) (*config.Graph, map[string]*hcl.File, hcl.Diagnostics) {
	if path == "" {
		path = "."
	}
	ctx := e.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	l := config.NewLoader()
	g, diags := l.LoadContext(ctx, path, config.Options{VarArgs: vars.args, Env: e.environ})
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

// loadArg loads the graph named by the command's PATH argument ("." when
// absent) and prints its diagnostics. It returns false, the problem
// reported, when there is more than one PATH or the graph has errors.
func (e *env) loadArg(fs *flag.FlagSet, pos []string, vars varFlags) (*config.Graph, bool) {
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return nil, false
	}
	return e.loadGraph(path, vars)
}

// printDiags writes diagnostics to e.stderr with source snippets, coloured
// only when stderr is a terminal and neither -no-color nor NO_COLOR is set.
// Each location reads file:line:col (hcl writes "file line N"), so editors
// and terminals can jump to it. With -json, they are JSON diagnostic lines
// on stdout instead when there is an error among them or stdout is a
// stream; warnings alone stay on stderr, where they keep a single JSON
// document on stdout whole.
func (e *env) printDiags(files map[string]*hcl.File, diags hcl.Diagnostics) {
	if e.json && (e.stream || diags.HasErrors()) {
		for _, d := range diags {
			e.jsonUI().diagnostic(hclDiagnostic(d))
		}
		return
	}
	width, color := e.terminal(e.stderr)
	var buf bytes.Buffer
	for _, d := range diags {
		buf.Reset()
		// A long line or value is cut to a bounded excerpt (snippet.go).
		xfiles, xd := excerpt(files, d)
		w := hcl.NewDiagnosticTextWriter(&buf, xfiles, width, color)
		if err := w.WriteDiagnostic(xd); err != nil {
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

// fail prints err as one "dge <cmd>: ..." message on stderr, or with
// -json as a diagnostic line on stdout, without any password (see scrub),
// and returns exitError.
func (e *env) fail(cmd string, err error) int {
	msg := e.scrub(err.Error())
	if e.json {
		e.jsonUI().diagnostic(errorDiagnostic(msg))
		return exitError
	}
	fmt.Fprintf(e.stderr, "dge %s: %s\n", cmd, msg)
	return exitError
}

// failf is fail with a formatted message.
func (e *env) failf(cmd, format string, args ...any) int {
	return e.fail(cmd, fmt.Errorf(format, args...))
}

// note tells the user of something that is not an error, on stderr, or
// with -json on a stream as a warning diagnostic.
func (e *env) note(msg string) {
	msg = e.scrub(msg)
	if e.json && e.stream {
		e.jsonUI().diagnostic(jsonDiagnostic{Severity: "warning", Summary: msg})
		return
	}
	fmt.Fprintf(e.stderr, "dge: note: %s\n", msg)
}
