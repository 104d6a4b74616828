graph "g" { # ERROR: Missing terminate node
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" { # ERROR: Node feeds nothing
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}
