graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Doc"
}

split "pages" {
  from    = fan_out.copy
  queue   = "pages"
  message = "Doc"
  handler = "Pages"
}

process "whole" {
  from    = fan_out.copy
  queue   = "whole"
  message = "Doc"
  handler = "Whole"
}

process "page" {
  from    = split.pages
  queue   = "page"
  message = "Page"
  handler = "OnePage"
}

process "both" {
  from = [process.whole,
    process.page] # ERROR: Merge joins paths from different splits
  queue   = "both"
  message = "Page"
  handler = "Both"
}

gather "collect" {
  from    = process.both
  over    = split.pages
  queue   = "collect"
  message = "Page"
  handler = "Collect"
}

terminate "out" {
  from    = gather.collect
  queue   = "out"
  message = "Result"
}
