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

process "invoice" {
  from    = route.by_kind
  when    = "invoice"
  queue   = "invoices"
  message = "Doc"
  handler = "Invoice"
}

process "other" { # ERROR: Node feeds nothing
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Doc"
  handler = "Other"
}

terminate "out" {
  from = [process.invoice,
    process.invoice] # ERROR: Duplicate merge input
  queue   = "out"
  message = "Result"
}
