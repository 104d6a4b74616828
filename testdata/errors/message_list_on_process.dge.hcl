graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "reserve" {
  from    = start.in
  queue   = "reserve"
  message = ["Order", "Payment"] # ERROR: Invalid message type
  handler = "Reserve"
}

terminate "done" {
  from    = process.reserve
  queue   = "done"
  message = "Confirmation"
}
