# Nested splits: a batch into documents, each document into pages; the
# pages of a document are gathered into its summary, inside the outer
# split, and the summaries of the batch into a digest.
graph "digest" {
  handlers = "example.com/digest/behaviour"
}

start "in" {}

split "docs" {
  from    = start.in
  queue   = "docs"
  message = "Batch"
  handler = "Documents"
}

split "pages" {
  from    = split.docs
  queue   = "pages"
  message = "Document"
  handler = "Pages"
}

process "read" {
  from    = split.pages
  queue   = "read"
  message = "Page"
  handler = "Read"
}

gather "page_texts" {
  from    = process.read
  over    = split.pages
  queue   = "page_texts"
  message = "PageText"
  handler = "Summarise"
}

gather "summaries" {
  from    = gather.page_texts
  over    = split.docs
  queue   = "summaries"
  message = "Summary"
  handler = "DigestAll"
  timeout = "2h"
}

terminate "out" {
  from    = gather.summaries
  queue   = "out"
  message = "Digest"
}
