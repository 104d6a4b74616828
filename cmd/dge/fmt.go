package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/textdiff"
)

func runFmt(_ context.Context, e *env, args []string) int {
	fset := e.newFlagSet("fmt", "dge fmt [flags] [PATH]", `
Rewrite *.dge.hcl files in the canonical format (hclwrite.Format). PATH is a
folder (default the current one), one file, or "-" to format stdin to
stdout. Files that change are rewritten in place and listed on stdout. A file
with a syntax error is reported and left untouched (exit status 1).`)
	check := fset.Bool("check", false, "write nothing; list the files that are not formatted and exit 1 if there are any")
	diff := fset.Bool("diff", false, "print a unified diff of each change")
	recursive := fset.Bool("recursive", false, "also format the files in sub-folders")
	list := fset.Bool("list", true, "list the files that change (or would change)")
	e.addNoColor(fset)
	pos, code, done := parseArgs(fset, args)
	if done {
		return code
	}
	path, ok := e.pathArg(fset, pos)
	if !ok {
		return exitError
	}

	if path == "-" {
		return e.fmtStdin(*check, *diff)
	}
	paths, err := fmtFiles(path, *recursive)
	if err != nil {
		fmt.Fprintf(e.stderr, "dge fmt: %v\n", err)
		return exitError
	}
	status := exitOK
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(e.stderr, "dge fmt: %v\n", err)
			status = exitError
			continue
		}
		out, ok := e.format(p, src)
		if !ok {
			status = exitError
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		if *list {
			fmt.Fprintln(e.stdout, p)
		}
		if *diff {
			fmt.Fprint(e.stdout, textdiff.Unified("old/"+p, "new/"+p, string(src), string(out)))
		}
		if *check {
			status = exitError
			continue
		}
		if err := writeKeepingMode(p, out); err != nil {
			fmt.Fprintf(e.stderr, "dge fmt: %v\n", err)
			status = exitError
		}
	}
	return status
}

// fmtStdin formats stdin to stdout. With -check it prints nothing unless
// -diff, and exits 1 when the input is not formatted.
func (e *env) fmtStdin(check, diff bool) int {
	src, err := io.ReadAll(e.stdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "dge fmt: read stdin: %v\n", err)
		return exitError
	}
	out, ok := e.format("<stdin>", src)
	if !ok {
		return exitError
	}
	changed := !bytes.Equal(src, out)
	if diff && changed {
		fmt.Fprint(e.stdout, textdiff.Unified("old/<stdin>", "new/<stdin>", string(src), string(out)))
	}
	if check {
		if changed {
			return exitError
		}
		return exitOK
	}
	if !diff {
		if _, err := e.stdout.Write(out); err != nil {
			fmt.Fprintf(e.stderr, "dge fmt: write stdout: %v\n", err)
			return exitError
		}
	}
	return exitOK
}

// format returns src in canonical form. A syntax error is printed as a
// diagnostic and format returns false.
func (e *env) format(filename string, src []byte) ([]byte, bool) {
	diags := config.CheckNesting(src, filename)
	if !diags.HasErrors() {
		_, diags = hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	}
	if diags.HasErrors() {
		e.printDiags(map[string]*hcl.File{filename: {Bytes: src}}, diags)
		return nil, false
	}
	return hclwrite.Format(src), true
}

// fmtFiles lists the files to format: path itself when it is a file, else
// the *.dge.hcl files in the folder (and its sub-folders when recursive,
// except hidden ones), in lexical order.
func fmtFiles(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w; pass a folder of *%s files or one file", err, config.FileSuffix)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var paths []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), config.FileSuffix) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	return paths, nil
}

// writeKeepingMode overwrites an existing file, keeping its permissions.
func writeKeepingMode(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, info.Mode().Perm()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
