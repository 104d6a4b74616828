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

variable "attempts" {
  type    = integer # ERROR: Invalid type specification
  default = 3
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
