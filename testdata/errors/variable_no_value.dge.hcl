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

variable "vhost" { # ERROR: No value for required variable
  type = string
}

broker {
  vhost = var.vhost
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
