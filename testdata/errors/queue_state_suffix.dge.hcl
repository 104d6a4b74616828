graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work.state" # ERROR: Invalid queue name
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
