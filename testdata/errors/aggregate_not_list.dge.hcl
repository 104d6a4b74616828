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

aggregate "join" {
  from    = process.work # ERROR: Invalid from
  queue   = "join"
  message = "Result"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}
