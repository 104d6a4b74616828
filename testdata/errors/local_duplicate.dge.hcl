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

locals {
  a = "x"
}

locals {
  a = "y" # ERROR: Duplicate local value
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
