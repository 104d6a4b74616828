graph { # ERROR: Missing name for graph
  handlers = "example.com/g/behaviour"
}

start "in" {}

terminate "out" {
  from    = start.in
  queue   = "out"
  message = "Result"
}
