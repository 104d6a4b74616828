graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

split "pages" {
  from    = start.in
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

terminate "out" {
  from    = process.read # ERROR: Split never gathered
  queue   = "out"
  message = "Text"
}
