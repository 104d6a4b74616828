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

aggregate "join" {
  from    = [process.work,
    process.work] # ERROR: Duplicate aggregate input
  queue   = "join"
  message = "Result"
  handler = "Join"
}

terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "Result"
}
