graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
  retry = "1500us" # ERROR: Invalid duration
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
