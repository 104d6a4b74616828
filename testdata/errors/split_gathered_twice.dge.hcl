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

fan_out "copy" {
  from    = split.pages
  queue   = "copy"
  message = "Page"
}

gather "summary" {
  from    = fan_out.copy
  over    = split.pages
  queue   = "summary"
  message = "Page"
  handler = "Summarise"
}

gather "count" {
  from    = fan_out.copy
  over    = split.pages # ERROR: Split gathered twice
  queue   = "count"
  message = "Page"
  handler = "CountPages"
}

terminate "summarised" {
  from    = gather.summary
  queue   = "summarised"
  message = "Summary"
}

terminate "counted" {
  from    = gather.count
  queue   = "counted"
  message = "Count"
}
