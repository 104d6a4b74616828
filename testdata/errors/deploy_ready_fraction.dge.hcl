graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"

  deploy {
    ready_per_replica = 2.5 # ERROR: Invalid number
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
