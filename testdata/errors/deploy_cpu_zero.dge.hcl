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
    cpu = "0m" # ERROR: Invalid quantity
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
