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

process "check" { # ERROR: Node feeds nothing
  from    = start.in # ERROR: Too many outputs
  queue   = "check"
  message = "Job"
  handler = "Check"
}

fan_out "copy" {
  from    = [process.work, process.check] # ERROR: Invalid from
  queue   = "copy"
  message = "Job"
}

terminate "a" {
  from    = fan_out.copy
  queue   = "a"
  message = "Job"
}

terminate "b" {
  from    = fan_out.copy
  queue   = "b"
  message = "Job"
}
