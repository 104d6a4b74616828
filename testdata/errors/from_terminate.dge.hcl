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

terminate "early" {
  from    = process.work
  queue   = "early"
  message = "Job"
}

terminate "out" {
  from    = terminate.early # ERROR: Reference to a terminate node
  queue   = "out"
  message = "Result"
}
