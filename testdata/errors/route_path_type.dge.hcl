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
  message = "Invoice" # ERROR: Message type mismatch
}

terminate "others" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Doc"
}
