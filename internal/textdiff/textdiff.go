package textdiff

import (
	"fmt"
	"strings"
)

// context is the number of unchanged lines shown around each change.
const context = 3

// maxEdits bounds the work of the diff: past it the whole text is shown as
// replaced.
const maxEdits = 2000

// Unified returns a unified diff with three lines of context that turns a
// into b, headed "--- oldName" and "+++ newName", or "" when a equals b.
func Unified(oldName, newName, a, b string) string {
	al, bl := splitLines(a), splitLines(b)
	ops := lines(al, bl, maxEdits)
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
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
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

// writeHunk writes one hunk: its header, then each line prefixed with its
// kind.
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
		var line string
		if op.kind == '-' {
			line = al[op.a]
		} else {
			line = bl[op.b]
		}
		w.WriteByte(op.kind)
		w.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange formats one side of a hunk header: the 1-based first line and,
// unless it is 1, the number of lines.
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

// lines returns a shortest edit script from a to b (Myers' algorithm), in
// order, or, when that needs more than limit edits, the script that deletes
// every line of a and then inserts every line of b. Every a-index and
// b-index of an edit is the position the line has in its side; kept lines
// carry both.
func lines(a, b []string, limit int) []edit {
	n, m := len(a), len(b)
	limit = min(n+m, limit)
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

// backtrack walks the trace of lines back from the end of both sides and
// returns the edit script it found, in order.
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
