graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"

  deploy "work" { # ERROR: Extraneous label for deploy
    max_replicas = 2
  }
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
