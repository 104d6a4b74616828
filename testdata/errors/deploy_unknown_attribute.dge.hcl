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
    max_replica = 4 # ERROR: Unsupported argument
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
