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

variable "v" {
  default = "a"
}

variable "v" { # ERROR: Duplicate variable
  default = "b"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
