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
  type    = number
  default = "many" # ERROR: Invalid value for variable
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
