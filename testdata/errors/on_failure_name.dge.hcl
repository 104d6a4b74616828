graph "g" {
  handlers   = "example.com/g/behaviour"
  on_failure = "func" # ERROR: Invalid function name
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
