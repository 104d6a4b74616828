graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {
  deploy { # ERROR: Unexpected deploy block
    max_replicas = 2
  }
}

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
