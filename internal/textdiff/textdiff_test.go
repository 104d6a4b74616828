package textdiff

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	for _, tt := range []struct {
		name, a, b, want string
	}{
		{"equal", "x\ny\n", "x\ny\n", ""},
		{"both empty", "", "", ""},
		{"empty to one", "", "a\n", "--- old/f\n+++ new/f\n@@ -0,0 +1 @@\n+a\n"},
		{"one to empty", "a\n", "", "--- old/f\n+++ new/f\n@@ -1 +0,0 @@\n-a\n"},
		{"change middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
			"--- old/f\n+++ new/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"},
		{"two hunks", "a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n",
			"--- old/f\n+++ new/f\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n"},
		{"changes six lines apart share a hunk", "a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n",
			"--- old/f\n+++ new/f\n@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-b\n+B\n"},
		{"changes seven lines apart get two hunks", "a\n1\n2\n3\n4\n5\n6\n7\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\nB\n",
			"--- old/f\n+++ new/f\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-b\n+B\n"},
		{"insert at the top", "1\n2\n3\n4\n5\n", "0\n1\n2\n3\n4\n5\n",
			"--- old/f\n+++ new/f\n@@ -1,3 +1,4 @@\n+0\n 1\n 2\n 3\n"},
		{"no final newline", "a", "a\n", "--- old/f\n+++ new/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unified("old/f", "new/f", tt.a, tt.b); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// randomText returns up to 30 lines drawn from a small alphabet, so that
// texts share lines, sometimes without a final newline.
func randomText(rng *rand.Rand) string {
	var sb strings.Builder
	for range rng.IntN(30) {
		sb.WriteByte(byte('a' + rng.IntN(4)))
		sb.WriteByte('\n')
	}
	s := sb.String()
	if s != "" && rng.IntN(4) == 0 {
		s = s[:len(s)-1]
	}
	return s
}

// TestLinesRebuilds checks on random inputs that the edit script is
// consistent, its kept and deleted lines spelling a and its kept and
// inserted lines spelling b, and that it is a shortest one: never longer
// than the script found with a smaller limit, which falls back to
// delete-all-insert-all.
func TestLinesRebuilds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		a, b := splitLines(randomText(rng)), splitLines(randomText(rng))
		for _, limit := range []int{maxEdits, 3} {
			var gotA, gotB []string
			changes := 0
			for _, op := range lines(a, b, limit) {
				switch op.kind {
				case ' ':
					if a[op.a] != b[op.b] {
						t.Fatalf("case %d, limit %d: kept line differs: %q vs %q", i, limit, a[op.a], b[op.b])
					}
					gotA, gotB = append(gotA, a[op.a]), append(gotB, b[op.b])
				case '-':
					gotA = append(gotA, a[op.a])
					changes++
				case '+':
					gotB = append(gotB, b[op.b])
					changes++
				}
			}
			if strings.Join(gotA, "") != strings.Join(a, "") || strings.Join(gotB, "") != strings.Join(b, "") {
				t.Fatalf("case %d, limit %d: script for %q → %q rebuilds %q → %q", i, limit, a, b, gotA, gotB)
			}
			if changes > len(a)+len(b) {
				t.Fatalf("case %d, limit %d: script for %q → %q has %d changes", i, limit, a, b, changes)
			}
		}
	}
}

// TestLinesShortest checks the script's length against the longest common
// subsequence, computed by dynamic programming: a shortest script deletes
// and inserts every line outside it.
func TestLinesShortest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		a, b := splitLines(randomText(rng)), splitLines(randomText(rng))
		lcs := make([][]int, len(a)+1)
		for x := range lcs {
			lcs[x] = make([]int, len(b)+1)
		}
		for x := len(a) - 1; x >= 0; x-- {
			for y := len(b) - 1; y >= 0; y-- {
				if a[x] == b[y] {
					lcs[x][y] = lcs[x+1][y+1] + 1
				} else {
					lcs[x][y] = max(lcs[x+1][y], lcs[x][y+1])
				}
			}
		}
		changes := 0
		for _, op := range lines(a, b, maxEdits) {
			if op.kind != ' ' {
				changes++
			}
		}
		if want := len(a) + len(b) - 2*lcs[0][0]; changes != want {
			t.Fatalf("case %d: script for %q → %q has %d changes, want %d", i, a, b, changes, want)
		}
	}
}

