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

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}

moved {
  from = "work" # ERROR: Moved source still in the graph
  to   = "out"
}
