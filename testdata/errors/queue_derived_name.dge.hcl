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

process "more" {
  from    = process.work
  queue   = "work.dead" # ERROR: Invalid queue name
  message = "Job"
  handler = "More"
}

terminate "out" {
  from    = process.more
  queue   = "out"
  message = "Result"
}