// TestUnifiedApplies checks on random inputs that applying the unified diff
// to a, as patch does, gives b.
func TestUnifiedApplies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		a, b := randomText(rng), randomText(rng)
		d := Unified("a", "b", a, b)
		if (d == "") != (a == b) {
			t.Fatalf("case %d: diff of %q → %q is %q", i, a, b, d)
		}
		got, err := apply(a, d)
		if err != nil {
			t.Fatalf("case %d: %v in the diff of %q → %q:\n%s", i, err, a, b, d)
		}
		if got != b {
			t.Fatalf("case %d: the diff of %q → %q gives %q:\n%s", i, a, b, got, d)
		}
	}
}

// TestUnifiedTooDifferent checks that texts past the edit limit still get a
// correct diff: one hunk that replaces everything.
func TestUnifiedTooDifferent(t *testing.T) {
	var a, b strings.Builder
	for i := range maxEdits {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
	}
	d := Unified("a", "b", a.String(), b.String())
	if !strings.HasPrefix(d, fmt.Sprintf("--- a\n+++ b\n@@ -1,%d +1,%d @@\n-a0\n", maxEdits, maxEdits)) {
		t.Errorf("diff starts %q, want one hunk replacing everything", d[:min(len(d), 80)])
	}
	if got, err := apply(a.String(), d); err != nil || got != b.String() {
		t.Errorf("applying the diff: %v, rebuilt b: %t", err, got == b.String())
	}
}

// apply applies a unified diff made by Unified to a, checking every
// context and deleted line against a, the way patch does.
func apply(a, diff string) (string, error) {
	if diff == "" {
		return a, nil
	}
	src := splitLines(a)
	dl := splitLines(diff)
	if len(dl) < 2 || !strings.HasPrefix(dl[0], "--- ") || !strings.HasPrefix(dl[1], "+++ ") {
		return "", fmt.Errorf("no header")
	}
	// Undo the no-newline markers: the line before one loses its newline.
	var body []string
	for _, l := range dl[2:] {
		if l == "\\ No newline at end of file\n" {
			if len(body) == 0 {
				return "", fmt.Errorf("marker at the start")
			}
			body[len(body)-1] = strings.TrimSuffix(body[len(body)-1], "\n")
			continue
		}
		body = append(body, l)
	}
	var out []string
	next := 0 // index in src of the next line not yet copied
	for len(body) > 0 {
		var aStart, aLen, bStart, bLen int
		if err := parseHeader(body[0], &aStart, &aLen, &bStart, &bLen); err != nil {
			return "", err
		}
		body = body[1:]
		first := aStart - 1 // index of the hunk's first line of a
		if aLen == 0 {
			first = aStart
		}
		if first < next {
			return "", fmt.Errorf("hunk at line %d overlaps the one before", aStart)
		}
		out = append(out, src[next:first]...)
		next = first
		seenA, seenB := 0, 0
		for len(body) > 0 && !strings.HasPrefix(body[0], "@@ ") {
			l := body[0]
			body = body[1:]
			kind, text := l[0], l[1:]
			if kind != '+' {
				if next >= len(src) || src[next] != text {
					return "", fmt.Errorf("line %d of a is not %q", next+1, text)
				}
				next++
				seenA++
			}
			if kind != '-' {
				out = append(out, text)
				seenB++
			}
		}
		if seenA != aLen || seenB != bLen {
			return "", fmt.Errorf("hunk at line %d has %d and %d lines, its header says %d and %d", aStart, seenA, seenB, aLen, bLen)
		}
		if len(out) != bStart-1+bLen && !(bLen == 0 && len(out) == bStart) {
			return "", fmt.Errorf("hunk at line %d ends at line %d of b, its header says %d,%d", aStart, len(out), bStart, bLen)
		}
	}
	out = append(out, src[next:]...)
	return strings.Join(out, ""), nil
}

// parseHeader reads "@@ -s[,l] +s[,l] @@" (a missing length is 1).
func parseHeader(line string, aStart, aLen, bStart, bLen *int) error {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "@@" || f[3] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return fmt.Errorf("hunk header %q", line)
	}
	for _, r := range []struct {
		s           string
		start, size *int
	}{{f[1][1:], aStart, aLen}, {f[2][1:], bStart, bLen}} {
		start, size, found := strings.Cut(r.s, ",")
		var err error
		if *r.start, err = strconv.Atoi(start); err != nil {
			return fmt.Errorf("hunk header %q: %w", line, err)
		}
		*r.size = 1
		if found {
			if *r.size, err = strconv.Atoi(size); err != nil {
				return fmt.Errorf("hunk header %q: %w", line, err)
			}
		}
	}
	return nil
}
