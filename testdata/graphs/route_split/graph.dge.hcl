# A route inside a split: each page of a document takes the path of its
# kind, and the paths merge before the gather, which every page reaches.
graph "pages" {
  handlers = "example.com/pages/behaviour"
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

process "image" {
  from    = route.by_kind
  when    = "*"
  queue   = "image"
  message = "Page"
  handler = "Image"
}

process "index" {
  from    = [process.text, process.image]
  queue   = "index"
  message = "Indexed"
  handler = "Index"
}

gather "collect" {
  from    = process.index
  over    = split.pages
  queue   = "collect"
  message = "Indexed"
  handler = "Collect"
}

terminate "out" {
  from    = gather.collect
  queue   = "out"
  message = "Book"
}
