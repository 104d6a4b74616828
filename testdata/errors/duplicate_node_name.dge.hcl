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

poll "work" { # ERROR: Duplicate node name
  from     = process.work
  queue    = "check"
  message  = "Job"
  handler  = "Check"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
