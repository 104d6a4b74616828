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

process "again" {
  from    = process.again # ERROR: Cycle in graph
  queue   = "again"
  message = "Job"
  handler = "Again"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
