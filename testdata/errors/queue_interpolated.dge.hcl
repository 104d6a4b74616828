graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "${var.prefix}work" # ERROR: Invalid queue name
  message = "Job"
  handler = "Work"
}

variable "prefix" {
  default = "amq."
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
