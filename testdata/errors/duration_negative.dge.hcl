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

poll "check" {
  from     = process.work
  queue    = "check"
  message  = "Result"
  handler  = "Check"
  interval = "1s"
  timeout  = "-5m" # ERROR: Invalid duration
}

terminate "out" {
  from    = poll.check
  queue   = "out"
  message = "Result"
}
