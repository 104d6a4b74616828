// Package behaviour is the handlers package of the docs example graph
// (examples/docs/graph.dge.hcl): a Document is split into its chapters
// (Chapters: a line starting with "# " opens one), each chapter into pages
// of at most WordsPerPage words (Pages), each page is summarised on its
// own (Summarise: its word count, its first sentence and its most frequent
// words), and the list-form gathers put the summaries back together in
// order: JoinPages for one chapter's pages, JoinChapters for the
// document's chapters.
//
// The summary is extractive and deterministic, so a test can compare what
// the graph returns with what the handlers return when called in order.
package behaviour
