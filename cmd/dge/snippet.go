package main

import (
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// The most of a diagnostic's source snippet printed: hcl's text writer
// prints every line the subject and context span, whole, so that a subject
// on a 10 MB line printed 10 MB.
const (
	maxSnippetColumns = 200 // bytes of one line, around the subject
	maxSnippetLines   = 10
	// maxDetailBytes bounds a detail, which may quote a value of up to
	// 1 MiB; the middle is cut, keeping the end, which says what to do.
	maxDetailBytes = 2000
)

// excerpt returns d and files as hcl.NewDiagnosticTextWriter should print
// them: unchanged when d's snippet is small, or else a copy of d whose
// subject points into an excerpt of its file, holding the snippet's first
// lines, each cut to a window around the subject with "…" where text was
// left out. Line numbers stay as they are; the location printed is d's
// own.
func excerpt(files map[string]*hcl.File, d *hcl.Diagnostic) (map[string]*hcl.File, *hcl.Diagnostic) {
	c := *d
	if len(c.Detail) > maxDetailBytes {
		c.Detail = cutMiddle(c.Detail, maxDetailBytes)
	}
	if c.Expression != nil && c.EvalContext != nil && longValues(c.Expression, c.EvalContext) {
		c.Expression, c.EvalContext = nil, nil
	}
	if d.Subject == nil {
		return files, &c
	}
	f := files[d.Subject.Filename]
	if f == nil || f.Bytes == nil {
		return files, &c
	}
	src := f.Bytes
	snip := *d.Subject
	if d.Context != nil {
		snip = hcl.RangeOver(snip, *d.Context)
	}
	first := lineStart(src, min(snip.Start.Byte, len(src)))
	last := lineEnd(src, min(max(snip.End.Byte, snip.Start.Byte+1), len(src)))
	lines := strings.Split(string(src[first:last]), "\n")
	if len(lines) <= maxSnippetLines && longestLine(lines) <= maxSnippetColumns {
		return files, &c
	}
	cutLines := len(lines) > maxSnippetLines
	if cutLines {
		lines = lines[:maxSnippetLines]
	}

	// Cut each line to a window around where the subject starts on it (or
	// its start), and map the subject's offsets into the excerpt.
	var out strings.Builder
	out.WriteString(strings.Repeat("\n", max(snip.Start.Line-1, 0)))
	subj := *d.Subject
	newStart, newEnd := -1, -1
	offset := first
	for i, line := range lines {
		if i > 0 {
			out.WriteByte('\n')
		}
		anchor := 0
		if subj.Start.Byte >= offset && subj.Start.Byte <= offset+len(line) {
			anchor = subj.Start.Byte - offset
		}
		from, to := window(line, anchor)
		if from > 0 {
			out.WriteString("…")
		}
		base := out.Len() - from // the excerpt offset of the line's byte 0
		out.WriteString(line[from:to])
		if to < len(line) {
			out.WriteString("…")
		}
		if newStart < 0 && subj.Start.Byte <= offset+to {
			newStart = base + max(subj.Start.Byte-offset, from)
		}
		if subj.End.Byte >= offset+from {
			newEnd = base + min(subj.End.Byte-offset, to)
		}
		offset += len(line) + 1
	}
	if newStart < 0 {
		newStart = out.Len()
	}
	newEnd = max(newEnd, newStart)
	if cutLines {
		out.WriteString("\n…") // a line that says the rest is left out
	}
	text := []byte(out.String())
	subj.Start.Byte, subj.End.Byte = newStart, newEnd
	subj.Start.Column = newStart - lineStart(text, newStart) + 1
	subj.End.Column = newEnd - lineStart(text, newEnd) + 1
	subj.End.Line = lineNumber(text, newEnd)
	c.Subject = &subj
	c.Context = nil
	if cutLines {
		end := hcl.Pos{Line: lineNumber(text, len(text)), Column: 2, Byte: len(text)}
		c.Context = &hcl.Range{Filename: subj.Filename, Start: subj.Start, End: end}
	}

	excerpted := make(map[string]*hcl.File, len(files))
	for name, file := range files {
		excerpted[name] = file
	}
	var nav any
	if cs, ok := f.Nav.(interface{ ContextString(int) string }); ok {
		nav = fixedContext(cs.ContextString(d.Subject.Start.Byte))
	}
	excerpted[d.Subject.Filename] = &hcl.File{Body: f.Body, Bytes: text, Nav: nav}
	return excerpted, &c
}

// window returns the part of line to print, [from, to), at most
// maxSnippetColumns bytes around anchor, on UTF-8 boundaries.
func window(line string, anchor int) (from, to int) {
	if len(line) <= maxSnippetColumns {
		return 0, len(line)
	}
	from = max(0, anchor-maxSnippetColumns/4)
	to = min(len(line), from+maxSnippetColumns)
	from = max(0, to-maxSnippetColumns)
	for from > 0 && !utf8.RuneStart(line[from]) {
		from++
	}
	for to < len(line) && !utf8.RuneStart(line[to]) {
		to--
	}
	return from, to
}

// fixedContext gives hcl's text writer the context ("in locals") of the
// subject in the whole file, as an excerpt's offsets would find none.
type fixedContext string

func (c fixedContext) ContextString(int) string { return string(c) }

// longValues tells whether a value the writer would show for expr's
// variables ("with local.x as ...") is a long string.
func longValues(expr hcl.Expression, ctx *hcl.EvalContext) bool {
	for _, t := range expr.Variables() {
		v, diags := t.TraverseAbs(ctx)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.IsMarked() || v.Type() != cty.String {
			continue
		}
		if len(v.AsString()) > maxSnippetColumns {
			return true
		}
	}
	return false
}

// cutMiddle shortens s to about n bytes, leaving out its middle.
func cutMiddle(s string, n int) string {
	head, tail := n/2, n/4
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	cut := len(s) - tail
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return s[:head] + " … " + s[cut:]
}

func longestLine(lines []string) int {
	n := 0
	for _, l := range lines {
		n = max(n, len(l))
	}
	return n
}

// lineStart returns the offset of the start of the line holding offset.
func lineStart(src []byte, offset int) int {
	for offset > 0 && src[offset-1] != '\n' {
		offset--
	}
	return offset
}

// lineEnd returns the offset of the end of the line holding offset (its
// newline, or the end of src).
func lineEnd(src []byte, offset int) int {
	if offset > 0 && offset <= len(src) && src[offset-1] == '\n' {
		offset-- // an end that takes in the newline stays on its line
	}
	for offset < len(src) && src[offset] != '\n' {
		offset++
	}
	return offset
}

// lineNumber returns the 1-based line of offset in src.
func lineNumber(src []byte, offset int) int {
	n := 1
	for _, c := range src[:min(offset, len(src))] {
		if c == '\n' {
			n++
		}
	}
	return n
}
