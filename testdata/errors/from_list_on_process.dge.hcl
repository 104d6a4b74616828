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

terminate "out" {
  from    = [process.work] # ERROR: Invalid from
  queue   = "out"
  message = "Result"
}
