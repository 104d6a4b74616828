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

graph "h" { # ERROR: Duplicate graph block
  handlers = "example.com/h/behaviour"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
