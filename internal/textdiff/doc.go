// Package textdiff computes line diffs of text and prints them in the
// unified format that diff -u and patch use.
//
// Unified is what `dge fmt -diff` prints. The edit script is a shortest one
// (Myers' algorithm), so the hunks are the ones a reader expects; past
// 2,000 edits the work stops and the whole text is shown as replaced, which
// is still a correct diff. Lines are compared byte for byte, and a last line
// without a newline is marked "\ No newline at end of file".
package textdiff
