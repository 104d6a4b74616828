graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = local.a
  message = "Job"
  handler = "Work"
}

locals {
  a = local.b
  b = "${local.a}x" # ERROR: Cycle in local values
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
