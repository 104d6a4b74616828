graph "g" {
  handlers = "example.com/g/behaviour"
}

locals {
  padded = format("%-2147483647s", "x") # ERROR: Value too large
}

start "in" {}

process "work" {
  from    = start.in
  queue   = local.padded
  message = "Job"
  handler = "Work"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
