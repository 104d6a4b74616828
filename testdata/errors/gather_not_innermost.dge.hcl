graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

split "docs" {
  from    = start.in
  queue   = "docs"
  message = "Batch"
  handler = "Docs"
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

gather "summary" {
  from    = process.read
  over    = split.docs # ERROR: Gather does not close the innermost split
  queue   = "summary"
  message = "Text"
  handler = "Summarise"
}

terminate "out" {
  from    = gather.summary
  queue   = "out"
  message = "Summary"
}
