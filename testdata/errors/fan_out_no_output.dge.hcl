graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

fan_out "nowhere" { # ERROR: Node feeds nothing
  from    = process.work
  queue   = "nowhere"
  message = "Result"
}

terminate "out" {
  from    = process.work # ERROR: Too many outputs
  queue   = "out"
  message = "Result"
}
