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

terminate "bills" {
  from    = route.by_kind
  when    = "invoice" # ERROR: Duplicate route label
  queue   = "bills"
  message = "Doc"
}
