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
  work_exchange  = "g.x"
  retry_exchange = "g.x" # ERROR: Duplicate exchange name
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
