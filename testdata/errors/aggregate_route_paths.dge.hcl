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

process "other" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Doc"
  handler = "Other"
}

aggregate "join" {
  from = [process.invoice,
    process.other] # ERROR: Aggregate joins paths a run never takes together
  queue   = "join"
  message = "Filed"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}
