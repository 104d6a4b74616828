graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

route "by_kind" {
  from    = start.in
  queue   = "docs"
  message = "Doc"
  handler = "Kind"
}

terminate "invoices" {
  from    = route.by_kind
  when    = "invoice"
  queue   = "invoices"
  message = "Doc"
}

terminate "others" { # ERROR: Missing required argument
  from    = route.by_kind
  queue   = "others"
  message = "Doc"
}
