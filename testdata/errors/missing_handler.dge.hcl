graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" { # ERROR: Missing required argument
  from    = start.in
  queue   = "work"
  message = "Job"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
