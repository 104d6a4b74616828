graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "Work-1" { # ERROR: Invalid node name
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.Work-1
  queue   = "out"
  message = "Result"
}
