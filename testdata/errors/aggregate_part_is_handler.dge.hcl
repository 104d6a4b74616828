graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "copy" {
  from    = start.in
  queue   = "copy"
  message = "Order"
}

process "price" {
  from    = fan_out.copy
  queue   = "price"
  message = "Order"
  handler = "Quote"
}

process "tax" {
  from    = fan_out.copy
  queue   = "tax"
  message = "Order"
  handler = "Assess"
}

aggregate "total" {
  from    = [process.price, process.tax]
  queue   = "total"
  message = ["Price", "Levy"]
  handler = "Sum" # ERROR: Function named like a message type
}

terminate "out" {
  from    = aggregate.total
  queue   = "out"
  message = "Sum"
}
