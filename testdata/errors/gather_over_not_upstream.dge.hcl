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

gather "summary" {
  from    = split.pages
  over    = split.pages
  queue   = "summary"
  message = "Page"
  handler = "Summarise"
}

terminate "out" {
  from    = gather.summary
  queue   = "out"
  message = "Summary"
}

process "title" {
  from    = fan_out.copy
  queue   = "title"
  message = "Document"
  handler = "Heading"
}

gather "titles" {
  from    = process.title
  over    = split.pages # ERROR: Gather over a split not on its path # ERROR: Split gathered twice
  queue   = "titles"
  message = "Title"
  handler = "Headings"
}

terminate "titled" {
  from    = gather.titles
  queue   = "titled"
  message = "Titles"
}
