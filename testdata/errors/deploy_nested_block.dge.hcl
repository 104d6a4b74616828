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
    resources { # ERROR: Unsupported block type
      cpu = "500m"
    }
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
