graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Document"
}

split "pages" {
  from    = fan_out.copy
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

process "title" {
  from    = fan_out.copy
  queue   = "title"
  message = "Document"
  handler = "Title"
}

aggregate "join" {
  from    = [process.read, process.title] # ERROR: Aggregate joins paths from different splits
  queue   = "join"
  message = "Text"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Summary"
}
