# Locals (several blocks, referring to each other in any order), functions
# and env().
graph "locals" {
  handlers = "example.com/locals/behaviour"
}

locals {
  queue_prefix = "${local.env_name}_${var.team}"
  names        = [for n in split(",", "in,out") : "${local.queue_prefix}.${n}"]
}

locals {
  env_name = lower(env("DGE_ENVIRONMENT", "dev"))
  retry    = format("%ds", max(3, var.min_retry_seconds))
}

variable "team" {
  default = "Core"
}

variable "min_retry_seconds" {
  type    = number
  default = 1
}

broker {
  amqp_url = env("DGE_AMQP_URL")
}

start "in" {}

process "work" {
  from    = start.in
  queue   = local.names[0]
  message = "Job"
  handler = "Work"
  retry   = local.retry
}

terminate "out" {
  from    = process.work
  queue   = upper(local.names[1])
  message = "Result"
}
