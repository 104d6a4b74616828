graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {
  queue = "in" # ERROR: Unsupported argument
}

terminate "out" {
  from    = start.in
  queue   = "out"
  message = "Result"
}
