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

process "invoice" {
  from    = route.by_kind
  when    = "invoice"
  queue   = "invoices"
  message = "Doc"
  handler = "Invoice"
}

process "receipt" {
  from    = route.by_kind
  when    = "receipt"
  queue   = "receipts"
  message = "Doc"
  handler = "Receipt"
}

terminate "others" {
  from    = route.by_kind
  when    = "*"
  queue   = "others"
  message = "Doc"
}

process "file" {
  from    = [process.invoice, process.receipt]
  queue   = "file"
  message = "Doc"
  handler = "File"
}

process "check" {
  from    = fan_out.copy
  queue   = "check"
  message = "Doc"
  handler = "Check"
}

aggregate "join" {
  from = [process.check,
    process.file] # ERROR: Aggregate joins a path a run may not take
  queue   = "join"
  message = "Filed"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}
