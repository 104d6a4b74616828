graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

fan_out "split" {
  from    = start.in
  queue   = "split"
  message = "Order"
}

process "reserve" {
  from    = fan_out.split
  queue   = "reserve"
  message = "Order"
  handler = "Reserve"
}

process "charge" {
  from    = fan_out.split
  queue   = "charge"
  message = "Order"
  handler = "Charge"
}

aggregate "confirm" {
  from = [process.reserve, process.charge]
  queue = "confirm"
  message = [
    "Reservation",
    "pay-ment", # ERROR: Invalid message type
  ]
  handler = "Confirm"
}

terminate "done" {
  from    = aggregate.confirm
  queue   = "done"
  message = "Confirmation"
}
