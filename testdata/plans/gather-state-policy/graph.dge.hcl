# The split/gather graph applied, then a policy of the operators that gives
# every .state queue a message-ttl and an operator policy that caps them
# (captured from RabbitMQ 3.10.8): both are errors about the checkpoints.
graph "fib" {
  handlers = "example.com/fib/behaviour"
}

broker {
  vhost = var.vhost
}

variable "vhost" {
  default = "/"
}

start "in" {}

split "numbers" {
  from    = start.in
  queue   = "numbers"
  message = "Range"
  handler = "Numbers"
}

process "fib" {
  from    = split.numbers
  queue   = "fib"
  message = "Number"
  handler = "FibAt"
}

gather "sum" {
  from    = process.fib
  over    = split.numbers
  queue   = "sum"
  message = "Number"
  handler = "Sum"
  zero    = "NewTotal"
  timeout = "30m"
}

terminate "total" {
  from    = gather.sum
  queue   = "total"
  message = "Total"
}
