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

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}

moved {
  from = "jobs.retry" # ERROR: Invalid queue name
  to   = "work"
}
