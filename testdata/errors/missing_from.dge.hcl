graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" { # ERROR: Node feeds nothing
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

terminate "out" { # ERROR: Missing required argument
  queue   = "out"
  message = "Result"
}
