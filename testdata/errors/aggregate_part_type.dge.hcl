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

aggregate "confirm" {
  from = [process.reserve,
    fan_out.split] # ERROR: Aggregate part type mismatch
  queue   = "confirm"
  message = ["Reservation", "Payment"]
  handler = "Confirm"
}

terminate "done" {
  from    = aggregate.confirm
  queue   = "done"
  message = "Confirmation"
}
