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
  from    = [process.work] # ERROR: Too few merge inputs
  queue   = "out"
  message = "Result"
}
