# Variables: defaults, DGE_VAR_name, -var-file and -var.
graph "vars" {
  handlers = "example.com/vars/behaviour"
}

variable "prefix" {
  type        = string
  default     = "dev_"
  description = "Prepended to every queue name."
}

variable "vhost" {
  description = "No default: must be passed."
}

variable "attempts" {
  type    = number
  default = 5
}

variable "tuning" {
  type = object({
    prefetch    = number
    concurrency = optional(number, 2)
  })
  default = { prefetch = 10 }
}

variable "password" {
  type      = string
  default   = ""
  sensitive = true
}

broker {
  vhost    = var.vhost
  password = var.password
}

start "in" {}

process "work" {
  from         = start.in
  queue        = "${var.prefix}work"
  message      = "Job"
  handler      = "Work"
  max_attempts = var.attempts
  prefetch     = var.tuning.prefetch
  concurrency  = var.tuning.concurrency
}

terminate "out" {
  from    = process.work
  queue   = "${var.prefix}out"
  message = "Result"
}
