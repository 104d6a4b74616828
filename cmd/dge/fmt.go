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
			fmt.Fprint(e.stdout, unifiedDiff(p, string(src), string(out)))
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
		fmt.Fprint(e.stdout, unifiedDiff("<stdin>", string(src), string(out)))
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
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
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

// unifiedDiff returns a unified diff (3 lines of context) from a to b, both
// named name, or "" when they are equal.
func unifiedDiff(name, a, b string) string {
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)
	const context = 3
	var out strings.Builder
	for i := 0; i < len(ops); {
		// Find the next change.
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(i-context, 0)
		end := i
		// Extend the hunk while changes are within 2*context lines.
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
				continue
			}
			if j-end > 2*context {
				break
			}
		}
		stop := min(end+context+1, len(ops))
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- old/%s\n+++ new/%s\n", name, name)
		}
		writeHunk(&out, ops[start:stop], al, bl)
		i = stop
	}
	return out.String()
}

// edit is one line of a line diff: ' ' kept, '-' deleted from a, '+'
// inserted from b; a and b are the line's indexes in each side.
type edit struct {
	kind byte
	a, b int
}

func writeHunk(w *strings.Builder, ops []edit, al, bl []string) {
	aStart, bStart, aLen, bLen := -1, -1, 0, 0
	for _, op := range ops {
		if op.kind != '+' {
			if aStart < 0 {
				aStart = op.a
			}
			aLen++
		}
		if op.kind != '-' {
			if bStart < 0 {
				bStart = op.b
			}
			bLen++
		}
	}
	// In a hunk with no lines on one side, that side's start is the line
	// before the hunk (0 at the top of the file).
	if aStart < 0 {
		aStart = ops[0].a - 1
	}
	if bStart < 0 {
		bStart = ops[0].b - 1
	}
	fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
	for _, op := range ops {
		line := ""
		switch op.kind {
		case '-':
			line = al[op.a]
		default:
			line = bl[op.b]
		}
		w.WriteByte(op.kind)
		w.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func hunkRange(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits s after each newline; the last line may lack one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// maxDiffEdits bounds the work of diffLines; past it the whole file is shown
// as replaced, which is still a correct diff.
const maxDiffEdits = 2000

// diffLines returns a shortest edit script from a to b (Myers' algorithm),
// in order. Every a-index and b-index of an edit is the position the line
// has in its side; kept lines carry both.
func diffLines(a, b []string) []edit {
	n, m := len(a), len(b)
	limit := min(n+m, maxDiffEdits)
	off := limit + 1
	v := make([]int, 2*limit+3)
	var trace [][]int // trace[d][k+d] = furthest x on diagonal k after d edits
	for d := 0; d <= limit; d++ {
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
		}
		trace = append(trace, append([]int(nil), v[off-d:off+d+1]...))
		if k := n - m; k >= -d && k <= d && (k+d)%2 == 0 && v[off+k] >= n {
			return backtrack(trace, a, b, d)
		}
	}
	// Too different: delete everything, then insert everything.
	ops := make([]edit, 0, n+m)
	for i := range a {
		ops = append(ops, edit{'-', i, 0})
	}
	for j := range b {
		ops = append(ops, edit{'+', n, j})
	}
	return ops
}

func backtrack(trace [][]int, a, b []string, dEnd int) []edit {
	get := func(d, k int) int { return trace[d][k+d] }
	x, y := len(a), len(b)
	var rev []edit
	for d := dEnd; d > 0; d-- {
		k := x - y
		var prevK int
		if k == -d || (k != d && get(d-1, k-1) < get(d-1, k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := get(d-1, prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, edit{' ', x, y})
		}
		if x == prevX {
			y--
			rev = append(rev, edit{'+', x, y})
		} else {
			x--
			rev = append(rev, edit{'-', x, y})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, edit{' ', x, y})
	}
	ops := make([]edit, len(rev))
	for i, op := range rev {
		ops[len(rev)-1-i] = op
	}
	return ops
}
