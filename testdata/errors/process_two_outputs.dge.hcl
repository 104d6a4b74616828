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

terminate "also" {
  from    = process.work
  queue   = "also"
  message = "Result"
}

terminate "out" {
  from    = process.work # ERROR: Too many outputs
  queue   = "out"
  message = "Result"
}
