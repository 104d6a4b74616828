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
    min_replicas = 3 # ERROR: Invalid replica range
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
