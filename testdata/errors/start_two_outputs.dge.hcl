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

process "other" {
  from    = start.in # ERROR: Too many outputs
  queue   = "other"
  message = "Job"
  handler = "Other"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}

terminate "other_out" {
  from    = process.other
  queue   = "other_out"
  message = "Result"
}
