graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" { # ERROR: Node feeds nothing
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}

variable "upstream" {
  default = "work"
}

terminate "out" {
  from    = var.upstream # ERROR: Invalid from reference
  queue   = "out"
  message = "Result"
}
