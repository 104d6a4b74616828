graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

split "pages" {
  from    = start.in
  queue   = "pages"
  message = "Doc"
  handler = "Pages"
}

route "by_kind" {
  from    = split.pages
  queue   = "by_kind"
  message = "Page"
  handler = "Kind"
}

process "text" {
  from    = route.by_kind
  when    = "text"
  queue   = "text"
  message = "Page"
  handler = "Text"
}

terminate "images" {
  from    = route.by_kind # ERROR: Split never gathered
  when    = "*"
  queue   = "images"
  message = "Page"
}

gather "collect" {
  from    = process.text
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
