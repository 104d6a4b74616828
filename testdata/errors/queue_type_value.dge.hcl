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

broker {
  queue_type = "stream" # ERROR: Invalid queue type
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
