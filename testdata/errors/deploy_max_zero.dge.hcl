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
    max_replicas = 0 # ERROR: Number out of range
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
