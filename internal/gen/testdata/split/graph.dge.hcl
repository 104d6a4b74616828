# Split and gather in every form the generator renders: a fold with a zero
# function (sum), a list gather (summaries) and a fold without one (report)
# that closes the outer split of a nested pair (documents around pages).
graph "split" {
  handlers = "github.com/dgehq/dge/internal/gen/testdata/split/behaviour"
}

start "ranges" {}

split "numbers" {
  from    = start.ranges
  queue   = "numbers"
  message = "Range"
  handler = "Numbers"
}

process "fib" {
  from    = split.numbers
  queue   = "fib"
  message = "Number"
  handler = "FibAt"
}

gather "sum" {
  from    = process.fib
  over    = split.numbers
  queue   = "sum"
  message = "Number"
  handler = "Sum"
  zero    = "NewTotal"
  timeout = "30m"
}

terminate "totals" {
  from    = gather.sum
  queue   = "totals"
  message = "Total"
}

start "batches" {}

split "documents" {
  from    = start.batches
  queue   = "documents"
  message = "Batch"
  handler = "Documents"
}

split "pages" {
  from        = split.documents
  queue       = "pages"
  message     = "Document"
  handler     = "Pages"
  concurrency = 2
}

process "read" {
  from    = split.pages
  queue   = "read"
  message = "Page"
  handler = "Read"
}

gather "summaries" {
  from    = process.read
  over    = split.pages
  queue   = "summaries"
  message = "PageText"
  handler = "Summarise"
}

gather "report" {
  from    = gather.summaries
  over    = split.documents
  queue   = "report"
  message = "Summary"
  handler = "Tally"
  timeout = "2h"
}

terminate "reports" {
  from    = gather.report
  queue   = "reports"
  message = "Report"
}
