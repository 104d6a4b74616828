graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Doc"
}

route "by_kind" {
  from    = fan_out.copy
  queue   = "docs"
  message = "Doc"
  handler = "Kind"
}

process "check" {
  from    = fan_out.copy
  queue   = "check"
  message = "Doc"
  handler = "Check"
}

terminate "invoices" {
  from    = [route.by_kind, process.check] # ERROR: Route path with other inputs
  when    = "invoice"
  queue   = "invoices"
  message = "Doc"
}
