# Route and merge in the forms the generator renders: a route with two
# labels and a default path whose three paths merge into one terminate; and,
# inside a split, a route without a default path whose two paths merge into
# one process before the gather.
graph "route" {
  handlers = "github.com/dgehq/dge/internal/gen/testdata/route/behaviour"
}

start "docs" {}

route "by_kind" {
  from    = start.docs
  queue   = "docs"
  message = "Document"
  handler = "Kind"
}

process "invoice" {
  from    = route.by_kind
  when    = "invoice"
  queue   = "invoices"
  message = "Document"
  handler = "FileInvoice"
}

process "receipt" {
  from    = route.by_kind
  when    = "receipt"
  queue   = "receipts"
  message = "Document"
  handler = "FileReceipt"
}

process "other" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Document"
  handler = "FileOther"
}

terminate "filed" {
  from    = [process.invoice, process.receipt, process.other]
  queue   = "filed"
  message = "Filed"
}

start "batches" {}

split "documents" {
  from    = start.batches
  queue   = "batches"
  message = "Batch"
  handler = "Documents"
}

route "by_size" {
  from        = split.documents
  queue       = "sizes"
  message     = "Document"
  handler     = "Size"
  concurrency = 4
}

process "shrink" {
  from    = route.by_size
  when    = "large"
  queue   = "large"
  message = "Document"
  handler = "Shrink"
}

process "keep" {
  from    = route.by_size
  when    = "small"
  queue   = "small"
  message = "Document"
  handler = "Keep"
}

process "stamp" {
  from    = [process.shrink, process.keep]
  queue   = "stamp"
  message = "Document"
  handler = "Stamp"
}

gather "tally" {
  from    = process.stamp
  over    = split.documents
  queue   = "tally"
  message = "Filed"
  handler = "Count"
}

terminate "tallies" {
  from    = gather.tally
  queue   = "tallies"
  message = "Tally"
}
