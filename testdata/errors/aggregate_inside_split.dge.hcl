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

process "words" {
  from    = fan_out.copy
  queue   = "words"
  message = "Page"
  handler = "Words"
}

process "images" {
  from    = fan_out.copy
  queue   = "images"
  message = "Page"
  handler = "Images"
}

aggregate "join" {
  from    = [process.words, process.images] # ERROR: Aggregate inside a split
  queue   = "join"
  message = "Part"
  handler = "Join"
}

gather "summary" {
  from    = aggregate.join
  over    = split.pages
  queue   = "summary"
  message = "PageSummary"
  handler = "Summarise"
}

terminate "out" {
  from    = gather.summary
  queue   = "out"
  message = "Summary"
}
