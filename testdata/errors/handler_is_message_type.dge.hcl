graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "tax" {
  from    = start.in
  queue   = "orders"
  message = "Order"
  handler = "Tax" # ERROR: Function named like a message type
}

terminate "out" {
  from    = process.tax
  queue   = "taxed"
  message = "Tax"
}
