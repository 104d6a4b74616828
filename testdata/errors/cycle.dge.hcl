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

process "a" {
  from    = process.b # ERROR: Cycle in graph
  queue   = "a"
  message = "Job"
  handler = "A"
}

process "b" {
  from    = process.a
  queue   = "b"
  message = "Job"
  handler = "B"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
