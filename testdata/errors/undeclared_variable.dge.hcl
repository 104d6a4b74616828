graph "g" {
  handlers = "example.com/g/behaviour"
}

start "in" {}

process "work" {
  from    = start.in
  queue   = "${var.prefx}work" # ERROR: Reference to undeclared input variable
  message = "Job"
  handler = "Work"
}

variable "prefix" {
  default = "p_"
}

terminate "out" {
  from    = process.work
  queue   = "out"
  message = "Result"
}
