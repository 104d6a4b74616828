# A realistic split and gather: a document is split into its chapters,
# each chapter into its pages; every page is summarised on whichever
# instance takes it, the page summaries are gathered back in order into
# each chapter's summary, and those into the document's. The splits nest:
# each gather closes the innermost split open on its path. docs/language.md,
# "Split and gather", explains it; `make demo` runs it.

graph "docs" {
  handlers   = "github.com/dgehq/dge/examples/docs/behaviour" # Go import path of the handlers
  on_failure = "LogFailure"                                   # called when a message is parked
}

broker {
  vhost      = var.vhost
  queue_type = "quorum"
}

variable "vhost" {
  default = "/"
}

start "document" {}

split "chapters" {
  from    = start.document
  queue   = "docs.chapters"
  message = "Document" # func(context.Context, behaviour.Document) ([]behaviour.Chapter, error)
  handler = "Chapters"
}

split "pages" {
  from    = split.chapters # each chapter alone
  queue   = "docs.pages"
  message = "Chapter"
  handler = "Pages" # func(context.Context, behaviour.Chapter) ([]behaviour.Page, error)
}

process "summarise" {
  from    = split.pages # each page alone, on any instance
  queue   = "docs.summarise"
  message = "Page"
  handler = "Summarise"
}

gather "chapter" {
  from    = process.summarise
  over    = split.pages # closes the inner split: one chapter's pages
  queue   = "docs.chapter"
  message = "PageSummary"
  handler = "JoinPages" # the list form: func(context.Context, []behaviour.PageSummary) (behaviour.ChapterSummary, error)
}

gather "summary" {
  from    = gather.chapter
  over    = split.chapters # closes the outer split: the document's chapters
  queue   = "docs.document"
  message = "ChapterSummary"
  handler = "JoinChapters"
}

terminate "result" {
  from    = gather.summary
  queue   = "docs.result"
  message = "Summary"
}
