# A route sends each document down one path by its kind: invoices to
# their own process, every other kind to the default path; the two paths
# merge before the archive.
graph "route" {
  handlers = "example.com/route/behaviour"
}

start "in" {}

route "by_kind" {
  from    = start.in
  queue   = "docs"
  message = "Document"
  handler = "Kind"
}

process "invoice" {
  from    = route.by_kind
  when    = "invoice"
  queue   = "invoices"
  message = "Document"
  handler = "Invoice"
}

process "other" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Document"
  handler = "Other"
}

process "archive" {
  from    = [process.invoice, process.other]
  queue   = "archive"
  message = "Filed"
  handler = "Archive"
}

terminate "out" {
  from    = process.archive
  queue   = "out"
  message = "Receipt"
}
