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

fan_out "copy" { # WARNING: fan_out with one output
  from    = split.pages
  queue   = "copy"
  message = "Page"
}

gather "summary" {
  from    = fan_out.copy
  over    = split.pages
  queue   = "summary"
  message = "Text" # ERROR: Message type mismatch
  handler = "Summarise"
}

terminate "out" {
  from    = gather.summary
  queue   = "out"
  message = "Summary"
}
