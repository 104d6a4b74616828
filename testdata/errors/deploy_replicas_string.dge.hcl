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
    max_replicas = "many" # ERROR: Incorrect value type
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
